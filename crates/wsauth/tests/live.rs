//! LiveSocket in a small axum app: a producer that outruns the socket fills
//! the bounded outbound queue and the socket closes with 1008.

use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use wsauth::{Algorithm, IssueOptions, Key, KeySet, LiveConfig, TokenAuthority, WsAuth, WsGuard};

async fn flood(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        for i in 0..10_000 {
            if !socket.send(Message::text(format!("message {i}"))) {
                break;
            }
        }
        while socket.recv().await.is_some() {}
    })
}

#[tokio::test]
async fn a_full_outbound_queue_closes_the_socket_with_1008() {
    let tokens = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")));
    let token = tokens.issue_access("alice", IssueOptions::default()).expect("issue").token;
    let live = LiveConfig { outbound_queue: 8, ..LiveConfig::default() };
    let auth = WsAuth::builder(tokens).live_config(live).build();
    let app = Router::new().route("/ws", get(flood)).with_state(auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={token}"))
        .await
        .expect("101");
    let mut received = 0;
    let close = loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => received += 1,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "outbound queue full");
    assert!(received <= 8, "at most the queue's worth was delivered, got {received}");
    // Complete the closing handshake like a well-behaved client.
    while let Some(Ok(_)) = ws.next().await {}
    for _ in 0..100 {
        if auth.live().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the socket was not unregistered");
}
