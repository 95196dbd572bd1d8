//! The binary as a user meets it: zero-config start, the data directory and
//! key file, `wsauth user add`, the demo page, health, and shutdown closing
//! every socket with 1001.

use crate::binary::{BIN, Running, spawn_with_env, terminate};
use crate::support::*;
use serde_json::json;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Starts the binary and waits for its "listening" line; returns the child and base URL.
fn spawn(
    cwd: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let Running { child, url, logs } = spawn_with_env(cwd, args, &[]);
    (child, url, logs)
}

#[tokio::test]
async fn zero_config_start_creates_and_reuses_the_data_dir_and_key() {
    let cwd = tempfile::tempdir().expect("dir");
    let mut add = Command::new(BIN)
        .args(["user", "add", "bob"])
        .current_dir(cwd.path())
        .env_remove("WSAUTH_HMAC_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn user add");
    add.stdin.take().expect("stdin").write_all(b"bobs password\n").expect("write");
    assert!(add.wait().expect("wait").success());

    let (mut child, url, logs) = spawn(cwd.path(), &["--listen", "127.0.0.1:0"]);
    // The first start generated the key, readable by its owner only.
    let data = cwd.path().join("wsauth-data");
    let key = data.join("signing-key.hs256");
    assert_eq!(std::fs::metadata(&key).expect("key file").permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&key).expect("key").len(), 32);
    assert!(data.join("wsauth.db").exists());
    let key_bytes = std::fs::read(&key).expect("read key");

    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let r = http
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "bob", "password": "bobs password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    let access = str_of(&body, "access_token");
    let ws_url = url.replacen("http://", "ws://", 1);
    let (mut ws, _) = connect(&format!("{ws_url}/ws?token={access}"), &[]).await.expect("101");
    assert_eq!(next_json(&mut ws).await["type"], "welcome");

    // SIGTERM: the open socket gets a real close frame with 1001, the process exits cleanly.
    let status = terminate(&mut child);
    assert_eq!(next_close(&mut ws).await.0, 1001);
    assert!(status.success(), "{status:?}");
    let logs = logs.join().expect("logs");
    assert!(
        logs.contains("generated a new signing key") || logs.contains("using the signing key"),
        "{logs}"
    );
    assert!(!logs.contains(&access), "the token was logged");

    // Second start: same key, so the token from the first run still opens a socket.
    let (mut child, url, _logs) = spawn(cwd.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(std::fs::read(&key).expect("read key"), key_bytes);
    let ws_url = url.replacen("http://", "ws://", 1);
    let (mut ws, _) =
        connect(&format!("{ws_url}/ws?token={access}"), &[]).await.expect("101 after restart");
    assert_eq!(next_json(&mut ws).await["sub"], "bob");
    terminate(&mut child);
}

#[tokio::test]
async fn environment_configures_the_binary_and_flags_override_it() {
    let cwd = tempfile::tempdir().expect("dir");
    let env = [
        ("WSAUTH_ALLOWED_ORIGINS", "http://a.example,http://b.example"),
        ("WSAUTH_ACCESS_TTL", "60"),
        ("WSAUTH_HMAC_SECRET", SECRET),
    ];
    let Running { mut child, url, .. } =
        spawn_with_env(cwd.path(), &["--listen", "127.0.0.1:0"], &env);
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let creds = json!({"username": "dora", "password": PASSWORD});
    http.post(format!("{url}/auth/register")).json(&creds).send().await.expect("register");
    let r = http.post(format!("{url}/auth/login")).json(&creds).send().await.expect("login");
    let access = str_of(&r.json().await.expect("json"), "access_token");
    let claims = segment(&access, 1);
    assert_eq!(claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0), 60);
    // The token is signed with the secret from the environment.
    let (head, sig) = access.rsplit_once('.').expect("jwt");
    assert_eq!(sig, b64(&hmac_sha256(SECRET.as_bytes(), head.as_bytes())));
    let ws_url = format!("{}/ws?token={access}", url.replacen("http://", "ws://", 1));
    connect(&ws_url, &[("origin", "http://b.example")]).await.expect("101 for a listed origin");
    let own = url.clone();
    rejected(connect(&ws_url, &[("origin", &own)]).await).await.assert(403, "origin_not_allowed");
    terminate(&mut child);

    // A flag wins over the environment.
    let args = ["--listen", "127.0.0.1:0", "--allowed-origin", "http://c.example"];
    let Running { mut child, url, .. } = spawn_with_env(cwd.path(), &args, &env);
    let ws_url = format!("{}/ws?token={access}", url.replacen("http://", "ws://", 1));
    connect(&ws_url, &[("origin", "http://c.example")]).await.expect("101 for the flag's origin");
    rejected(connect(&ws_url, &[("origin", "http://b.example")]).await)
        .await
        .assert(403, "origin_not_allowed");
    terminate(&mut child);
}

