//! Every setting given a wrong value, as a new operator would: the signing
//! algorithm and the keys, Redis, and each `[limits]` setting out of its
//! range. Each is refused at start with the setting named, the reason and
//! what to write instead; once, without a backtrace (`config_errors.rs`
//! runs the binary under `RUST_BACKTRACE=1`).

use crate::config_errors::{refused, run};
use crate::support::SECRET;

/// Asserts `printed` contains every one of `parts`.
fn says(printed: &str, parts: &[&str]) {
    for part in parts {
        assert!(printed.contains(part), "{part:?} not in {printed}");
    }
}

#[test]
fn an_algorithm_wsauth_does_not_sign_with_is_refused_by_name() {
    for (toml, parts) in [
        (
            "algorithm = \"RS256x\"",
            &["algorithm \"RS256x\" is refused", "did you mean \"RS256\"?"][..],
        ),
        ("algorithm = \"hs256\"", &["did you mean \"HS256\"?", "case-sensitive"]),
        ("algorithm = \"none\"", &["algorithm \"none\" is refused", "unsigned tokens are never"]),
        ("algorithm = \"XYZ\"", &["the algorithms are HS256, EdDSA, ES256, RS256, PS256"]),
        ("algorithm = \"RS256\"", &["algorithm \"RS256\" needs private_key_file"]),
    ] {
        says(&refused(&[], &format!("{toml}\n"), &[]), parts);
    }
    let printed = refused(&[], "", &[("WSAUTH_ALGORITHM", "none")]);
    says(&printed, &["algorithm \"none\" is refused"]);
}

/// Each of these once started, one key silently outranking the other.
#[test]
fn a_secret_with_another_algorithm_or_a_key_file_is_refused() {
    let secret = format!("hmac_secret = {SECRET:?}\n");
    let printed = refused(&[], &format!("{secret}algorithm = \"EdDSA\"\n"), &[]);
    says(&printed, &["algorithm \"EdDSA\" cannot sign with hmac_secret", "algorithm = \"HS256\""]);
    let both = format!("{secret}private_key_file = \"k.pem\"\nalgorithm = \"EdDSA\"\n");
    says(&refused(&[], &both, &[]), &["hmac_secret and private_key_file are both set"]);
    let printed = refused(&[], "hmac_secret = \"short\"\n", &[]);
    says(&printed, &["hmac_secret is too weak (5 bytes)", "at least 32 random bytes"]);
    let previous =
        format!("{secret}[[previous_keys]]\nprivate_key_file = \"k.pem\"\nvalid_until = 1\n");
    says(&refused(&[], &previous, &[]), &["[[previous_keys]]", "needs the algorithm of its key"]);
}

#[test]
fn a_key_file_that_is_not_the_key_says_what_it_holds() {
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let rsa = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wsauth/tests/fixtures/rsa2048.pem"
    ))
    .expect("rsa fixture");
    let cases = [
        (dir.path().join("missing.pem").display().to_string(), "cannot be read: No such file"),
        (dir.path().display().to_string(), "cannot be read: Is a directory"),
        (
            write("text.pem", "hello\n"),
            "is not a PEM file: expected a PKCS#8 PEM EdDSA private key",
        ),
        (write("public.pem", &ec.public_key_pem()), "holds a public key or certificate"),
        (
            write("ec.pem", &ec.serialize_pem()),
            "holds an ES256 key, not EdDSA: set algorithm = \"ES256\"",
        ),
        (
            write("rsa.pem", &rsa),
            "holds an RSA key, not EdDSA: set algorithm = \"RS256\" or \"PS256\"",
        ),
    ];
    for (path, reason) in cases {
        let toml = format!("private_key_file = {path:?}\nalgorithm = \"EdDSA\"\n");
        says(&refused(&[], &toml, &[]), &[&format!("private_key_file {path} "), reason]);
    }
    let toml = format!("private_key_file = {:?}\n", write("ok.pem", &ec.serialize_pem()));
    says(&refused(&[], &toml, &[]), &["private_key_file needs algorithm set to its key's"]);
}

