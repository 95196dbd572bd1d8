//! Restarts of the real binary: SIGTERM with open sockets sends each one
//! close 1001 and the process exits within `shutdown_timeout`; after a
//! SIGTERM or a SIGKILL, a restart on the same data directory keeps every
//! revocation (logout, rotation then logout, logout-all, a disabled account,
//! a foreign token revoked by its `jti`).

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

use crate::binary::{Running, exited_within, signal, spawn_with_env, terminate};
use crate::support::*;

pub const ADMIN_KEY: &str = "an-admin-key-of-at-least-32-bytes-0123456789";

/// An HTTP client for one running server.
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
}

impl Client {
    pub fn new(server: &Running) -> Self {
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { http, url: server.url.clone() }
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.url)).json(&body).send().await.expect("post")
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        let request = self.http.post(format!("{}{path}", self.url)).bearer_auth(token);
        request.send().await.expect("post")
    }

    /// Registers (if needed) and logs in; returns (access, refresh).
    pub async fn login(&self, username: &str) -> (String, String) {
        let _ =
            self.post("/auth/register", json!({"username": username, "password": PASSWORD})).await;
        let r = self.post("/auth/login", json!({"username": username, "password": PASSWORD})).await;
        assert_eq!(r.status(), 200, "login {username}");
        pair(r).await
    }

    /// Opens `/ws?token=` and answers the status: 101 once the welcome frame
    /// arrived, else the refusal's status and error code.
    pub async fn handshake(&self, token: &str) -> (u16, String) {
        let url = format!("{}/ws?token={token}", self.url.replacen("http://", "ws://", 1));
        match connect(&url, &[]).await {
            Ok((mut ws, _)) => {
                assert_eq!(next_json(&mut ws).await["type"], "welcome");
                (101, String::new())
            }
            Err(r) => (r.status, r.body["error"].as_str().unwrap_or_default().to_owned()),
        }
    }
}

