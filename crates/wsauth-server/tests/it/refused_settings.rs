//! Settings an operator can get wrong in a way that would look fine: the
//! binary refuses to start and says what is wrong and what to do.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::binary::BIN;

/// Runs `wsauth --config <file> --listen 127.0.0.1:0` with `toml` (plus a
/// data dir) and `env`; returns its stderr once it exits. A server that
/// starts instead (prints its "listening" line) fails the test.
pub fn refused_at_start(toml: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("wsauth.toml");
    let data = dir.path().join("data").display().to_string();
    std::fs::write(&config, format!("data_dir = {data:?}\n{toml}")).expect("config");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("WSAUTH_HMAC_SECRET")
        .env_remove("WSAUTH_ADMIN_API_KEY")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsauth");
    // The first line is the "listening" line if it starts; nothing (the
    // end of its output) if it refuses.
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut first).expect("stdout");
    if !first.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("wsauth started with these settings: {first}");
    }
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn an_admin_key_of_only_spaces_is_refused_at_start() {
    let blank = " ".repeat(40);
    for env in [vec![("WSAUTH_ADMIN_API_KEY", blank.as_str())], vec![]] {
        let toml =
            if env.is_empty() { format!("admin_api_key = {blank:?}\n") } else { String::new() };
        let refused = refused_at_start(&toml, &env);
        assert!(refused.contains("admin_api_key is blank"), "{refused}");
        assert!(refused.contains("random key of at least 32 bytes"), "{refused}");
    }
    // Spaces around a key: a header can never carry them, so it could never match.
    let padded = format!("  {}  ", "k".repeat(40));
    let refused = refused_at_start(&format!("admin_api_key = {padded:?}\n"), &[]);
    assert!(refused.contains("admin_api_key begins or ends with whitespace"), "{refused}");
}

#[test]
fn a_jwks_url_with_a_user_and_password_is_refused_at_start() {
    let toml = "[[trusted_issuers]]\nissuer = \"https://idp.example\"\n\
                jwks_url = \"https://svc:hunter2-secret@idp.example/jwks\"\n\
                audiences = [\"api\"]\n";
    let refused = refused_at_start(toml, &[]);
    assert!(refused.contains("https://idp.example"), "{refused}");
    assert!(refused.contains("carries a user name or password"), "{refused}");
    assert!(refused.contains("remove them"), "{refused}");
    assert!(!refused.contains("hunter2-secret"), "the password was printed: {refused}");
}

#[test]
fn a_proxy_route_on_one_of_wsauths_own_paths_is_refused_at_start() {
    for path in ["/ws", "/openapi.json", "/HEALTHZ"] {
        let toml = format!("[[proxy]]\npath = {path:?}\nupstream = \"ws://127.0.0.1:1/x\"\n");
        let refused = refused_at_start(&toml, &[]);
        let expected = format!(
            "invalid configuration: proxy path {path:?} collides with one of wsauth's own routes"
        );
        assert!(refused.contains(&expected), "{refused}");
    }
    // From the environment too, and before any user command runs.
    let refused = refused_at_start("", &[("WSAUTH_PROXY", "/metrics=ws://127.0.0.1:1/x")]);
    assert!(refused.contains("proxy path \"/metrics\" collides"), "{refused}");
}

#[test]
fn the_auth_timeout_under_both_its_names_is_refused_at_start() {
    let both = "limits.auth_timeout_ms and limits.auth_timeout are both set";
    let refused = refused_at_start("[limits]\nauth_timeout = 2\nauth_timeout_ms = 2000\n", &[]);
    assert!(refused.contains(both), "{refused}");
    // One from the file, one from the environment.
    let env = [("WSAUTH_LIMITS_AUTH_TIMEOUT_MS", "2000")];
    let refused = refused_at_start("[limits]\nauth_timeout = 2\n", &env);
    assert!(refused.contains(both), "{refused}");
}
