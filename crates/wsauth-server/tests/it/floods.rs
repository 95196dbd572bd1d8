//! Floods from one client address (127.0.0.2) while valid clients connect
//! from another (127.0.0.3): handshakes with bad tokens, unfinished request
//! heads (slowloris), and first-message sockets that never send their frame.
//! Each flood is bounded; every valid client must get in, and the flood
//! must get nothing but refusals. Outcomes only: no timing is asserted.

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite;

use crate::support::*;

const FLOODER: [u8; 4] = [127, 0, 0, 2];
const VALID: [u8; 4] = [127, 0, 0, 3];

/// What a refused handshake got: a status, or a reset (a connection refused
/// as soon as it was accepted may be reset before its answer is read).
const RESET: u16 = 0;

/// A WebSocket handshake on `path` from `source`: the socket once upgraded,
/// otherwise the HTTP status of the refusal (or [`RESET`]).
async fn handshake_from(source: [u8; 4], server: &TestServer, path: &str) -> Result<Ws, u16> {
    let stream = tcp_from(IpAddr::from(source), server.addr).await;
    let url = server.ws_url(path);
    match tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(tungstenite::Error::Io(_) | tungstenite::Error::Protocol(_)) => Err(RESET),
        Err(e) => panic!("handshake from {source:?} failed: {e}"),
    }
}

/// `n` valid clients from 127.0.0.3, one after another, each with its own
/// subject: all must be welcomed. `first_message` uses `/ws/deferred`.
async fn valid_clients(server: &TestServer, n: usize, first_message: bool) {
    for i in 0..n {
        let token = server.forge(|c| {
            c.insert("sub".into(), json!(format!("valid{i}")));
        });
        let welcome = if first_message {
            let mut ws = handshake_from(VALID, server, "/ws/deferred").await.expect("101");
            send_json(&mut ws, json!({"type": "auth", "token": token})).await;
            next_json(&mut ws).await
        } else {
            let path = format!("/ws?token={token}");
            let mut ws = handshake_from(VALID, server, &path).await.expect("101");
            next_json(&mut ws).await
        };
        assert_eq!(welcome["type"], "welcome", "valid client {i}");
    }
}

#[tokio::test]
async fn a_bad_token_flood_from_one_address_leaves_other_addresses_served() {
    // A small budget (per address) so the flood meets the handshake limit
    // however slowly it runs; the valid clients stay within theirs.
    let server = TestServer::start_config(|c| {
        c.limits.handshake_rate = 5.0;
        c.limits.handshake_burst = 20.0;
    })
    .await;
    let bad = server.forge(|_| {}).replace('.', "x");
    let path = format!("/ws?token={bad}");
    let flood = stream::iter(0..300)
        .map(|_| handshake_from(FLOODER, &server, &path))
        .buffer_unordered(16)
        .map(|outcome| outcome.err().unwrap_or(101))
        .collect::<Vec<u16>>();
    let (statuses, ()) = tokio::join!(flood, valid_clients(&server, 15, false));
    let refused = |code| statuses.iter().filter(|s| **s == code).count();
    assert_eq!(refused(401) + refused(429) + refused(RESET), 300, "{statuses:?}");
    assert!(refused(429) >= 1, "no limit ever answered");
}

/// A slowloris connection from the flooder: if the server refuses it at
/// once, its answer; otherwise an unfinished request head, then whatever
/// comes before the server closes it. `None` if it was never closed.
async fn slowloris(server: &TestServer) -> Option<Vec<u8>> {
    let mut stream = tcp_from(IpAddr::from(FLOODER), server.addr).await;
    let mut first = [0u8; 512];
    let answered = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut first)).await;
    if let Ok(read) = answered {
        let n = read.unwrap_or(0);
        let mut rest = read_to_end_within(&mut stream, Duration::from_secs(10)).await.closed();
        rest.splice(0..0, first[..n].iter().copied());
        return Some(rest);
    }
    let _ = stream.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n").await;
    match read_to_end_within(&mut stream, Duration::from_secs(30)).await {
        Ending::Closed(bytes) => Some(bytes),
        Ending::StillOpen(_) => None,
    }
}

#[tokio::test]
async fn a_slowloris_flood_from_one_address_leaves_other_addresses_served() {
    let server = TestServer::start_config(|c| {
        c.limits.max_connections = 64;
        c.limits.max_connections_per_address = 16;
        c.limits.header_read_timeout = 5;
    })
    .await;
    let flood = stream::iter(0..60).map(|_| slowloris(&server)).buffer_unordered(60).collect();
    let valid = async {
        // While the flooder holds its share of connections.
        tokio::time::sleep(Duration::from_millis(500)).await;
        valid_clients(&server, 10, false).await;
    };
    let (endings, ()): (Vec<Option<Vec<u8>>>, ()) = tokio::join!(flood, valid);
    let endings: Vec<Vec<u8>> =
        endings.into_iter().map(|e| e.expect("a flood connection was never closed")).collect();
    let refused = endings.iter().filter(|b| status_line(b).starts_with("HTTP/1.1 429")).count();
    let cut = endings.iter().filter(|b| b.is_empty()).count();
    assert!(refused >= 1, "no connection was refused at the per-address cap");
    assert!(cut >= 1, "no unfinished request head was cut off");
    assert_eq!(refused + cut, 60, "a flood connection got another answer");
}

#[tokio::test]
async fn a_first_message_flood_from_one_address_leaves_other_addresses_served() {
    let server = TestServer::start_config(|c| {
        c.limits.max_pending_auth = 8;
        c.limits.max_pending_auth_per_address = 4;
    })
    .await;
    let flood = stream::iter(0..60)
        .map(|_| handshake_from(FLOODER, &server, "/ws/deferred"))
        .buffer_unordered(16)
        .collect::<Vec<Result<Ws, u16>>>();
    let (outcomes, ()) = tokio::join!(flood, valid_clients(&server, 10, true));
    let mut held = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(ws) => held.push(ws),
            Err(status) => assert!(status == 429 || status == RESET, "{status}"),
        }
    }
    assert!(!held.is_empty() && held.len() < 60, "held {}", held.len());
    // The sockets that never sent their frame are closed when their time is up.
    for ws in &mut held {
        assert_eq!(next_close(ws).await.0, 4408);
    }
    valid_clients(&server, 2, true).await;
}
