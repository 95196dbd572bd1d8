//! Each way a credential travels, accepted; the welcome frame says which.

use crate::support::*;
use serde_json::{Value, json};

async fn welcome_of(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Value {
    let (mut ws, _) = server.ws(path, headers).await.expect("101");
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["sub"], "alice");
    assert!(welcome["exp"].as_i64().unwrap_or(0) > server.now());
    assert_eq!(welcome["claims"]["sub"], "alice");
    welcome
}

#[tokio::test]
async fn query_token() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let w = welcome_of(&server, &format!("/ws?token={access}"), &[]).await;
    assert_eq!(w["credential"], "query");
}

#[tokio::test]
async fn authorization_header() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let w = welcome_of(&server, "/ws", &[("authorization", &format!("Bearer {access}"))]).await;
    assert_eq!(w["credential"], "header");
}

#[tokio::test]
async fn subprotocol() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let w = welcome_of(
        &server,
        "/ws",
        &[("sec-websocket-protocol", &format!("wsauth, bearer.{access}"))],
    )
    .await;
    assert_eq!(w["credential"], "subprotocol");
}

#[tokio::test]
async fn cookie_and_csrf_with_allowed_origin() {
    let server = TestServer::start().await;
    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_access_token");
    let w = welcome_of(
        &server,
        &format!("/ws?csrf_token={csrf}"),
        &[("cookie", &cookie_header(&cookies)), ("origin", &server.origin())],
    )
    .await;
    assert_eq!(w["credential"], "cookie");
    assert_eq!(w["claims"]["csrf"], csrf);
}

#[tokio::test]
async fn one_time_ticket_requested_with_a_bearer_or_a_cookie() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    let w = welcome_of(&server, &format!("/ws?ticket={ticket}"), &[]).await;
    assert_eq!(w["credential"], "ticket");

    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_access_token");
    let no_csrf = server
        .http
        .post(server.url("/auth/ws-ticket"))
        .header("cookie", cookie_header(&cookies))
        .send()
        .await
        .expect("post");
    assert_eq!(no_csrf.status(), 403);
    let r = server
        .http
        .post(server.url("/auth/ws-ticket"))
        .header("cookie", cookie_header(&cookies))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(body["expires_in"].as_i64().is_some_and(|s| (1..=30).contains(&s)));
    welcome_of(&server, &format!("/ws?ticket={}", str_of(&body, "ticket")), &[]).await;
}

#[tokio::test]
async fn socket_commands_echo_whoami_and_errors() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let data = json!({"nested": [1, "two", null], "n": 3.5});
    send_json(&mut ws, json!({"type": "echo", "data": data})).await;
    assert_eq!(next_json(&mut ws).await, json!({"type": "echo", "data": data}));
    send_json(&mut ws, json!({"type": "whoami"})).await;
    let who = next_json(&mut ws).await;
    assert_eq!(who["type"], "whoami");
    assert_eq!(who["claims"]["sub"], "alice");
    send_json(&mut ws, json!({"type": "launch"})).await;
    assert_eq!(next_json(&mut ws).await["error"], "unknown_command");
    ws_send_text(&mut ws, "{not json").await;
    assert_eq!(next_json(&mut ws).await["error"], "invalid_json");
    ws_send_text(&mut ws, "[1,2]").await;
    assert_eq!(next_json(&mut ws).await["error"], "invalid_json");
    // Still alive afterwards.
    send_json(&mut ws, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut ws).await["data"], 1);
}

async fn ws_send_text(ws: &mut Ws, text: &str) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(text)).await.expect("send");
}
