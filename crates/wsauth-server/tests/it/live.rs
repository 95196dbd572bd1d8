//! Live connections (attack-cases.md sections E and F): expiry with the
//! injected clock, in-band refresh, revocation that kicks, first-message
//! authentication, and the limits that keep one client from exhausting the
//! server. Driven over real sockets against the real server.

use crate::support::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

async fn echo_ok(ws: &mut Ws) {
    send_json(ws, json!({"type": "echo", "data": "ping"})).await;
    assert_eq!(next_json(ws).await, json!({"type": "echo", "data": "ping"}));
}

/// Waits until the server's registry holds `n` sockets of `sub`.
async fn wait_live(server: &TestServer, sub: &str, n: usize) {
    for _ in 0..200 {
        if server.auth.live().count_for(sub) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{sub} holds {} live sockets, expected {n}", server.auth.live().count_for(sub));
}

#[tokio::test]
async fn f50_expiry_closes_with_4001_and_nothing_is_delivered_after_the_deadline() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    assert_eq!(welcome["deadline"], exp, "default grace is 0");
    server.clock.set_secs(exp - 1);
    server.clock.advance_millis(999);
    echo_ok(&mut ws).await; // still valid a millisecond before exp
    server.clock.advance_millis(1);
    // An echo sent after the deadline is never answered: the close comes first.
    let _ = ws.send(Message::text(json!({"type": "echo", "data": 1}).to_string())).await;
    assert_eq!(next_close(&mut ws).await, (4001, "token expired".to_owned()));
}

