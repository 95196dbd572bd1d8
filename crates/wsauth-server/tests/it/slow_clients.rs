//! Slow clients over real sockets: headers that never end, idle kept-alive
//! connections, bodies that never arrive, clients that stop reading. Each is
//! cut off by its configured timer; an upgraded WebSocket is not.

use crate::support::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Long enough for any of these timers (set to 1 s) to have fired.
const BUDGET: Duration = Duration::from_secs(10);

#[tokio::test]
async fn slowloris_headers_are_cut_off() {
    let server = TestServer::start_config(|c| c.limits.header_read_timeout = 1).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = tcp(server.addr).await;
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        held.push(stream);
    }
    // A client that connects and sends nothing at all is cut off too.
    held.push(tcp(server.addr).await);
    for stream in &mut held {
        let answer = read_to_end_within(stream, BUDGET).await.closed();
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }
    assert_eq!(raw_get_status(&mut tcp(server.addr).await, "/healthz").await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn idle_keepalive_connections_are_closed() {
    // hyper arms the header timer again once a kept-alive connection goes idle.
    let server = TestServer::start_config(|c| c.limits.header_read_timeout = 1).await;
    let mut stream = tcp(server.addr).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let answer = read_to_end_within(&mut stream, BUDGET).await.closed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with(r#"{"status":"ok"}"#), "{text}");
}

#[tokio::test]
async fn slow_request_bodies_get_408() {
    let server = TestServer::start_config(|c| {
        c.limits.header_read_timeout = 30;
        c.limits.body_read_timeout = 1;
    })
    .await;
    let mut stream = tcp(server.addr).await;
    let head = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{\"username\"";
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_to_end_within(&mut stream, BUDGET).await.closed();
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 408 Request Timeout", "{text}");
    assert!(text.contains(r#""error":"request_timeout""#), "{text}");
}

#[tokio::test]
async fn clients_that_stop_reading_are_cut_off() {
    let server = TestServer::start_config(|c| {
        c.limits.header_read_timeout = 30;
        c.limits.http_idle_timeout = 1;
    })
    .await;
    // A small receive window, and far more pipelined responses (the demo
    // page, ~29 KB each) than the kernel buffers hold: the server's writes stall.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut stream = socket.connect(server.addr).await.expect("connect");
    let requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let _ =
        tokio::time::timeout(Duration::from_secs(2), stream.write_all(requests.as_bytes())).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Reading now would let a server that kept the connection finish every
    // response and then wait 30 s for another request: it must be gone already.
    read_to_end_within(&mut stream, BUDGET).await.closed();
}

#[tokio::test]
async fn websockets_outlive_the_http_timers() {
    let server = TestServer::start_config(|c| {
        c.limits.header_read_timeout = 1;
        c.limits.body_read_timeout = 1;
        c.limits.http_idle_timeout = 1;
    })
    .await;
    let token = server.forge(|_| {});
    let (mut ws, _) = server.ws_welcome(&token).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    send_json(&mut ws, json!({"type": "echo", "data": "still here"})).await;
    assert_eq!(next_json(&mut ws).await["data"], "still here");
}
