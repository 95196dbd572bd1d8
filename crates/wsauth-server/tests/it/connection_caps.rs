//! Connection floods over real sockets: past `max_connections` a new
//! connection gets 503 and is closed, past `max_connections_per_address`
//! 429, and past `connection_rate` 429 as well; a connection (a WebSocket
//! included) holds its place until it closes.

use crate::support::*;
use std::net::IpAddr;
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(10);

/// Opens connections until one gets `200` on `/healthz`, `tries` at most.
async fn admitted_within(server: &TestServer, tries: usize) {
    for _ in 0..tries {
        let status = raw_get_status(&mut tcp(server.addr).await, "/healthz").await;
        if status == "HTTP/1.1 200 OK" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no connection was admitted in {tries} tries");
}

#[tokio::test]
async fn connection_flood_is_refused_at_max_connections() {
    let server = TestServer::start_config(|c| {
        c.limits.max_connections = 3;
        c.limits.header_read_timeout = 30;
    })
    .await;
    // A WebSocket and two idle connections take every place.
    let (ws, _) = server.ws_welcome(&server.forge(|_| {})).await;
    let _idle = [tcp(server.addr).await, tcp(server.addr).await];
    let mut refused = tcp(server.addr).await;
    let answer = read_to_end_within(&mut refused, BUDGET).await.closed();
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 503 Service Unavailable", "{text}");
    assert!(text.contains("retry-after: 1") && text.contains(r#""error":"unavailable""#), "{text}");
    // Closing the WebSocket gives its place back.
    drop(ws);
    admitted_within(&server, 50).await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let server = TestServer::start_config(|c| {
        c.limits.max_connections_per_address = 3;
        c.limits.header_read_timeout = 30;
    })
    .await;
    let attacker: IpAddr = [127, 0, 0, 1].into();
    let _held = [
        tcp_from(attacker, server.addr).await,
        tcp_from(attacker, server.addr).await,
        tcp_from(attacker, server.addr).await,
    ];
    let mut refused = tcp_from(attacker, server.addr).await;
    let answer = read_to_end_within(&mut refused, BUDGET).await.closed();
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 429 Too Many Requests", "{text}");
    assert!(text.contains(r#""error":"too_many_requests""#), "{text}");
    // Another address is still served.
    let mut other = tcp_from([127, 0, 0, 2].into(), server.addr).await;
    assert_eq!(raw_get_status(&mut other, "/healthz").await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn an_address_opening_connections_too_fast_is_refused_at_accept() {
    let server = TestServer::start_config(|c| {
        c.limits.connection_rate = 0.01;
        c.limits.connection_burst = 3.0;
    })
    .await;
    let fast: IpAddr = [127, 0, 0, 1].into();
    for _ in 0..3 {
        let mut stream = tcp_from(fast, server.addr).await;
        assert_eq!(raw_get_status(&mut stream, "/healthz").await, "HTTP/1.1 200 OK");
    }
    let mut refused = tcp_from(fast, server.addr).await;
    let answer = read_to_end_within(&mut refused, BUDGET).await.closed();
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 429 Too Many Requests", "{text}");
    assert!(text.contains("Too many new connections") && text.contains("retry-after: 1"), "{text}");
    // Another address has its own budget.
    let mut other = tcp_from([127, 0, 0, 2].into(), server.addr).await;
    assert_eq!(raw_get_status(&mut other, "/healthz").await, "HTTP/1.1 200 OK");
}
