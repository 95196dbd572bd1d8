//! The admin API and the `wsauth user` commands, against the real server:
//! the key, paging, revoke, disable as a standing block, delete keeping
//! revocations, and command-line changes reaching a running server.

use serde_json::{Value, json};
use std::time::Duration;

use crate::support::*;

const KEY: &str = "an-admin-key-that-is-long-enough-0123456789";

async fn admin_server() -> TestServer {
    TestServer::start_config(|c| {
        c.admin_api_key = Some(KEY.into());
        c.limits.password_rate = 0.0;
    })
    .await
}

async fn admin(server: &TestServer, method: &str, path: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    server.http.request(method, server.url(path)).bearer_auth(KEY).send().await.expect("send")
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_key_and_refuses_a_wrong_one() {
    let off = TestServer::start().await;
    let r = off.http.get(off.url("/admin/users")).bearer_auth(KEY).send().await.expect("send");
    assert_eq!(r.status(), 404);
    let server = admin_server().await;
    for auth in [None, Some("Bearer wrong-key"), Some(&format!("Basic {KEY}")[..])] {
        let mut req = server.http.get(server.url("/admin/users"));
        if let Some(value) = auth {
            req = req.header("authorization", value);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.expect("json")["error"], "admin_unauthorized");
    }
    assert_eq!(admin(&server, "GET", "/admin/users").await.status(), 200);
}

#[tokio::test]
async fn users_are_listed_in_pages_and_shown_with_their_sockets() {
    let server = admin_server().await;
    for name in ["amy", "ann", "anna", "bob", "ben"] {
        server.register(name).await;
    }
    let page: Value =
        admin(&server, "GET", "/admin/users?prefix=an&limit=1").await.json().await.expect("json");
    assert_eq!(page["users"][0]["username"], "ann");
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    let page: Value =
        admin(&server, "GET", &format!("/admin/users?prefix=an&limit=1&cursor={cursor}"))
            .await
            .json()
            .await
            .expect("json");
    assert_eq!(page["users"][0]["username"], "anna");
    // The last page says so with `null`, as the docs show, rather than
    // leaving the key out.
    assert_eq!(page.get("next_cursor"), Some(&Value::Null), "{page}");
    let all: Value = admin(&server, "GET", "/admin/users").await.json().await.expect("json");
    assert_eq!(all["users"].as_array().map(Vec::len), Some(5));
    let (access, _) = server.login("bob").await;
    let _socket = server.ws_welcome(&access).await;
    let bob: Value = admin(&server, "GET", "/admin/users/bob").await.json().await.expect("json");
    assert_eq!((bob["live_sockets"].as_u64(), bob["disabled"].as_bool()), (Some(1), Some(false)));
    let r = admin(&server, "GET", "/admin/users/nobody").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "user_not_found");
}