#[tokio::test]
async fn f50_expiry_honours_the_configured_grace() {
    let server = TestServer::start_config(|c| c.limits.expiry_grace = 30).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    assert_eq!(welcome["deadline"], exp + 30);
    server.clock.set_secs(exp + 29);
    echo_ok(&mut ws).await;
    server.clock.set_secs(exp + 30);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn f50_expiry_closes_without_any_client_traffic() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    server.clock.set_secs(welcome["exp"].as_i64().expect("exp") + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
    wait_live(&server, "alice", 0).await;
}

async fn refresh_access(server: &TestServer, refresh: &str) -> (String, String) {
    let body: Value =
        server.post_bearer("/auth/refresh", refresh).await.json().await.expect("json");
    (str_of(&body, "access_token"), str_of(&body, "refresh_token"))
}

#[tokio::test]
async fn f51_in_band_refresh_moves_the_deadline_and_loses_nothing() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    server.clock.advance_secs(600);
    let (new_access, _) = refresh_access(&server, &refresh).await;
    send_json(&mut ws, json!({"type": "echo", "data": "before"})).await;
    send_json(&mut ws, json!({"type": "refresh", "token": new_access})).await;
    send_json(&mut ws, json!({"type": "echo", "data": "after"})).await;
    assert_eq!(next_json(&mut ws).await["data"], "before");
    let refreshed = next_json(&mut ws).await;
    assert_eq!(refreshed["type"], "refreshed");
    let new_exp = refreshed["exp"].as_i64().expect("exp");
    assert_eq!(new_exp, exp + 600);
    assert_eq!(refreshed["deadline"], new_exp);
    assert_eq!(next_json(&mut ws).await["data"], "after");
    server.clock.set_secs(exp + 1);
    echo_ok(&mut ws).await;
    send_json(&mut ws, json!({"type": "whoami"})).await;
    assert_eq!(next_json(&mut ws).await["claims"]["exp"], new_exp);
    server.clock.set_secs(new_exp + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn f52_refresh_with_a_token_for_another_subject_closes_4403() {
    let server = TestServer::start().await;
    let (alice, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (mut ws, _) = server.ws_welcome(&alice).await;
    send_json(&mut ws, json!({"type": "refresh", "token": bob})).await;
    assert_eq!(next_close(&mut ws).await.0, 4403);
}

#[tokio::test]
async fn f53_rejected_refreshes_never_clear_or_extend_the_deadline() {
    let server = TestServer::start_config(|c| c.audience = Some("chat".into())).await;
    let (access, refresh) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    let now = server.now();
    let expired = server.forge(|m| {
        m.insert("aud".into(), json!("chat"));
        m.insert("exp".into(), json!(now - 1));
    });
    let far_future_wrong_aud = server.forge(|m| {
        m.insert("aud".into(), json!("other"));
        m.insert("exp".into(), json!(now + 86_400));
    });
    let (revoked, _) = server.login("alice").await;
    assert_eq!(server.post_bearer("/auth/logout", &revoked).await.status(), 200);
    let cases = [
        (expired, "token_expired"),
        (refresh, "wrong_token_type"),
        (far_future_wrong_aud, "invalid_token"),
        (revoked, "token_revoked"),
        ("garbage".to_owned(), "invalid_token"),
    ];
    for (token, code) in cases {
        send_json(&mut ws, json!({"type": "refresh", "token": token})).await;
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["error"], code, "{reply}");
        assert_eq!(reply["command"], "refresh");
    }
    // The original deadline still holds.
    server.clock.set_secs(exp + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn centrifugo_2026_expired_refresh_does_not_disable_expiry() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    let stale = server.forge(|m| {
        m.insert("exp".into(), json!(0));
    });
    send_json(&mut ws, json!({"type": "refresh", "token": stale})).await;
    assert_eq!(next_json(&mut ws).await["type"], "error");
    server.clock.set_secs(exp + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn centrifugo_2026_refresh_with_a_past_expiry_is_rejected() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, welcome) = server.ws_welcome(&access).await;
    let exp = welcome["exp"].as_i64().expect("exp");
    let past = server.forge(|m| {
        m.insert("iat".into(), json!(exp - 2000));
        m.insert("nbf".into(), json!(exp - 2000));
        m.insert("exp".into(), json!(exp - 1000));
    });
    send_json(&mut ws, json!({"type": "refresh", "token": past})).await;
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["error"], "token_expired");
    echo_ok(&mut ws).await;
    server.clock.set_secs(exp + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}

#[tokio::test]
async fn f54_logout_closes_every_socket_of_that_token_with_4003_and_no_other() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (other_login, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (mut by_query, _) = server.ws_welcome(&access).await;
    let offer = format!("wsauth, bearer.{access}");
    let (mut by_subprotocol, _) =
        server.ws("/ws", &[("sec-websocket-protocol", &offer)]).await.expect("101");
    next_json(&mut by_subprotocol).await;
    let ticket = server.ticket(&access).await;
    let (mut by_ticket, _) = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("101");
    next_json(&mut by_ticket).await;
    let (mut other, _) = server.ws_welcome(&other_login).await;
    let (mut bobs, _) = server.ws_welcome(&bob).await;

    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    for ws in [&mut by_query, &mut by_subprotocol, &mut by_ticket] {
        assert_eq!(next_close(ws).await, (4003, "token revoked".to_owned()));
    }
    echo_ok(&mut other).await;
    echo_ok(&mut bobs).await;
    // A kick alone is not revocation: the same token is refused at reconnect.
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");
}

#[tokio::test]
async fn f54_logout_everywhere_closes_every_socket_of_the_user() {
    let server = TestServer::start().await;
    let (a1, _) = server.login("alice").await;
    let (a2, _) = server.login("alice").await;
    let cookies = server.cookie_login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (mut ws1, _) = server.ws_welcome(&a1).await;
    let (mut ws2, _) = server.ws_welcome(&a2).await;
    let csrf = cookie(&cookies, "csrf_access_token");
    let (mut by_cookie, _) = server
        .ws(
            &format!("/ws?csrf_token={csrf}"),
            &[("cookie", &cookie_header(&cookies)), ("origin", &server.origin())],
        )
        .await
        .expect("101");
    next_json(&mut by_cookie).await;
    let (mut bobs, _) = server.ws_welcome(&bob).await;
    server.clock.advance_secs(1);
    assert_eq!(server.post_bearer("/auth/logout-all", &a1).await.status(), 200);
    for ws in [&mut ws1, &mut ws2, &mut by_cookie] {
        assert_eq!(next_close(ws).await.0, 4003);
    }
    echo_ok(&mut bobs).await;
    wait_live(&server, "alice", 0).await;
}

#[tokio::test]
async fn f54_a_refreshed_socket_belongs_to_its_new_token() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    server.clock.advance_secs(10);
    let (new_access, _) = refresh_access(&server, &refresh).await;
    send_json(&mut ws, json!({"type": "refresh", "token": new_access})).await;
    assert_eq!(next_json(&mut ws).await["type"], "refreshed");
    // Logging out the new token's login (the same family) kicks it.
    assert_eq!(server.post_bearer("/auth/logout", &new_access).await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
}

#[tokio::test]
async fn f55_refresh_reuse_revokes_the_family_and_kicks_its_sockets() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let _ = refresh_access(&server, &refresh).await;
    // Past the grace window for an exact retry, reuse is theft.
    server.clock.advance_secs(11);
    let r = server.post_bearer("/auth/refresh", &refresh).await;
    assert_eq!(r.status(), 401);
    assert_eq!(next_close(&mut ws).await.0, 4003);
}

async fn deferred(server: &TestServer) -> Ws {
    server.ws("/ws/deferred", &[]).await.expect("101").0
}

#[tokio::test]
async fn first_message_mode_authenticates_with_an_auth_frame() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let mut ws = deferred(&server).await;
    send_json(&mut ws, json!({"type": "auth", "token": access})).await;
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["credential"], "first_message");
    echo_ok(&mut ws).await;
    // Live like any other socket: revocation kicks it.
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
}