#[test]
fn a_redis_url_that_cannot_work_is_refused_without_printing_it() {
    let secret = format!("hmac_secret = {SECRET:?}\n");
    for (url, reason) in [
        ("http://127.0.0.1:6379", "redis_url has the scheme `http://`"),
        ("127.0.0.1:6379", "redis_url is not a URL"),
        ("", "redis_url is not a URL"),
        ("rediss://:hunter2@r.example", "redis_url uses TLS (rediss://)"),
        ("redis://:hunter2@127.0.0.1:99999", "redis_url cannot be read"),
    ] {
        let printed = refused(&[], &format!("{secret}redis_url = {url:?}\n"), &[]);
        says(&printed, &[reason, "redis://[USER:PASSWORD@]HOST[:PORT][/DB]"]);
        assert!(!printed.contains("hunter2"), "{printed}");
    }
    // Nothing listens on port 1: said at once, with the address and the cause.
    let printed =
        refused(&[], &format!("{secret}redis_url = \"redis://:hunter2@127.0.0.1:1\"\n"), &[]);
    says(&printed, &["cannot reach Redis at 127.0.0.1:1 (redis_url)", "Connection refused"]);
    assert!(!printed.contains("hunter2"), "{printed}");
    for prefix in ["", "a b", &"x".repeat(65)] {
        let printed = refused(&[], &format!("redis_prefix = {prefix:?}\n"), &[]);
        says(
            &printed,
            &[&format!("redis_prefix {prefix:?} is refused"), "1 to 64 printable ASCII"],
        );
    }
}

#[test]
fn each_limit_out_of_its_range_is_refused_by_name() {
    for (setting, value, reason) in [
        ("connection_rate", "-1", "must be a number of at least 0"),
        ("connection_burst", "-1", "must be a number of at least 1"),
        ("message_burst", "0", "must be a number of at least 1"),
        ("password_burst", "0.5", "must be a number of at least 1"),
        ("ping_interval", "0", "must be 1 to 86400 seconds"),
        ("pong_timeout", "0", "must be 1 to 86400 seconds"),
        ("write_timeout", "86401", "must be 1 to 86400 seconds"),
        ("expiry_grace", "-1", "must be at least 0 and at most a day"),
        ("max_message_size", "1023", "must be at least 1024 bytes"),
        ("read_buffer_size", "0", "must be at least 128 bytes"),
        ("outbound_queue", "0", "must be at least 1"),
        ("password_queue", "0", "must be at least 1"),
        ("max_connections_per_user", "0", "must be at least 1"),
        ("max_tickets_per_user", "0", "must be at least 1"),
        ("max_connections", "0", "must be at least 1"),
        ("message_rate", "-0.5", "must be a number of at least 0"),
        ("auth_timeout", "86400.5", "must be at least 0 and at most a day"),
    ] {
        let printed = refused(&[], &format!("[limits]\n{setting} = {value}\n"), &[]);
        says(&printed, &[&format!("limits.{setting} {reason}")]);
        // From the environment, the variable is named.
        let variable = format!("WSAUTH_LIMITS_{}", setting.to_ascii_uppercase());
        let printed = refused(&[], "", &[(&variable, value)]);
        says(&printed, &[&format!("limits.{setting} (environment variable {variable}) {reason}")]);
    }
    for (toml, parts) in [
        (
            "max_message_size = 1e300",
            &["`limits.max_message_size`", "a whole number", "not the number 1e300"][..],
        ),
        ("outbound_queue = -1", &["`limits.outbound_queue`", "0 or more, not the number -1"]),
        ("pong_timeout = \"x\"", &["`limits.pong_timeout`", "a whole number of seconds"]),
    ] {
        says(&refused(&[], &format!("[limits]\n{toml}\n"), &[]), parts);
    }
}