#[tokio::test]
async fn revoking_a_user_closes_every_socket_and_refuses_every_token() {
    let server = admin_server().await;
    let (access, refresh) = server.login("carl").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    assert_eq!(admin(&server, "POST", "/admin/users/carl/revoke").await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
    assert_eq!(server.post_bearer("/auth/refresh", &refresh).await.status(), 401);
    // Not a standing block: a new login works.
    let (fresh, _) = server.login("carl").await;
    server.ws_welcome(&fresh).await;
}

#[tokio::test]
async fn a_disabled_user_is_blocked_everywhere_until_enabled() {
    let server = admin_server().await;
    let (access, refresh) = server.login("dora").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    assert_eq!(admin(&server, "POST", "/admin/users/dora/disable").await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
    let r = server.post("/auth/login", json!({"username": "dora", "password": PASSWORD})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "account_disabled");
    assert_eq!(server.post_bearer("/auth/refresh", &refresh).await.status(), 401);
    // Even a token minted later by a service sharing the secret is refused.
    server.clock.advance_secs(5);
    let minted = forge_at(server.now(), |c| {
        c.insert("sub".into(), json!("dora"));
    });
    rejected(server.ws(&format!("/ws?token={minted}"), &[]).await)
        .await
        .assert_401("token_revoked");
    assert_eq!(server.post_bearer("/auth/ws-ticket", &minted).await.status(), 401);
    let show: Value = admin(&server, "GET", "/admin/users/dora").await.json().await.expect("json");
    assert_eq!(show["disabled"], true);
    assert_eq!(admin(&server, "POST", "/admin/users/dora/enable").await.status(), 200);
    let (fresh, _) = server.login("dora").await;
    server.ws_welcome(&fresh).await;
}

#[tokio::test]
async fn a_deleted_user_keeps_its_revocations_from_a_namesake() {
    let server = admin_server().await;
    let (old, _) = server.login("eve").await;
    let foreign = server.forge(|c| {
        c.insert("sub".into(), json!("eve"));
    });
    assert_eq!(admin(&server, "DELETE", "/admin/users/eve").await.status(), 200);
    assert_eq!(admin(&server, "GET", "/admin/users/eve").await.status(), 404);
    server.clock.advance_secs(1);
    let (new, _) = server.login("eve").await; // registers a new account
    for token in [&old, &foreign] {
        rejected(server.ws(&format!("/ws?token={token}"), &[]).await)
            .await
            .assert_401("token_revoked");
    }
    server.ws_welcome(&new).await;
}

/// A disabled account that is deleted blocks no one: a later account of its
/// name logs in and connects on the server that deleted it, while the old
/// account's tokens stay refused.
#[tokio::test]
async fn a_deleted_disabled_user_does_not_block_a_namesake() {
    let server = admin_server().await;
    let (old, _) = server.login("fay").await;
    assert_eq!(admin(&server, "POST", "/admin/users/fay/disable").await.status(), 200);
    assert_eq!(admin(&server, "DELETE", "/admin/users/fay").await.status(), 200);
    server.clock.advance_secs(1);
    let (new, _) = server.login("fay").await; // registers a new account
    server.ws_welcome(&new).await;
    rejected(server.ws(&format!("/ws?token={old}"), &[]).await).await.assert_401("token_revoked");
}

/// Runs `wsauth --data-dir DIR user ARGS...`, with `stdin` as its input.
async fn cli(server: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all =
        vec!["--data-dir".to_owned(), server.data_dir.display().to_string(), "user".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let input = stdin.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"))
            .args(all)
            .env_remove("WSAUTH_HMAC_SECRET")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write");
        drop(pipe);
        child.wait_with_output().expect("output")
    });
    tokio::time::timeout(Duration::from_secs(60), run).await.expect("in time").expect("join")
}

#[tokio::test]
async fn command_line_changes_reach_a_running_server_within_a_second() {
    let server = TestServer::start().await;
    let (access, _) = server.login("fay").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let out = cli(&server, &["revoke", "fay"], "").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked every token of fay"));
    let closed = tokio::time::timeout(Duration::from_secs(1), next_close(&mut ws)).await;
    assert_eq!(closed.expect("closed within a second").0, 4003);

    let out = cli(&server, &["disable", "fay"], "").await;
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let minted = forge_at(server.now(), |c| {
        c.insert("sub".into(), json!("fay"));
    });
    rejected(server.ws(&format!("/ws?token={minted}"), &[]).await)
        .await
        .assert_401("token_revoked");
    let out = cli(&server, &["list"], "").await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("fay\t"), "list shows the account");
    assert!(String::from_utf8_lossy(&out.stdout).contains("disabled"));
    assert!(cli(&server, &["enable", "fay"], "").await.status.success());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A new password works and closes the sessions of the old one.
    let (access, _) = server.login("fay").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let out = cli(&server, &["passwd", "fay"], "another good password\n").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let closed = tokio::time::timeout(Duration::from_secs(1), next_close(&mut ws)).await;
    assert_eq!(closed.expect("closed within a second").0, 4003);
    let r = server
        .post("/auth/login", json!({"username": "fay", "password": "another good password"}))
        .await;
    assert_eq!(r.status(), 200);

    // Failures say so and exit non-zero.
    let out = cli(&server, &["delete", "nobody"], "").await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account named `nobody`"));
}

/// Found by schemathesis: axum's own query and path rejections answered in
/// plain text, outside the documented error body.
#[tokio::test]
async fn a_malformed_query_or_path_is_a_json_400() {
    let server = admin_server().await;
    for path in
        ["/admin/users?limit=9223372036854775808", "/admin/users?limit=ten", "/admin/users/%FF"]
    {
        let r = admin(&server, "GET", path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "bad_request", "{path}");
    }
}

/// `limit` is documented as 1 to 500: 0 was clamped to 1 and 501 to 500.
#[tokio::test]
async fn a_page_size_outside_one_to_five_hundred_is_refused() {
    let server = admin_server().await;
    server.register("amy").await;
    for limit in ["0", "-1", "501"] {
        let r = admin(&server, "GET", &format!("/admin/users?limit={limit}")).await;
        assert_eq!(r.status(), 400, "limit={limit}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "bad_request", "limit={limit}");
        assert_eq!(body["detail"], "limit must be 1 to 500", "limit={limit}");
    }
    for limit in ["1", "500"] {
        let r = admin(&server, "GET", &format!("/admin/users?limit={limit}")).await;
        assert_eq!(r.status(), 200, "limit={limit}");
    }
}
