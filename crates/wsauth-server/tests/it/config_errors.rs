//! What an operator reads when a setting is wrong: the setting as written
//! (the file's key or the environment variable, never a flag that was not
//! passed), the file, why in words, a suggestion for a typo; once, and
//! without a backtrace even under `RUST_BACKTRACE=1`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::binary::BIN;

/// What one run of the binary printed, and whether it started serving.
pub(crate) struct Printed {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) success: bool,
}

/// Runs `wsauth ARGS` with `toml` as its file (after a data dir) and only
/// the `env` given of the `WSAUTH_*` variables, under `RUST_BACKTRACE=1`.
/// A `serve` that starts (prints its "listening" line) fails the test.
pub(crate) fn run(args: &[&str], toml: &str, env: &[(&str, &str)]) -> Printed {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("wsauth.toml");
    let data = dir.path().join("data").display().to_string();
    std::fs::write(&config, format!("data_dir = {data:?}\n{toml}")).expect("config");
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WSAUTH_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .arg("--config")
        .arg(&config)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsauth");
    let mut stdout = String::new();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    reader.read_line(&mut first).expect("stdout");
    if first.starts_with("wsauth listening") {
        let _ = child.kill();
        let _ = child.wait();
        panic!("wsauth started with these settings: {first}");
    }
    stdout.push_str(&first);
    reader.read_to_string(&mut stdout).expect("stdout");
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    Printed { stdout, stderr, success: status.success() }
}

/// The error `wsauth serve` printed when it refused to start.
pub(crate) fn refused(args: &[&str], toml: &str, env: &[(&str, &str)]) -> String {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    if args.iter().any(|arg| arg.starts_with("--listen")) {
        all.clear();
    }
    all.extend_from_slice(args);
    let printed = run(&all, toml, env);
    assert!(!printed.success, "{}", printed.stderr);
    said_once(&printed.stderr);
    printed.stderr
}