/// A number too large for any setting is a TOML error, which named the
/// setting as `` (an empty key).
#[test]
fn a_file_that_is_not_toml_is_named_as_the_file() {
    let printed =
        run(&["--listen", "127.0.0.1:0"], "[limits]\nexpiry_grace = 99999999999999999999\n", &[]);
    assert!(!printed.success);
    says(&printed.stderr, &["wsauth.toml is not valid TOML", "line 3", "number too large"]);
    for unwanted in ["``", "backtrace", "Caused by"] {
        assert!(!printed.stderr.contains(unwanted), "{unwanted}: {}", printed.stderr);
    }
}

/// Each of these was accepted: an origin with a path never matches a
/// browser's `Origin`, a log filter that did not parse became `info`
/// without a word, and `--access-ttl -5` was taken for a flag named `-5`.
#[test]
fn flags_given_wrong_values_are_refused_by_name() {
    for (args, parts) in [
        (
            &["--allowed-origin", "https://app.example/chat"][..],
            &["allowed origin \"https://app.example/chat\"", "without a path"][..],
        ),
        (&["--allowed-origin", "https://user@app.example"], &["without a path"]),
        (&["--log", "nonsense[[["], &["log \"nonsense[[[\" is not a log filter", "\"info\""]),
        (&["--access-ttl", "-5"], &["access_ttl must be positive"]),
        (&["--shutdown-timeout", "-1"], &["--shutdown-timeout", "a whole number of seconds"]),
    ] {
        says(&refused(args, "", &[]), parts);
    }
    let printed = refused(&[], "", &[("WSAUTH_LOG", "warn,[[")]);
    says(&printed, &["log \"warn,[[\" is not a log filter"]);
    let env = [("WSAUTH_ALLOWED_ORIGINS", "https://a.example;https://b.example")];
    says(&refused(&[], "", &env), &["origins are separated by `,`, not `;`"]);
    // A leeway of days kept every expired token valid.
    says(&refused(&[], "leeway = 999999\n", &[]), &["leeway must be 0 to 300 seconds"]);
    let printed = refused(&["--data-dir", "/proc/wsauth-nowhere"], "", &[]);
    says(&printed, &["data_dir: cannot create /proc/wsauth-nowhere"]);
}

/// `[channels]` settings are read from `WSAUTH_CHANNELS_<KEY>` as `[limits]`
/// from theirs: a wrong value names the variable, a near miss gets the name
/// meant, and one without the table's part is pointed to it.
#[test]
fn channel_settings_from_the_environment_are_named_as_limits_are() {
    let printed = refused(&[], "", &[("WSAUTH_CHANNELS_MAX_SUBSCRIPTIONS", "abc")]);
    says(&printed, &["environment variable WSAUTH_CHANNELS_MAX_SUBSCRIPTIONS", "a whole number"]);
    let printed = refused(&[], "", &[("WSAUTH_CHANNELS_MAX_SUBSCRIPTIONS", "0")]);
    says(&printed, &["[channels] max_subscriptions must be 1 to 10000"]);
    let printed = refused(&[], "", &[("WSAUTH_CHANNELS_MAX_SUBSCRIPTONS", "5")]);
    says(&printed, &["did you mean WSAUTH_CHANNELS_MAX_SUBSCRIPTIONS?"]);
    let printed = refused(&[], "", &[("WSAUTH_CHANNELS_AUTHORIZER_URL", "http://10.1.1.1/x")]);
    says(&printed, &["[channels] authorizer_url", "https:// only"]);
    let printed = run(&["user", "list"], "", &[("WSAUTH_MAX_SUBSCRIPTIONS", "5")]);
    assert!(printed.success, "{}", printed.stderr);
    let expected =
        "[channels] settings are WSAUTH_CHANNELS_<KEY>: WSAUTH_CHANNELS_MAX_SUBSCRIPTIONS";
    says(&printed.stderr, &[expected]);
}