#[tokio::test]
async fn e40_first_message_mode_closes_4408_when_no_auth_frame_arrives_in_time() {
    let server = TestServer::start_config(|c| c.limits.auth_timeout = 0.3).await;
    let mut ws = deferred(&server).await;
    assert_eq!(next_close(&mut ws).await, (4408, "authentication timeout".to_owned()));
    // Its place among pending sockets was released.
    let mut again = deferred(&server).await;
    assert_eq!(next_close(&mut again).await.0, 4408);
}

#[tokio::test]
async fn e41_first_message_mode_closes_4401_for_anything_but_a_valid_auth_frame() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let frames = [
        json!({"type": "echo", "data": 1}).to_string(),
        json!({"type": "auth"}).to_string(),
        json!({"type": "auth", "token": "garbage"}).to_string(),
        json!({"type": "auth", "token": refresh}).to_string(),
        "not json".to_owned(),
    ];
    for frame in frames {
        let mut ws = deferred(&server).await;
        ws.send(Message::text(frame.clone())).await.expect("send");
        assert_eq!(next_close(&mut ws).await.0, 4401, "{frame}");
    }
    let mut ws = deferred(&server).await;
    ws.send(Message::binary(access.into_bytes())).await.expect("send");
    assert_eq!(next_close(&mut ws).await.0, 4401);
}

#[tokio::test]
async fn e42_a_second_auth_frame_closes_1008() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let mut ws = deferred(&server).await;
    send_json(&mut ws, json!({"type": "auth", "token": access})).await;
    next_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "auth", "token": access})).await;
    assert_eq!(next_close(&mut ws).await.0, 1008);
    // Also on a socket authenticated at the handshake.
    let (mut ws, _) = server.ws_welcome(&access).await;
    send_json(&mut ws, json!({"type": "auth", "token": access})).await;
    assert_eq!(next_close(&mut ws).await.0, 1008);
}

