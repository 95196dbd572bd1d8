//! Channel roles and grants of local accounts as an operator sets them:
//! the admin API and the `wsauth user` commands (the real binary), their
//! answers and refusals, and a grant taken away ending a live subscription
//! while the socket stays open, whether the admin API or the command line
//! (another process, through the event log) took it.

use serde_json::{Value, json};
use std::process::Output;
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

/// An admin API call with the key (and a JSON body unless `Value::Null`).
async fn admin(server: &TestServer, method: &str, path: &str, body: Value) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server.http.request(method, server.url(path)).bearer_auth(KEY);
    if !body.is_null() {
        request = request.json(&body);
    }
    request.send().await.expect("send")
}

/// The status and JSON body of an admin API call.
async fn admin_json(server: &TestServer, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = admin(server, method, path, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `wsauth user ARGS...` on the server's database.
async fn cli(server: &TestServer, args: &[&str]) -> Output {
    let mut all =
        vec!["--data-dir".to_owned(), server.data_dir.display().to_string(), "user".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"))
            .args(all)
            .env_remove("WSAUTH_HMAC_SECRET")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run wsauth")
    });
    tokio::time::timeout(Duration::from_secs(60), run).await.expect("in time").expect("join")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The error a failing command printed.
fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    err
}

#[tokio::test]
async fn roles_are_set_and_read_through_the_admin_api() {
    let server = admin_server().await;
    server.register("alice").await;
    let path = "/admin/users/alice/roles";
    assert_eq!(admin_json(&server, "GET", path, Value::Null).await, (200, json!({"roles": []})));
    let set = admin_json(&server, "PUT", path, json!({"roles": ["mod", "member", "mod"]})).await;
    assert_eq!(set, (200, json!({"roles": ["member", "mod"]})));
    // Named as every admin route names an account: exact, or the one match.
    let read = admin_json(&server, "GET", "/admin/users/ALICE/roles", Value::Null).await;
    assert_eq!(read, (200, json!({"roles": ["member", "mod"]})));
    let too_many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
    for body in [
        json!({"roles": ["has space"]}),
        json!({"roles": [""]}),
        json!({"roles": too_many}),
        json!({"roles": "mod"}),
        json!({"roles": [], "extra": 1}),
    ] {
        let (status, answer) = admin_json(&server, "PUT", path, body.clone()).await;
        assert_eq!((status, &answer["error"]), (400, &json!("bad_request")), "{body}: {answer}");
    }
    let (_, answer) = admin_json(&server, "PUT", path, json!({"roles": ["a b"]})).await;
    assert!(answer["detail"].as_str().expect("detail").contains("role"), "{answer}");
    assert_eq!(
        admin_json(&server, "GET", path, Value::Null).await.1,
        json!({"roles": ["member", "mod"]})
    );
    assert_eq!(
        admin_json(&server, "PUT", path, json!({"roles": []})).await.1,
        json!({"roles": []})
    );
    let (status, answer) =
        admin_json(&server, "PUT", "/admin/users/nobody/roles", json!({"roles": []})).await;
    assert_eq!((status, &answer["error"]), (404, &json!("user_not_found")));
    let r = server.http.get(server.url(path)).send().await.expect("send");
    assert_eq!(r.status(), 401, "no key");
}

#[tokio::test]
async fn grants_are_added_listed_and_deleted_through_the_admin_api() {
    let server = admin_server().await;
    server.register("bob").await;
    let path = "/admin/users/bob/grants";
    let body = json!({"pattern": "room:42", "actions": ["subscribe"]});
    let (status, added) = admin_json(&server, "POST", path, body).await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_owned();
    let (status, listed) = admin_json(&server, "GET", path, Value::Null).await;
    assert_eq!(status, 200);
    let expected = json!({"grants": [{"id": id, "pattern": "room:42", "actions": ["subscribe"]}]});
    assert_eq!(listed, expected);
    for bad in [
        json!({"pattern": "room:>:x", "actions": ["subscribe"]}),
        json!({"pattern": "", "actions": ["subscribe"]}),
        json!({"pattern": "room:1", "actions": []}),
        json!({"pattern": "room:1", "actions": ["read"]}),
        json!({"pattern": "room:1"}),
    ] {
        let (status, answer) = admin_json(&server, "POST", path, bad.clone()).await;
        assert_eq!((status, &answer["error"]), (400, &json!("bad_request")), "{bad}: {answer}");
        assert!(answer["detail"].is_string());
    }
    let (_, answer) =
        admin_json(&server, "POST", path, json!({"pattern": "room:1", "actions": ["read"]})).await;
    assert!(answer["detail"].as_str().expect("detail").contains("read"), "{answer}");
    let (status, answer) = admin_json(
        &server,
        "POST",
        "/admin/users/nobody/grants",
        json!({"pattern": "room:1", "actions": ["subscribe"]}),
    )
    .await;
    assert_eq!((status, &answer["error"]), (404, &json!("user_not_found")));

    let gone = admin(&server, "DELETE", &format!("{path}/{id}"), Value::Null).await;
    assert_eq!(gone.status(), 204);
    let (status, answer) =
        admin_json(&server, "DELETE", &format!("{path}/{id}"), Value::Null).await;
    assert_eq!((status, &answer["error"]), (404, &json!("grant_not_found")));
    let long = "f".repeat(65);
    let (status, answer) =
        admin_json(&server, "DELETE", &format!("{path}/{long}"), Value::Null).await;
    assert_eq!((status, &answer["error"]), (404, &json!("grant_not_found")));
    assert_eq!(admin_json(&server, "GET", path, Value::Null).await.1, json!({"grants": []}));

    // 256 at most; the next one is refused until one goes.
    for i in 0..256 {
        let body = json!({"pattern": format!("room:{i}"), "actions": ["subscribe"]});
        assert_eq!(admin(&server, "POST", path, body).await.status(), 201, "grant {i}");
    }
    let body = json!({"pattern": "room:x", "actions": ["subscribe"]});
    let (status, answer) = admin_json(&server, "POST", path, body).await;
    assert_eq!((status, &answer["error"]), (409, &json!("too_many_grants")), "{answer}");
}

#[tokio::test]
async fn the_command_line_sets_roles_and_grants() {
    let server = TestServer::start().await;
    server.register("carol").await;
    assert_eq!(stdout(&cli(&server, &["roles", "carol"]).await), "");
    let set = stdout(&cli(&server, &["roles", "Carol", "mod", "member"]).await);
    assert!(set.contains("carol") && set.contains("member, mod"), "{set}");
    assert_eq!(stdout(&cli(&server, &["roles", "carol"]).await), "member\nmod\n");
    stdout(&cli(&server, &["roles", "carol", "--clear"]).await);
    assert_eq!(stdout(&cli(&server, &["roles", "carol"]).await), "");

    let id = stdout(&cli(&server, &["grant", "carol", "room:*", "subscribe", "presence"]).await);
    let id = id.trim();
    assert!(!id.is_empty() && !id.contains(char::is_whitespace), "{id:?}");
    let listed = stdout(&cli(&server, &["grants", "carol"]).await);
    assert_eq!(listed, format!("{id}\troom:*\tsubscribe,presence\n"));
    let deleted = stdout(&cli(&server, &["ungrant", "carol", id]).await);
    assert!(deleted.contains(id) && deleted.contains("carol"), "{deleted}");
    assert_eq!(stdout(&cli(&server, &["grants", "carol"]).await), "");

    // Failures name what was not found and what to do; no backtrace.
    let err = failure(&cli(&server, &["ungrant", "carol", id]).await);
    assert!(err.contains(id) && err.contains("wsauth user grants carol"), "{err}");
    let err = failure(&cli(&server, &["grants", "nobody"]).await);
    assert!(err.contains("nobody") && err.contains("wsauth user list"), "{err}");
    let err = failure(&cli(&server, &["grant", "carol", "room:1", "read"]).await);
    assert!(err.contains("read"), "{err}");
    let err = failure(&cli(&server, &["roles", "carol", "a b"]).await);
    assert!(err.contains("role"), "{err}");
    failure(&cli(&server, &["grant", "carol", "room:1"]).await);
}

/// A socket of `user` subscribed to `room:1` by a grant of `room:*`
/// (added through the admin API); returns it and the grant's id.
async fn subscribed_by_a_grant(server: &TestServer, user: &str) -> (Ws, String) {
    let (access, _) = server.login(user).await;
    let body = json!({"pattern": "room:*", "actions": ["subscribe"]});
    let (status, added) =
        admin_json(server, "POST", &format!("/admin/users/{user}/grants"), body).await;
    assert_eq!(status, 201, "{added}");
    let (mut ws, _) = server.ws_welcome(&access).await;
    send_json(&mut ws, json!({"type": "subscribe", "id": "1", "channel": "room:1"})).await;
    let answer = next_json(&mut ws).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    assert_eq!(answer["channel"], "room:1");
    (ws, added["id"].as_str().expect("id").to_owned())
}

/// The socket is still open and answering.
async fn still_open(ws: &mut Ws) {
    send_json(ws, json!({"type": "echo", "data": "still here"})).await;
    assert_eq!(next_json(ws).await, json!({"type": "echo", "data": "still here"}));
}

#[tokio::test]
async fn deleting_a_grant_through_the_admin_api_ends_the_subscription_it_held() {
    let server = admin_server().await;
    let (mut ws, id) = subscribed_by_a_grant(&server, "dora").await;
    let gone =
        admin(&server, "DELETE", &format!("/admin/users/dora/grants/{id}"), Value::Null).await;
    assert_eq!(gone.status(), 204);
    // Queued before the call answered: the next frame is the end.
    let ended = next_json(&mut ws).await;
    assert_eq!(
        ended,
        json!({"type": "unsubscribed", "channel": "room:1", "reason": "permission_revoked"})
    );
    still_open(&mut ws).await;
}

#[tokio::test]
async fn ungranting_on_the_command_line_ends_the_subscription_through_the_event_log() {
    let server = admin_server().await;
    let (mut ws, id) = subscribed_by_a_grant(&server, "erin").await;
    stdout(&cli(&server, &["ungrant", "erin", &id]).await);
    let ended = tokio::time::timeout(Duration::from_secs(10), next_json(&mut ws))
        .await
        .expect("the subscription ended");
    assert_eq!(
        ended,
        json!({"type": "unsubscribed", "channel": "room:1", "reason": "permission_revoked"})
    );
    still_open(&mut ws).await;
}