async fn pair(r: reqwest::Response) -> (String, String) {
    let body: Value = r.json().await.expect("json");
    (str_of(&body, "access_token"), str_of(&body, "refresh_token"))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// A token for `sub` minted by a service sharing the secret (no family).
fn foreign(sub: &str) -> String {
    forge_at(unix_now(), |c| {
        c.insert("sub".into(), json!(sub));
    })
}

/// Starts `wsauth serve` on `data` with the test secret and an admin key.
pub fn start(data: &Path, env: &[(&str, &str)]) -> Running {
    let data = data.to_str().expect("utf-8 path");
    let mut all = vec![
        ("WSAUTH_HMAC_SECRET", SECRET),
        ("WSAUTH_ADMIN_API_KEY", ADMIN_KEY),
        ("WSAUTH_LIMITS_PASSWORD_RATE", "0"),
        ("WSAUTH_LIMITS_HANDSHAKE_RATE", "0"),
        ("WSAUTH_LIMITS_CONNECTION_RATE", "0"),
        ("WSAUTH_LOG", "info"),
    ];
    all.extend_from_slice(env);
    let cwd = Path::new(data).parent().expect("parent");
    spawn_with_env(cwd, &["serve", "--listen", "127.0.0.1:0", "--data-dir", data], &all)
}

/// Tokens that must be refused, and tokens that must keep working.
#[derive(Default)]
pub struct Ledger {
    pub refused_access: Vec<String>,
    pub refused_refresh: Vec<String>,
    pub kept_access: Vec<String>,
    pub kept_refresh: Vec<String>,
}

/// Revokes one of each kind on a running server and writes down the outcome
/// every token must have from now on.
pub async fn revoke_one_of_each(c: &Client) -> Ledger {
    let mut ledger = Ledger::default();
    // A logout revokes that login only.
    let (out, out_refresh) = c.login("alice").await;
    let (kept, kept_refresh) = c.login("alice").await;
    assert_eq!(c.post_bearer("/auth/logout", &out).await.status(), 200);
    // A login that rotated, logged out with its newest access token.
    let (rotated_out, first_refresh) = c.login("alice").await;
    let r = c.post_bearer("/auth/refresh", &first_refresh).await;
    assert_eq!(r.status(), 200);
    let (newest, newest_refresh) = pair(r).await;
    assert_eq!(c.post_bearer("/auth/logout", &newest).await.status(), 200);
    // Log out everywhere, then a new login that keeps working.
    let (everywhere, everywhere_refresh) = c.login("bobby").await;
    assert_eq!(c.post_bearer("/auth/logout-all", &everywhere).await.status(), 200);
    let (after, after_refresh) = c.login("bobby").await;
    // A disabled account.
    let (disabled, _) = c.login("carol").await;
    let r = c.post_bearer("/admin/users/carol/disable", ADMIN_KEY).await;
    assert_eq!(r.status(), 200);
    // A token this server did not issue, logged out by its `jti`.
    let (foreign_out, foreign_kept) = (foreign("erin"), foreign("erin"));
    assert_eq!(c.post_bearer("/auth/logout", &foreign_out).await.status(), 200);

    ledger.refused_access = vec![out, rotated_out, newest, everywhere, disabled, foreign_out];
    ledger.refused_refresh = vec![out_refresh, first_refresh, newest_refresh, everywhere_refresh];
    ledger.kept_access = vec![kept, after, foreign_kept];
    ledger.kept_refresh = vec![kept_refresh, after_refresh];
    ledger
}

/// Checks every token of the ledger against a (restarted) server.
pub async fn check(c: &Client, ledger: &Ledger) {
    for token in &ledger.refused_access {
        assert_eq!(c.handshake(token).await, (401, "token_revoked".to_owned()));
    }
    for token in &ledger.kept_access {
        assert_eq!(c.handshake(token).await.0, 101);
    }
    for token in &ledger.refused_refresh {
        assert_eq!(c.post_bearer("/auth/refresh", token).await.status(), 401);
    }
    for token in &ledger.kept_refresh {
        assert_eq!(c.post_bearer("/auth/refresh", token).await.status(), 200);
    }
}

#[tokio::test]
async fn sigkill_and_a_restart_keep_every_revocation() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut server = start(&data, &[]);
    let ledger = revoke_one_of_each(&Client::new(&server)).await;
    signal(&server.child, "KILL");
    assert!(exited_within(&mut server.child, Duration::from_secs(10)).await.is_some());

    let mut restarted = start(&data, &[]);
    check(&Client::new(&restarted), &ledger).await;
    terminate(&mut restarted.child);
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_and_the_restart_keeps_revocations() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut server = start(&data, &[("WSAUTH_SHUTDOWN_TIMEOUT", "10")]);
    let client = Client::new(&server);
    let ledger = revoke_one_of_each(&client).await;
    let mut sockets = Vec::new();
    for i in 0..200 {
        let token = foreign(&format!("user{}", i % 25));
        let url = format!("{}/ws?token={token}", server.ws_url());
        let (mut ws, _) = connect(&url, &[]).await.expect("101");
        assert_eq!(next_json(&mut ws).await["type"], "welcome");
        sockets.push(ws);
    }

    signal(&server.child, "TERM");
    let closes = futures_util::future::join_all(sockets.iter_mut().map(next_close)).await;
    let status = exited_within(&mut server.child, Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(closes.len(), 200);
    for close in closes {
        assert_eq!(close, (1001, "server shutting down".to_owned()));
    }
    let logs = server.logs.join().expect("logs");
    assert!(!logs.contains("did not close within shutdown_timeout"), "{logs}");

    let mut restarted = start(&data, &[]);
    check(&Client::new(&restarted), &ledger).await;
    terminate(&mut restarted.child);
}

#[tokio::test]
async fn sockets_still_open_at_shutdown_timeout_are_dropped_and_the_process_exits() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = start(&dir.path().join("data"), &[("WSAUTH_SHUTDOWN_TIMEOUT", "1")]);
    // A client that never reads, so never answers the close frame: the
    // server waits up to 2 s for that answer, past the 1 s deadline.
    let url = format!("{}/ws?token={}", server.ws_url(), foreign("frank"));
    let (_silent, _) = connect(&url, &[]).await.expect("101");
    signal(&server.child, "TERM");
    let status = exited_within(&mut server.child, Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let logs = server.logs.join().expect("logs");
    assert!(logs.contains("did not close within shutdown_timeout"), "{logs}");
}

#[test]
fn shutdown_timeout_is_configurable_and_at_least_a_second() {
    use wsauth_server::{Config, Overrides};
    assert_eq!(Config::default().shutdown_timeout, 5);
    let flags = Overrides { shutdown_timeout: Some(30), ..Default::default() };
    assert_eq!(Config::load(None, &flags).expect("load").shutdown_timeout, 30);
    let zero = Overrides { shutdown_timeout: Some(0), ..Default::default() };
    assert!(Config::load(None, &zero).is_err());
}