#[tokio::test]
async fn first_message_sockets_count_against_their_own_small_limit() {
    let server = TestServer::start_config(|c| c.limits.max_pending_auth = 2).await;
    let _a = deferred(&server).await;
    let _b = deferred(&server).await;
    let r = rejected(server.ws("/ws/deferred", &[]).await).await;
    r.assert(429, "too_many_requests");
    assert!(r.headers.get("retry-after").is_some());
    // Authenticated handshakes are not affected.
    let (access, _) = server.login("alice").await;
    server.ws_welcome(&access).await;
}

#[tokio::test]
async fn e44_invalid_utf8_in_a_text_frame_closes_1007() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let mut raw = RawSocket::open(&server, &access).await;
    raw.send_frame(0x81, b"\xff\xfe\xfd").await;
    assert_eq!(raw.close_code().await, Some(1007));
}

#[tokio::test]
async fn e45_a_message_over_the_size_limit_closes_1009() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let big = json!({"type": "echo", "data": "x".repeat(70 * 1024)}).to_string();
    let _ = ws.send(Message::text(big)).await;
    assert_eq!(next_close(&mut ws).await.0, 1009);
    // A frame that only announces a huge length is refused from its header.
    let mut raw = RawSocket::open(&server, &access).await;
    raw.send_header_only(0x81, 1 << 40).await;
    assert_eq!(raw.close_code().await, Some(1009));
}

#[tokio::test]
async fn e46_protocol_violations_close_1002_or_1009() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("unmasked client frame", vec![0x81, 0x02, b'h', b'i'], 1002),
        ("RSV1 without an extension", masked(0xC1, b"hi"), 1002),
        ("reserved opcode", masked(0x83, b"hi"), 1002),
        ("fragmented ping", masked(0x09, b"hi"), 1002),
        ("oversized ping", masked(0x89, &[0u8; 126]), 1002),
    ];
    for (name, bytes, code) in cases {
        let mut raw = RawSocket::open(&server, &access).await;
        raw.stream.write_all(&bytes).await.expect("write");
        assert_eq!(raw.close_code().await, Some(code), "{name}");
    }
    // Endless continuation frames hit the message size limit.
    let mut raw = RawSocket::open(&server, &access).await;
    raw.stream.write_all(&masked(0x01, &[b'a'; 1000])).await.expect("write");
    let chunk = masked(0x00, &[b'a'; 16 * 1024]);
    for _ in 0..8 {
        if raw.stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    assert_eq!(raw.close_code().await, Some(1009));
}

