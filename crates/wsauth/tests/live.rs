//! LiveSocket in a small axum app: a producer that outruns the socket fills
//! the bounded outbound queue (in messages or in bytes) and the socket closes
//! with 1008; a message as large as the limits allow is echoed whole.

use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use wsauth::{
    Algorithm, Incoming, IssueOptions, Key, KeySet, LiveConfig, SocketLimits, TokenAuthority,
    WsAuth, WsGuard,
};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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

/// Queues ten messages of 10 KiB from another task, through an `Outbox`.
async fn flood_bytes_from_outbox(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        let outbox = socket.outbox();
        for _ in 0..10 {
            if !outbox.send(Message::binary(vec![0u8; 10 * 1024])) {
                break;
            }
        }
        while socket.recv().await.is_some() {}
    })
}

/// Answers each message with one four times as large.
async fn amplify(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        while let Some(incoming) = socket.recv().await {
            let len = match incoming {
                Incoming::Text(text) => text.len(),
                Incoming::Binary(data) => data.len(),
            };
            socket.send(Message::binary(vec![7u8; len * 4]));
        }
    })
}

async fn echo(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        while let Some(incoming) = socket.recv().await {
            socket.send(match incoming {
                Incoming::Text(text) => Message::Text(text),
                Incoming::Binary(data) => Message::Binary(data),
            });
        }
    })
}

/// Serves the handlers with these limits; returns the address, a token
/// and the `WsAuth` as built.
async fn serve(limits: SocketLimits, live: LiveConfig) -> (std::net::SocketAddr, String, WsAuth) {
    let tokens = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")));
    let token = tokens.issue_access("alice", IssueOptions::default()).expect("issue").token;
    let auth = WsAuth::builder(tokens).socket_limits(limits).live_config(live).build();
    let app = Router::new()
        .route("/flood", get(flood))
        .route("/outbox", get(flood_bytes_from_outbox))
        .route("/amplify", get(amplify))
        .route("/echo", get(echo))
        .with_state(auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, token, auth)
}

async fn connect(addr: std::net::SocketAddr, route: &str, token: &str) -> Client {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let url = format!("ws://{addr}/{route}?token={token}");
    tokio_tungstenite::connect_async_with_config(url, Some(config), false).await.expect("101").0
}

/// Reads until the close frame: how many data messages came first, and the
/// close code and reason.
async fn until_close(ws: &mut Client) -> (usize, u16, String) {
    let mut received = 0;
    let frame = loop {
        match ws.next().await {
            Some(Ok(ClientMessage::Text(_) | ClientMessage::Binary(_))) => received += 1,
            Some(Ok(ClientMessage::Close(frame))) => {
                break frame.expect("a close frame with a code");
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    // Complete the closing handshake like a well-behaved client.
    while let Some(Ok(_)) = ws.next().await {}
    (received, u16::from(frame.code), frame.reason.as_str().to_owned())
}

#[tokio::test]
async fn a_full_outbound_queue_closes_the_socket_with_1008() {
    let live = LiveConfig { outbound_queue: 8, ..LiveConfig::default() };
    let (addr, token, auth) = serve(SocketLimits::default(), live).await;
    let mut ws = connect(addr, "flood", &token).await;
    let (received, code, reason) = until_close(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "outbound queue full"));
    assert!(received <= 8, "at most the queue's worth was delivered, got {received}");
    for _ in 0..100 {
        if auth.live().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the socket was not unregistered");
}

#[tokio::test]
async fn the_outbound_queue_is_bounded_in_bytes_too() {
    // 64 KiB (the default message size, the least the bound may be) holds
    // six messages of 10 KiB, whatever the message count allows.
    let live = LiveConfig { outbound_queue_bytes: 1, ..LiveConfig::default() };
    let (addr, token, _auth) = serve(SocketLimits::default(), live).await;
    let mut ws = connect(addr, "outbox", &token).await;
    let (received, code, reason) = until_close(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "outbound queue full"));
    assert!(received <= 6, "at most 64 KiB was queued, got {received} messages of 10 KiB");
}

#[tokio::test]
async fn one_reply_larger_than_the_byte_bound_closes_with_1008() {
    let live = LiveConfig { outbound_queue_bytes: 64 * 1024, ..LiveConfig::default() };
    let (addr, token, _auth) = serve(SocketLimits::default(), live).await;
    let mut ws = connect(addr, "amplify", &token).await;
    ws.send(ClientMessage::binary(vec![1u8; 10 * 1024])).await.expect("send");
    let reply = ws.next().await.expect("a reply").expect("a frame");
    assert_eq!(reply.len(), 40 * 1024);
    // 80 KiB does not fit in 64 KiB: a close frame, not a dropped connection.
    ws.send(ClientMessage::binary(vec![1u8; 20 * 1024])).await.expect("send");
    let (received, code, reason) = until_close(&mut ws).await;
    assert_eq!((received, code, reason.as_str()), (0, 1008, "outbound queue full"));
}

#[tokio::test]
async fn a_message_as_large_as_the_limit_is_echoed_whole() {
    // Larger than the write buffer's 1 MiB default: the buffer grows to fit.
    let size = 3 << 20;
    let limits =
        SocketLimits { max_message_size: size, max_frame_size: size, ..SocketLimits::default() };
    let (addr, token, auth) = serve(limits, LiveConfig::default()).await;
    assert!(auth.socket_limits().max_write_buffer_size > size);
    assert!(auth.live().config().outbound_queue_bytes >= size);
    let mut ws = connect(addr, "echo", &token).await;
    let text = "é".repeat(size / 2);
    ws.send(ClientMessage::text(text.clone())).await.expect("send");
    ws.send(ClientMessage::binary(vec![9u8; size])).await.expect("send");
    match ws.next().await {
        Some(Ok(ClientMessage::Text(echoed))) => assert!(echoed.as_str() == text),
        other => panic!("expected the text echoed, got {:?}", other.map(|m| m.map(|m| m.len()))),
    }
    match ws.next().await {
        Some(Ok(ClientMessage::Binary(echoed))) => assert_eq!(echoed.len(), size),
        other => panic!("expected the binary echoed, got {:?}", other.map(|m| m.map(|m| m.len()))),
    }
    // One byte more is refused with a close frame, never a dropped socket.
    ws.send(ClientMessage::binary(vec![9u8; size + 1])).await.expect("send");
    let (_, code, _) = until_close(&mut ws).await;
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn timers_beyond_what_the_clock_can_add_do_not_kill_the_socket() {
    // Found by the server_config fuzz target: a ping interval of 10^8 s made
    // every socket's task panic as it started.
    let live = LiveConfig {
        ping_interval: std::time::Duration::MAX,
        pong_timeout: std::time::Duration::MAX,
        ..LiveConfig::default()
    };
    let (addr, token, _auth) = serve(SocketLimits::default(), live).await;
    let mut ws = connect(addr, "echo", &token).await;
    ws.send(ClientMessage::text("still here")).await.expect("send");
    let echoed = ws.next().await.expect("a reply").expect("a frame");
    assert_eq!(echoed.into_text().expect("text").as_str(), "still here");
}