#[tokio::test]
async fn server_shutdown_closes_every_socket_with_1001() {
    let server = TestServer::start().await;
    let (a, _) = server.login("alice").await;
    let (b, _) = server.login("bob").await;
    let (mut ws1, _) = server.ws_welcome(&a).await;
    let (mut ws2, _) = server.ws_welcome(&b).await;
    server.shutdown();
    assert_eq!(next_close(&mut ws1).await, (1001, "server shutting down".to_owned()));
    assert_eq!(next_close(&mut ws2).await.0, 1001);
}

#[tokio::test]
async fn a_client_close_gets_a_close_frame_back_not_1006() {
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
    let server = TestServer::start().await;
    let (a, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&a).await;
    ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))
        .await
        .expect("close");
    assert_eq!(next_close(&mut ws).await.0, 1000);
}

#[tokio::test]
async fn health_jwks_and_the_demo_page_are_served() {
    let server = TestServer::start().await;
    let r = server.http.get(server.url("/healthz")).send().await.expect("get");
    assert_eq!(r.json::<serde_json::Value>().await.expect("json"), json!({"status": "ok"}));
    let r = server.http.get(server.url("/")).send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    assert!(r.text().await.expect("text").contains("wsauth"));
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = wsauth_server::Config::default();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(c.data_dir, std::path::PathBuf::from("wsauth-data"));
    assert_eq!((c.access_ttl, c.refresh_ttl, c.leeway), (900, 2_592_000, 0));
    assert!(c.registration);
}

#[test]
fn configuration_layers_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("wsauth.toml");
    std::fs::write(&file, "access_ttl = 60\nrefresh_ttl = 120\nlisten = \"127.0.0.1:9001\"\n")
        .expect("write");
    let overrides = wsauth_server::Overrides { access_ttl: Some(30), ..Default::default() };
    let c = wsauth_server::Config::load(Some(&file), &overrides).expect("load");
    assert_eq!((c.access_ttl, c.refresh_ttl), (30, 120));
    assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
    std::fs::write(&file, "acces_ttl = 60\n").expect("write");
    assert!(
        wsauth_server::Config::load(Some(&file), &Default::default()).is_err(),
        "unknown keys are refused"
    );
    std::fs::write(&file, "allowed_origins = [\"http://a.example/\"]\n").expect("write");
    assert!(wsauth_server::Config::load(Some(&file), &Default::default()).is_err());
}

#[test]
fn json_logs_are_one_object_per_line_and_name_rejections_without_credentials() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, url, logs) =
        spawn(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--log-format", "json"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bogus = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXRoYXQtbGVha3M";
    runtime.block_on(async {
        let ws = url.replacen("http://", "ws://", 1);
        let refused = tokio_tungstenite::connect_async(format!("{ws}/ws?token={bogus}")).await;
        assert!(refused.is_err());
    });
    assert!(terminate(&mut child).success());
    let text = logs.join().expect("logs");
    assert!(!text.contains('\u{1b}'), "colour codes in a pipe:\n{text}");
    let mut rejection = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if value["message"] == "handshake rejected" {
            rejection = Some(value);
        }
    }
    let rejection = rejection.expect("the rejected handshake is logged at debug");
    assert_eq!(rejection["error"], "invalid_token");
    assert_eq!(rejection["credential"], "query");
    assert!(!text.contains("c2lnbmF0dXJlLXRoYXQtbGVha3M"), "the credential leaked:\n{text}");
}

#[test]
fn configurations_that_cannot_run_are_refused() {
    // Found by the server_config fuzz target: each loaded, then made every
    // socket panic (timers), refuse every message (NaN) or issue tokens that
    // never verify (lifetimes past year 9999).
    let load = |text: &str| wsauth_server::Config::from_toml(text, &Default::default());
    for text in [
        "[limits]\nmessage_rate = nan\n",
        "[limits]\nhandshake_burst = inf\n",
        "[limits]\nrefresh_rate = -1.0\n",
        "[limits]\nping_interval = 99999999\n",
        "[limits]\nauth_timeout_ms = 86400001\n",
        "[limits]\nauth_timeout = 86400.001\n",
        "[limits]\nauth_timeout = nan\n",
        "[limits]\nauth_timeout = -1\n",
        "[limits]\nexpiry_grace = -5\n",
        "access_ttl = 9223372036854775807\nmax_token_lifetime = 9223372036854775807\n",
        "refresh_ttl = 400000000\n",
        &format!("issuer = \"{}\"\n", "i".repeat(257)),
        &format!("audience = \"{}\"\n", "a".repeat(6000)),
    ] {
        assert!(load(text).is_err(), "accepted {text:?}");
    }
    for text in [
        "[limits]\nping_interval = 86400\nmessage_rate = 0\n",
        "ticket_ttl = 9223372036854775807\n",
    ] {
        assert!(load(text).is_ok(), "refused {text:?}");
    }
}