#[tokio::test]
async fn e47_a_message_flood_closes_1008_and_others_are_unaffected() {
    let server = TestServer::start_config(|c| {
        c.limits.message_rate = 5.0;
        c.limits.message_burst = 5.0;
    })
    .await;
    let (alice, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (mut flood, _) = server.ws_welcome(&alice).await;
    let (mut calm, _) = server.ws_welcome(&bob).await;
    for i in 0..50 {
        if flood.send(Message::text(json!({"type": "echo", "data": i}).to_string())).await.is_err()
        {
            break;
        }
    }
    assert_eq!(next_close(&mut flood).await, (1008, "message rate limit exceeded".to_owned()));
    echo_ok(&mut calm).await;
}

#[tokio::test]
async fn e48_a_client_that_stops_reading_is_disconnected() {
    let server = TestServer::start_config(|c| {
        c.limits.message_rate = 0.0;
        c.limits.write_timeout = 1;
    })
    .await;
    let (access, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (mut calm, _) = server.ws_welcome(&bob).await;
    let mut raw = RawSocket::open(&server, &access).await;
    wait_live(&server, "alice", 1).await;
    // Ask for ~48 MiB of echoes and read none of them.
    let request =
        masked(0x81, json!({"type": "echo", "data": "y".repeat(60 * 1024)}).to_string().as_bytes());
    for _ in 0..800 {
        match tokio::time::timeout(Duration::from_millis(200), raw.stream.write_all(&request)).await
        {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    wait_live_within(&server, "alice", 0, Duration::from_secs(15)).await;
    echo_ok(&mut calm).await;
}

async fn wait_live_within(server: &TestServer, sub: &str, n: usize, limit: Duration) {
    let start = std::time::Instant::now();
    while server.auth.live().count_for(sub) != n {
        assert!(
            start.elapsed() < limit,
            "{sub} still holds {} sockets",
            server.auth.live().count_for(sub)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn e49_a_client_that_never_answers_pings_is_closed() {
    let server = TestServer::start_config(|c| {
        c.limits.ping_interval = 1;
        c.limits.pong_timeout = 1;
    })
    .await;
    let (access, _) = server.login("alice").await;
    let mut raw = RawSocket::open(&server, &access).await;
    // Never answer: read frames until the close arrives (pings come first).
    assert_eq!(raw.close_code_within(Duration::from_secs(10)).await, Some(1008));
    // A client that answers stays.
    let (mut ws, _) = server.ws_welcome(&access).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        echo_ok(&mut ws).await; // reading answers the pings
    }
}

#[tokio::test]
async fn d39_a_handshake_flood_gets_429_with_retry_after_and_live_sockets_stay() {
    let server = TestServer::start_config(|c| {
        c.limits.handshake_rate = 1.0;
        c.limits.handshake_burst = 3.0;
    })
    .await;
    let (access, _) = server.login("alice").await;
    let (mut first, _) = server.ws_welcome(&access).await;
    let mut refused = None;
    for _ in 0..10 {
        if let Err(r) = server.ws(&format!("/ws?token={access}"), &[]).await {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("the flood was never refused");
    r.assert(429, "too_many_requests");
    let retry: u64 = r.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry >= 1);
    echo_ok(&mut first).await;
}

#[tokio::test]
async fn per_user_connection_cap_is_a_429_before_the_upgrade() {
    let server = TestServer::start_config(|c| c.limits.max_connections_per_user = 2).await;
    let (access, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let (a, _) = server.ws_welcome(&access).await;
    let (_b, _) = server.ws_welcome(&access).await;
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert(429, "too_many_requests");
    server.ws_welcome(&bob).await;
    drop(a);
    wait_live(&server, "alice", 1).await;
    server.ws_welcome(&access).await;
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A WebSocket spoken by hand, to send what well-behaved clients cannot.
struct RawSocket {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl RawSocket {
    async fn open(server: &TestServer, token: &str) -> Self {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
        let request = format!(
            "GET /ws?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            server.addr
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed during the handshake");
            buffer.extend_from_slice(&chunk[..n]);
        }
        let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        assert!(buffer.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&buffer));
        let rest = buffer.split_off(end);
        Self { stream, buffer: rest }
    }

    async fn send_frame(&mut self, first: u8, payload: &[u8]) {
        self.stream.write_all(&masked(first, payload)).await.expect("write");
    }

    async fn send_header_only(&mut self, first: u8, len: u64) {
        let mut out = vec![first, 0x80 | 127];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[1, 2, 3, 4]);
        self.stream.write_all(&out).await.expect("write");
    }

    async fn close_code(&mut self) -> Option<u16> {
        self.close_code_within(Duration::from_secs(10)).await
    }

    /// Reads server frames until a close frame; returns its code.
    async fn close_code_within(&mut self, limit: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some((opcode, payload, used)) = parse_frame(&self.buffer) {
                self.buffer.drain(..used);
                if opcode == 0x8 {
                    return (payload.len() >= 2)
                        .then(|| u16::from_be_bytes([payload[0], payload[1]]));
                }
                continue;
            }
            let mut chunk = [0u8; 65536];
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return None,
            };
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Parses one unmasked server frame: (opcode, payload, bytes used).
fn parse_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0F;
    let (len, start) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if buf.len() < start + len {
        return None;
    }
    Some((opcode, buf[start..start + len].to_vec(), start + len))
}
