//! Settings under their old names: `[limits] auth_timeout_ms` (milliseconds)
//! is now `auth_timeout` (seconds). The old name still works, from the file
//! or the environment, and the server says at start what to write instead.

use crate::binary::{spawn_with_env, terminate};
use crate::support::*;
use std::time::Duration;

const WARNING: &str = "limits.auth_timeout_ms is deprecated: set limits.auth_timeout instead";

/// Well under the default auth timeout (5 s) and well over the 0.3 s set.
const SOONER_THAN_THE_DEFAULT: Duration = Duration::from_millis(2500);

/// Starts the binary with `toml` as its file and `env`, opens a
/// first-message socket that never authenticates, and returns how it was
/// closed (sooner than the default timeout would close it) and the
/// server's logs.
async fn unauthenticated_close(toml: &str, env: &[(&str, &str)]) -> ((u16, String), String) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("wsauth.toml");
    std::fs::write(&file, toml).expect("config file");
    let file = file.display().to_string();
    let args = ["--config", &file, "--listen", "127.0.0.1:0", "--hmac-secret", SECRET];
    let mut running = spawn_with_env(dir.path(), &args, env);
    let url = format!("{}/ws/deferred", running.ws_url());
    let (mut ws, _) = connect(&url, &[]).await.expect("101");
    let close = tokio::time::timeout(SOONER_THAN_THE_DEFAULT, next_close(&mut ws))
        .await
        .expect("closed by the configured timeout, not the default one");
    terminate(&mut running.child);
    (close, running.logs.join().expect("logs"))
}

#[tokio::test]
async fn auth_timeout_ms_in_the_file_still_works_and_is_warned_about() {
    let (close, logs) = unauthenticated_close("[limits]\nauth_timeout_ms = 300\n", &[]).await;
    assert_eq!(close, (4408, "authentication timeout".to_owned()));
    assert!(logs.contains(WARNING), "{logs}");
}

#[tokio::test]
async fn auth_timeout_ms_in_the_environment_still_works_and_is_warned_about() {
    let env = [("WSAUTH_LIMITS_AUTH_TIMEOUT_MS", "300")];
    let (close, logs) = unauthenticated_close("", &env).await;
    assert_eq!(close.0, 4408);
    assert!(logs.contains(WARNING), "{logs}");
}

#[tokio::test]
async fn auth_timeout_in_seconds_is_taken_without_a_warning() {
    let (close, logs) = unauthenticated_close("[limits]\nauth_timeout = 0.3\n", &[]).await;
    assert_eq!(close.0, 4408);
    assert!(!logs.contains("deprecated"), "{logs}");
    let env = [("WSAUTH_LIMITS_AUTH_TIMEOUT", "0.3")];
    let (close, logs) = unauthenticated_close("", &env).await;
    assert_eq!(close.0, 4408);
    assert!(!logs.contains("deprecated"), "{logs}");
}