/// One error, no backtrace, no repeated cause.
pub(crate) fn said_once(stderr: &str) {
    assert!(!stderr.contains("backtrace"), "a backtrace: {stderr}");
    assert!(!stderr.contains("Caused by"), "a repeated cause: {stderr}");
    assert!(!stderr.contains("default."), "figment's profile: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(lines.len() <= 3, "more than the error: {stderr}");
}

#[test]
fn a_typo_in_the_file_names_the_key_and_the_setting_meant() {
    for (toml, typo, meant) in [
        ("acess_ttl = 600\n", "`acess_ttl`", "did you mean `access_ttl`?"),
        (
            "[limits]\nping_intervl = 5\n",
            "`ping_intervl` under [limits]",
            "did you mean `ping_interval`?",
        ),
        (
            "[[proxy]]\npath = \"/chat\"\nupstrem = \"ws://127.0.0.1:9/\"\n",
            "`upstrem` under [[proxy]]",
            "did you mean `upstream`?",
        ),
        (
            "[[trusted_issuers]]\nissuer = \"https://idp.example\"\naudience = [\"api\"]\n",
            "`audience` under [[trusted_issuers]]",
            "did you mean `audiences`?",
        ),
    ] {
        let printed = refused(&[], toml, &[]);
        assert!(printed.contains(&format!("unknown setting {typo}")), "{printed}");
        assert!(printed.contains("wsauth.toml"), "the file: {printed}");
        assert!(printed.contains(meant), "{printed}");
        assert!(!printed.contains("one of"), "every key listed: {printed}");
    }
    // Nothing close: a pointer to the documentation, not 32 keys.
    let printed = refused(&[], "colour = \"blue\"\n", &[]);
    assert!(printed.contains("unknown setting `colour`"), "{printed}");
    assert!(printed.contains("docs/configuration.md"), "{printed}");
}

#[test]
fn a_value_of_the_wrong_type_is_described_in_words() {
    for (toml, key, words) in [
        (
            "access_ttl = \"10m\"\n",
            "`access_ttl`",
            "must be a whole number of seconds, not the text \"10m\"",
        ),
        ("[limits]\nmessage_rate = \"fast\"\n", "`limits.message_rate`", "must be a number"),
        (
            "[limits]\nping_interval = -1\n",
            "`limits.ping_interval`",
            "a whole number of seconds, 0 or more",
        ),
        (
            "[[proxy]]\npath = \"/c\"\nupstream = \"ws://127.0.0.1:9/\"\nconnect_timeout = \"5s\"\n",
            "`connect_timeout` in [[proxy]]",
            "must be a whole number of seconds",
        ),
        ("[[proxy]]\npath = \"/c\"\n", "an entry of [[proxy]]", "has no `upstream`"),
        ("registration = \"yes\"\n", "`registration`", "must be true or false"),
        ("allowed_origins = \"https://a.example\"\n", "`allowed_origins`", "must be a list"),
        ("proxy = \"/chat=ws://127.0.0.1:9/\"\n", "`proxy`", "must be a list of tables, [[proxy]]"),
    ] {
        let printed = refused(&[], toml, &[]);
        assert!(printed.contains(key), "{printed}");
        assert!(printed.contains(words), "{printed}");
        for jargon in ["i64", "u64", "f64", "sequence"] {
            assert!(!printed.contains(jargon), "{jargon}: {printed}");
        }
    }
}

#[test]
fn a_list_of_tables_written_with_single_brackets_is_shown_the_double_ones() {
    let issuer = "[trusted_issuers]\nissuer = \"https://idp.example\"\naudiences = [\"api\"]\n";
    let printed = refused(&[], issuer, &[]);
    assert!(printed.contains("write [[trusted_issuers]] (two brackets)"), "{printed}");
    let proxy = "[proxy]\npath = \"/chat\"\nupstream = \"ws://127.0.0.1:9/\"\n";
    let printed = refused(&[], proxy, &[]);
    assert!(printed.contains("write [[proxy]] (two brackets)"), "{printed}");
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable_not_the_flag() {
    let printed = refused(&[], "", &[("WSAUTH_ACCESS_TTL", "10m")]);
    assert!(printed.contains("environment variable WSAUTH_ACCESS_TTL"), "{printed}");
    assert!(!printed.contains("--access-ttl"), "{printed}");
    assert!(printed.contains("a whole number of seconds"), "{printed}");
    // Given as a flag, the flag is named.
    let printed = refused(&["--access-ttl", "10m"], "", &[]);
    assert!(printed.contains("--access-ttl"), "{printed}");
    // [limits] from its variables.
    let printed = refused(&[], "", &[("WSAUTH_LIMITS_PING_INTERVAL", "soon")]);
    assert!(
        printed.contains("environment variable WSAUTH_LIMITS_PING_INTERVAL must be"),
        "{printed}"
    );
    assert!(!printed.contains("wsauth.toml"), "blamed on the file: {printed}");
}

#[test]
fn a_near_miss_of_a_variable_is_refused_with_the_name_meant() {
    for (typo, meant) in [
        ("WSAUTH_ACESS_TTL", "WSAUTH_ACCESS_TTL"),
        ("WSAUTH_LIMITS_PING_INTERVL", "WSAUTH_LIMITS_PING_INTERVAL"),
    ] {
        let printed = refused(&[], "", &[(typo, "5")]);
        assert!(
            printed.contains(&format!("{typo} is not a setting: did you mean {meant}?")),
            "{printed}"
        );
    }
}

#[test]
fn an_unknown_variable_is_warned_about_and_the_tools_own_are_not() {
    let env = [
        ("WSAUTH_COLOUR", "blue"),
        ("WSAUTH_LIMITS_COLOUR_OF_SOCKETS", "red"),
        ("WSAUTH_LEEWAY", "5"),
        ("WSAUTH_BIN", "/usr/bin/wsauth"),
        ("WSAUTH_TEST_POSTGRES", "postgres://x@127.0.0.1/t"),
        ("WSAUTH_JWKS_PYTHON", "/usr/bin/python3"),
        ("WSAUTH_ADMIN_KEY", "k"),
    ];
    let printed = run(&["user", "list"], "", &env);
    assert!(printed.success, "{}", printed.stderr);
    let logs = printed.stderr;
    assert!(logs.contains("environment variable WSAUTH_COLOUR is not read"), "{logs}");
    assert!(logs.contains("WSAUTH_LIMITS_COLOUR_OF_SOCKETS is not read"), "{logs}");
    assert!(logs.contains("leeway is set in the configuration file only"), "{logs}");
    for reserved in ["WSAUTH_BIN", "WSAUTH_TEST_POSTGRES", "WSAUTH_JWKS_PYTHON", "WSAUTH_ADMIN_KEY"]
    {
        assert!(!logs.contains(reserved), "{reserved}: {logs}");
    }
    assert!(printed.stdout.is_empty() || !printed.stdout.contains("WSAUTH_"), "{}", printed.stdout);
}

#[test]
fn proxy_routes_separated_by_semicolons_are_refused() {
    let env = [("WSAUTH_PROXY", "/a=ws://127.0.0.1:9/a;/b=ws://127.0.0.1:9/b")];
    let printed = refused(&[], "", &env);
    assert!(printed.contains("routes are separated by `,`, not `;`"), "{printed}");
    assert!(printed.contains("environment variable WSAUTH_PROXY"), "{printed}");
}

#[test]
fn addresses_networks_and_urls_say_what_is_expected() {
    let printed = refused(&["--trusted-proxy", "10.0.0.0"], "", &[]);
    assert!(printed.contains("CIDR") && printed.contains("10.0.0.0/32"), "{printed}");
    let printed = refused(&[], "trusted_proxies = [\"10.0.0.0\"]\n", &[]);
    assert!(printed.contains("`trusted_proxies`") && printed.contains("10.0.0.0/8"), "{printed}");
    let printed = refused(&["--listen", "localhost:8062"], "", &[]);
    assert!(printed.contains("IP address") && printed.contains("not looked up"), "{printed}");
    let printed = run(&[], "listen = \"localhost:8062\"\n", &[]);
    assert!(!printed.success);
    said_once(&printed.stderr);
    assert!(
        printed.stderr.contains("`listen`") && printed.stderr.contains("IP address"),
        "{}",
        printed.stderr
    );
    let printed = refused(&[], "metrics_listen = \"localhost:9000\"\n", &[]);
    assert!(printed.contains("`metrics_listen`") && printed.contains("IP address"), "{printed}");
    let printed = refused(&[], "database_url = \"sqlite://:memory:\"\n", &[]);
    assert!(printed.contains("in-memory SQLite database"), "{printed}");
    let issuer = "[[trusted_issuers]]\nissuer = \"https://idp.example\"\n\
                  jwks_url = \"http://idp.example/jwks\"\naudiences = [\"api\"]\n";
    let printed = refused(&[], issuer, &[]);
    assert!(printed.contains("https:// only") && printed.contains("loopback"), "{printed}");
}

/// `wsauth user disable nobody` said "User not found", naming no one.
#[test]
fn a_user_command_on_an_account_that_does_not_exist_names_it() {
    for command in [
        &["disable", "nobody"][..],
        &["enable", "nobody"],
        &["delete", "nobody"],
        &["revoke", "nobody"],
        &["passwd", "nobody"],
        &["roles", "nobody"],
        &["grant", "nobody", "room:*", "subscribe"],
        &["grants", "nobody"],
        &["ungrant", "nobody", "g1"],
    ] {
        let args: Vec<&str> = ["user"].iter().chain(command).copied().collect();
        let printed = run(&args, "", &[]);
        assert!(!printed.success, "{command:?}");
        said_once(&printed.stderr);
        assert!(
            printed.stderr.contains("no account named `nobody`"),
            "{command:?}: {}",
            printed.stderr
        );
    }
    let printed = run(&["user", "add", "a b"], "", &[]);
    assert!(!printed.success);
    said_once(&printed.stderr);
    assert!(printed.stderr.contains("the username `a b` is refused"), "{}", printed.stderr);
}
