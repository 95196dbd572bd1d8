//! Attacks on accounts, files and cookies: look-alike usernames, a flood of
//! password checks, secrets left readable by others, and cookies tossed in
//! by a sibling subdomain.

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn a_username_differing_only_by_case_is_the_same_account() {
    for database in TestDatabase::both().await {
        one_account_whatever_the_case(&database).await;
    }
}

async fn one_account_whatever_the_case(database: &TestDatabase) {
    let server = TestServer::start_on(database, |_| {}).await;
    server.register("alice").await;
    let r = server.post("/auth/register", json!({"username": "Alice", "password": PASSWORD})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "username_taken");
    // Login matches without regard to case; `sub` keeps the registered spelling.
    let r = server.post("/auth/login", json!({"username": "ALICE", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200);
    let access = str_of(&r.json::<Value>().await.expect("json"), "access_token");
    assert_eq!(segment(&access, 1)["sub"], "alice");
}

#[tokio::test]
async fn accounts_that_already_differ_only_by_case_keep_working_by_exact_spelling() {
    let server = TestServer::start().await;
    server.register("bobby").await;
    let dir = server.stop().await;
    // An older database could hold both spellings.
    let data = dir.as_ref().expect("dir").path().join("data");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("wsauth.db").display()))
        .await
        .expect("open");
    sqlx::query("INSERT INTO users (username, password_hash, created_at) SELECT 'Bobby', password_hash, 0 FROM users WHERE username = 'bobby'")
        .execute(&pool)
        .await
        .expect("insert");
    pool.close().await;
    let server =
        TestServer::start_with(config(data), dir, wsauth::ManualClock::starting_now()).await;
    for (name, status) in [("bobby", 200), ("Bobby", 200), ("BOBBY", 401)] {
        let r = server.post("/auth/login", json!({"username": name, "password": PASSWORD})).await;
        assert_eq!(r.status(), status, "{name}");
        if status == 200 {
            let access = str_of(&r.json::<Value>().await.expect("json"), "access_token");
            assert_eq!(segment(&access, 1)["sub"], name);
        }
    }
}

#[tokio::test]
async fn a_flood_of_password_checks_past_the_queue_is_refused_as_overloaded() {
    let server = TestServer::start_config(|c| {
        c.limits.password_rate = 0.0;
        c.limits.password_queue = 2;
    })
    .await;
    server.register("carol").await;
    let attempts = (0..24).map(|_| {
        server.post("/auth/login", json!({"username": "carol", "password": "wrong password"}))
    });
    let responses = futures_util::future::join_all(attempts).await;
    let mut overloaded = 0;
    for r in responses {
        match r.status().as_u16() {
            401 => {}
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                assert_eq!(r.json::<Value>().await.expect("json")["error"], "overloaded");
                overloaded += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(overloaded > 0, "24 concurrent checks fit a queue of 2");
    // The queue drains: the right password works afterwards.
    let r = server.post("/auth/login", json!({"username": "carol", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn secrets_readable_by_others_are_tightened_or_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut cfg = config(data.clone());
    cfg.hmac_secret = None; // a generated key file
    let server =
        TestServer::start_with(cfg.clone(), None, wsauth::ManualClock::starting_now()).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("wsauth.db")), 0o600);
    let key = data.join("signing-key.hs256");
    assert_eq!(mode(&key), 0o600);
    server.stop().await;
    // Loosened by someone: the owner's server tightens them again.
    for (path, loose) in [(&data, 0o755), (&key, 0o644), (&data.join("wsauth.db"), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(loose)).expect("chmod");
    }
    let server =
        TestServer::start_with(cfg.clone(), None, wsauth::ManualClock::starting_now()).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&data.join("wsauth.db")), 0o600);
    server.stop().await;
    // Owned by another user and readable by others: refuse, naming the fix.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::os::unix::fs::chown(&key, Some(65534), None).expect("chown (tests run as root)");
    let refused = wsauth_server::Application::build(cfg).await.err().expect("refused");
    let message = format!("{refused:#}");
    assert!(message.contains("chmod 600") && message.contains("signing-key"), "{message}");
}

#[tokio::test]
async fn user_add_creates_a_private_data_dir_and_database() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("fresh");
    let args =
        ["--data-dir", data.to_str().expect("utf8"), "user", "add", "dave"].map(String::from);
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("{PASSWORD}\n").as_bytes()).expect("write");
        drop(stdin);
        child.wait_with_output().expect("output")
    });
    let out =
        tokio::time::timeout(Duration::from_secs(60), out).await.expect("in time").expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("wsauth.db")), 0o600);
}

#[tokio::test]
async fn host_prefixed_cookies_carry_the_session_when_configured() {
    let server = TestServer::start_config(|c| {
        c.cookie_secure = true;
        c.cookie_host_prefix = true;
    })
    .await;
    let cookies = server.cookie_login("erin").await;
    let token = cookie(&cookies, "__Host-access_token_cookie").to_owned();
    assert!(!token.is_empty());
    let csrf = cookie(&cookies, "csrf_access_token");
    let (mut ws, _) = server
        .ws(
            &format!("/ws?csrf_token={csrf}"),
            &[("cookie", &cookie_header(&cookies)), ("origin", &server.origin())],
        )
        .await
        .expect("101");
    assert_eq!(next_json(&mut ws).await["credential"], "cookie");
    // The unprefixed name, as a sibling subdomain could set it, is not read.
    let tossed = format!("access_token_cookie={token}");
    rejected(
        server
            .ws(
                &format!("/ws?csrf_token={csrf}"),
                &[("cookie", &tossed), ("origin", &server.origin())],
            )
            .await,
    )
    .await
    .assert_401("missing_token");
    // The prefix needs Secure.
    let overrides =
        wsauth_server::Overrides { cookie_host_prefix: Some(true), ..Default::default() };
    let refused = wsauth_server::Config::load(None, &overrides).expect_err("refused");
    assert!(refused.to_string().contains("cookie_secure"), "{refused}");
}

#[tokio::test]
async fn a_cookie_tossed_by_a_sibling_subdomain_does_not_break_a_bearer_request() {
    let server = TestServer::start().await;
    let (access, _) = server.login("frank").await;
    let (other, _) = server.login("grace").await;
    let tossed = format!("access_token_cookie={other}; access_token_cookie=garbage");
    let r = server
        .http
        .get(server.url("/auth/me"))
        .bearer_auth(&access)
        .header("cookie", &tossed)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["sub"], "frank");
    let (mut ws, _) =
        server.ws(&format!("/ws?token={access}"), &[("cookie", &tossed)]).await.expect("101");
    let welcome = next_json(&mut ws).await;
    assert_eq!(
        (welcome["sub"].as_str(), welcome["credential"].as_str()),
        (Some("frank"), Some("query"))
    );
}
