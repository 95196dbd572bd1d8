//! A proxied socket's life: expiry and revocation close both sides with
//! their codes, the out-of-band refresh moves the deadline, the limits of
//! `/ws` hold, and a slow reader slows the other side instead of growing
//! the server's memory.

use crate::proxy::{next_message, proxied};
use crate::support::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const HANDLE: &str = "h4nd1e-0f-4t-least-22-chars";

async fn echo_ok(ws: &mut Ws) {
    ws.send(Message::text("still here")).await.expect("send");
    assert_eq!(next_message(ws).await, Message::text("still here"));
}

async fn proxy_refresh(server: &TestServer, access: &str, handle: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/auth/proxy/refresh"))
        .bearer_auth(access)
        .json(&json!({ "handle": handle }))
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn at_expiry_the_client_gets_4001_and_the_upstream_a_close_saying_why() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    echo_ok(&mut ws).await;
    let exp = segment(&access, 1)["exp"].as_i64().expect("exp");
    server.clock.set_secs(exp);
    assert_eq!(next_close(&mut ws).await, (4001, "token expired".to_owned()));
    assert_eq!(upstream.closes(1).await, vec![(4001, "token expired".to_owned())]);
}

#[tokio::test]
async fn logout_closes_the_client_with_4003_and_tells_the_upstream() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    echo_ok(&mut ws).await;
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    assert_eq!(next_close(&mut ws).await, (4003, "token revoked".to_owned()));
    assert_eq!(upstream.closes(1).await, vec![(4003, "token revoked".to_owned())]);
    let again = rejected(server.ws(&format!("/chat?token={access}"), &[]).await).await;
    again.assert_401("token_revoked");
}

#[tokio::test]
async fn the_out_of_band_refresh_moves_the_deadline_without_touching_the_socket() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, refresh) = server.login("alice").await;
    let path = format!("/chat?token={access}&wsauth_handle={HANDLE}");
    let (mut ws, _) = server.ws(&path, &[]).await.expect("101");
    assert!(!upstream.handshakes()[0].raw().contains(HANDLE), "the handle stays with wsauth");
    let old_exp = segment(&access, 1)["exp"].as_i64().expect("exp");

    server.clock.advance_secs(60);
    let r = server.post_bearer("/auth/refresh", &refresh).await;
    let pair: Value = r.json().await.expect("json");
    let new_access = str_of(&pair, "access_token");
    let r = proxy_refresh(&server, &new_access, HANDLE).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let new_exp = segment(&new_access, 1)["exp"].as_i64().expect("exp");
    assert_eq!(body, json!({"exp": new_exp, "deadline": new_exp}));

    server.clock.set_secs(old_exp + 1);
    echo_ok(&mut ws).await; // past the first token's expiry, bound to the second
    server.clock.set_secs(new_exp);
    assert_eq!(next_close(&mut ws).await.0, 4001);
    assert_eq!(upstream.closes(1).await[0].0, 4001);
    // Nothing but the relayed frames crossed the socket.
    assert!(upstream.handshakes().iter().all(|h| !h.raw().contains(&new_access)));
}

#[tokio::test]
async fn a_refresh_needs_the_handle_and_a_token_of_the_same_user() {
    let (server, _upstream) = proxied(|_| {}).await;
    let (alice, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let path = format!("/chat?token={alice}&wsauth_handle={HANDLE}");
    let (mut ws, _) = server.ws(&path, &[]).await.expect("101");
    let wrong = proxy_refresh(&server, &alice, "another-handle-of-22-chars").await;
    assert_eq!(wrong.status(), 404);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "socket_not_found");
    assert_eq!(proxy_refresh(&server, &bob, HANDLE).await.status(), 404, "bob cannot extend it");
    let unauthenticated = server
        .http
        .post(server.url("/auth/proxy/refresh"))
        .json(&json!({ "handle": HANDLE }))
        .send()
        .await
        .expect("post");
    assert_eq!(unauthenticated.status(), 401);
    // A handle in use is refused before the upgrade, and a malformed one too.
    let again = rejected(server.ws(&path, &[]).await).await;
    again.assert(400, "bad_handshake");
    let short =
        rejected(server.ws(&format!("/chat?token={alice}&wsauth_handle=short"), &[]).await).await;
    short.assert(400, "bad_handshake");
    echo_ok(&mut ws).await;
    // A revoked token refreshes nothing, and its socket is closed.
    assert_eq!(server.post_bearer("/auth/logout", &alice).await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
    assert_eq!(proxy_refresh(&server, &alice, HANDLE).await.status(), 401);
}

#[tokio::test]
async fn limits_of_ws_apply_to_proxied_sockets() {
    let (server, upstream) = proxied(|c| {
        c.limits.max_connections_per_user = 1;
        c.limits.max_message_size = 4096;
    })
    .await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    let second = rejected(server.ws(&format!("/chat?token={access}"), &[]).await).await;
    second.assert(429, "too_many_requests");
    assert_eq!(upstream.handshakes().len(), 1, "the refused handshake never reached the upstream");
    ws.send(Message::Binary(vec![0u8; 5000].into())).await.expect("send");
    assert_eq!(next_close(&mut ws).await.0, 1009);
    assert_eq!(upstream.closes(1).await[0].0, 1009);
}

#[tokio::test]
async fn a_slow_reader_slows_the_upstream_and_loses_nothing() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    const COUNT: u64 = 1024;
    const SIZE: u64 = 64 * 1024 - 16;
    ws.send(Message::text(format!("flood:{COUNT}:{SIZE}"))).await.expect("send");
    // The client reads nothing: the upstream gets rid of what the kernel's
    // buffers and the relay's one message in flight can take, then stalls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = upstream.flooded.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = upstream.flooded.load(Ordering::Relaxed);
    assert_eq!(stalled, still, "the upstream is held back while the client does not read");
    assert!(
        stalled < COUNT * SIZE / 2,
        "only {stalled} of {} bytes left the upstream",
        COUNT * SIZE
    );
    // Reading again, every frame arrives whole and in order.
    for i in 0..COUNT {
        match next_message(&mut ws).await {
            Message::Binary(data) => assert_eq!(data.len() as u64, SIZE, "frame {i}"),
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert_eq!(upstream.flooded.load(Ordering::Relaxed), COUNT * SIZE);
    echo_ok(&mut ws).await;
}

#[tokio::test]
async fn an_upstream_socket_takes_a_connection_place_so_the_file_limit_holds() {
    let (server, upstream) = proxied(|c| c.limits.max_connections = 3).await;
    let token = server.forge(|_| {});
    // One proxied connection takes two places: the client's and the upstream's.
    let (mut first, _) = server.ws(&format!("/chat?token={token}"), &[]).await.expect("101");
    echo_ok(&mut first).await;
    let full = rejected(server.ws(&format!("/chat?token={token}"), &[]).await).await;
    full.assert(503, "unavailable");
    assert_eq!(upstream.handshakes().len(), 1, "no upstream socket was opened past the cap");
    first.close(None).await.expect("close");
    assert_eq!(upstream.closes(1).await.len(), 1);
    // The places come back once the relay has ended, which the upstream's
    // close only announces: polled until then (5 s at most).
    let began = std::time::Instant::now();
    let mut again = loop {
        match server.ws(&format!("/chat?token={token}"), &[]).await {
            Ok((ws, _)) => break ws,
            Err(refused) if began.elapsed() < Duration::from_secs(5) => {
                refused.assert(503, "unavailable");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(refused) => panic!("the places never came back: {refused:?}"),
        }
    };
    echo_ok(&mut again).await;
}
