//! Unit tests of the raw client: request bytes, response heads, frames, and
//! whole upgrades over an in-memory pipe that moves a few bytes at a time.

use super::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn target() -> Target {
    Target {
        ws_base: "ws://127.0.0.1:9000/ws".into(),
        addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
        http_base: "http://127.0.0.1:9000".into(),
        origin: "http://127.0.0.1:9000".into(),
        sources: vec![IpAddr::from([127, 0, 0, 1])],
    }
}

fn cred() -> Cred {
    Cred { token: "a.b+c".into(), csrf: Some("x y".into()) }
}

fn text(mode: Mode) -> String {
    let bytes = request(&target(), mode, &cred()).unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

const FIXED: &str = "Host: 127.0.0.1:9000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn requests_carry_the_credential_as_the_dialer_does() {
    assert_eq!(text(Mode::Query), format!("GET /ws?token=a.b%2Bc HTTP/1.1\r\n{FIXED}\r\n"));
    assert_eq!(
        text(Mode::Header),
        format!("GET /ws HTTP/1.1\r\n{FIXED}Authorization: Bearer a.b+c\r\n\r\n")
    );
    assert_eq!(
        text(Mode::Subprotocol),
        format!("GET /ws HTTP/1.1\r\n{FIXED}Sec-WebSocket-Protocol: wsauth, bearer.a.b+c\r\n\r\n")
    );
    assert_eq!(
        text(Mode::Cookie),
        format!(
            "GET /ws?csrf_token=x+y HTTP/1.1\r\n{FIXED}Cookie: access_token_cookie=a.b+c\r\n\
             Origin: http://127.0.0.1:9000\r\n\r\n"
        )
    );
}

#[test]
fn unsupported_modes_and_header_injection_are_refused() {
    assert!(request(&target(), Mode::Ticket, &cred()).is_err());
    assert!(request(&target(), Mode::FirstMessage, &cred()).is_err());
    let evil = Cred { token: "t\r\nX-Evil: 1".into(), csrf: None };
    assert!(request(&target(), Mode::Header, &evil).is_err());
    assert!(!supports(Mode::Ticket) && supports(Mode::Cookie));
}

#[test]
fn the_accept_key_is_rfc_6455s() {
    assert_eq!(derive_accept_key(KEY.as_bytes()).as_bytes(), ACCEPT);
}

#[test]
fn response_heads() {
    let ok = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
        SEC-WEBSOCKET-ACCEPT:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi";
    assert_eq!(parse_head(ok, ACCEPT).ok(), Some(Some(ok.len() - 4)));
    assert_eq!(parse_head(&ok[..40], ACCEPT).ok(), Some(None));
    let denied = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 3\r\n\r\nno!";
    assert!(matches!(parse_head(denied, ACCEPT), Err(Fail::Status(401))));
    let wrong = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
    assert!(matches!(parse_head(wrong, ACCEPT), Err(Fail::Handshake)));
    let missing = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    assert!(matches!(parse_head(missing, ACCEPT), Err(Fail::Handshake)));
    assert!(matches!(parse_head(b"SSH-2.0\r\n\r\n", ACCEPT), Err(Fail::Handshake)));
}

#[test]
fn frames() {
    assert_eq!(parse_frame(b"").ok(), Some(Parsed::Need(2)));
    assert_eq!(parse_frame(b"\x81\x02h").ok(), Some(Parsed::Need(4)));
    assert_eq!(parse_frame(b"\x81\x02hi!").ok(), Some(Parsed::Done(Frame::Text(b"hi"), 4)));
    assert_eq!(parse_frame(b"\x89\x00").ok(), Some(Parsed::Done(Frame::PingPong, 2)));
    assert_eq!(parse_frame(b"\x8a\x01p").ok(), Some(Parsed::Done(Frame::PingPong, 3)));
    assert_eq!(parse_frame(b"\x82\x01b").ok(), Some(Parsed::Done(Frame::Other, 3)));
    // Fragmented (no FIN) and compressed (RSV1) text are not a first frame.
    assert_eq!(parse_frame(b"\x01\x01a").ok(), Some(Parsed::Done(Frame::Other, 3)));
    assert_eq!(parse_frame(b"\xc1\x01a").ok(), Some(Parsed::Done(Frame::Other, 3)));
    assert_eq!(
        parse_frame(b"\x88\x05\x0f\xa3bye").ok(),
        Some(Parsed::Done(Frame::Close(Some(4003)), 7))
    );
    assert_eq!(parse_frame(b"\x88\x00").ok(), Some(Parsed::Done(Frame::Close(None), 2)));
    // Server frames are never masked.
    assert!(matches!(parse_frame(b"\x81\x82abcdxx"), Err(Fail::Unexpected)));
}

#[test]
fn extended_lengths_and_oversize() {
    let mut long = vec![0x81, 126, 0x01, 0x2c];
    assert_eq!(parse_frame(&long[..3]).ok(), Some(Parsed::Need(4)));
    assert_eq!(parse_frame(&long).ok(), Some(Parsed::Need(304)));
    long.resize(304, b'x');
    assert_eq!(parse_frame(&long).ok(), Some(Parsed::Done(Frame::Text(&long[4..]), 304)));
    let mut huge = vec![0x81, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
    assert_eq!(parse_frame(&huge[..9]).ok(), Some(Parsed::Need(10)));
    assert_eq!(parse_frame(&huge).ok(), Some(Parsed::Need(266)));
    huge[8] = 0x01;
    huge[7] = 0x01; // 65 792 bytes: over the limit
    assert!(matches!(parse_frame(&huge), Err(Fail::Unexpected)));
    let mut absurd = vec![0x81, 127];
    absurd.extend_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(parse_frame(&absurd), Err(Fail::Unexpected)));
}

#[test]
fn the_close_frame_is_a_masked_empty_close() {
    let mut cursor = std::io::Cursor::new(&CLOSE_FRAME[..]);
    let parsed = FrameHeader::parse(&mut cursor).ok().flatten();
    let Some((header, len)) = parsed else { panic!("not a frame header") };
    assert!(header.is_final && header.mask.is_some());
    assert_eq!(len, 0);
    assert_eq!(cursor.position(), 6);
    assert_eq!(CLOSE_FRAME[0], 0x88);
}

fn dialer(expect: Expect) -> RawDialer {
    let dialer = RawDialer::new(&target(), Mode::Header, expect, Duration::from_secs(5), &[cred()]);
    dialer.unwrap_or_else(|e| panic!("{e}"))
}

/// A client end and a server end that move at most 7 bytes at a time.
fn trickle() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(7)
}

/// Plays `reply` to the request, in pieces, then hangs up.
async fn upgrade_against(expect: Expect, reply: Vec<u8>) -> Result<(), Fail> {
    let (mut client, mut server) = trickle();
    let serve = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") && server.read(&mut byte).await.unwrap_or(0) == 1 {
            seen.push(byte[0]);
        }
        let _ = server.write_all(&reply).await;
    });
    let dialer = dialer(expect);
    let mut inbox = Inbox::new();
    let result = dialer.upgrade(&mut client, &dialer.requests[0], &mut inbox).await;
    // Unblocks a server still writing what the client will not read.
    drop(client);
    let _ = serve.await;
    result
}

fn head() -> Vec<u8> {
    b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        .to_vec()
}

#[tokio::test]
async fn split_reads_reach_the_first_text_frame() {
    let mut reply = head();
    reply.extend_from_slice(b"\x89\x00");
    let welcome = br#"{"type":"welcome","pad":"PAD"}"#.repeat(10);
    reply.extend_from_slice(&[0x81, 126, 0, 0]);
    let n = u16::try_from(welcome.len()).unwrap_or_default().to_be_bytes();
    reply[head().len() + 4..head().len() + 6].copy_from_slice(&n);
    reply.extend_from_slice(&welcome);
    // Ten copies of an object are not one object: a text frame that fails the check.
    assert!(matches!(upgrade_against(Expect::Welcome, reply.clone()).await, Err(Fail::Unexpected)));
    let text = Expect::Text(String::from_utf8(welcome).unwrap_or_default());
    assert!(upgrade_against(text, reply).await.is_ok());
}

#[tokio::test]
async fn failures_over_the_wire() {
    let denied = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n".to_vec();
    assert!(matches!(upgrade_against(Expect::Welcome, denied).await, Err(Fail::Status(401))));
    let mut closed = head();
    closed.extend_from_slice(b"\x88\x02\x0f\xa1");
    assert!(matches!(
        upgrade_against(Expect::Welcome, closed).await,
        Err(Fail::Closed(Some(4001)))
    ));
    assert!(matches!(upgrade_against(Expect::Welcome, head()).await, Err(Fail::Closed(None))));
    assert!(upgrade_against(Expect::Any, head()).await.is_ok());
    let mut oversize = head();
    oversize.extend_from_slice(&[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert!(matches!(upgrade_against(Expect::Welcome, oversize).await, Err(Fail::Unexpected)));
    let endless = vec![b'x'; 2 * MAX_HEAD];
    assert!(matches!(upgrade_against(Expect::Any, endless).await, Err(Fail::Handshake)));
}

#[tokio::test]
async fn a_tungstenite_server_accepts_the_request_and_the_close() {
    let (mut client, server) = trickle();
    let serve = tokio::spawn(async move {
        let mut ws = tokio_tungstenite::accept_async(server).await.ok()?;
        ws.send(Message::text(r#"{"type":"welcome"}"#)).await.ok()?;
        let first = ws.next().await?.ok()?;
        while let Some(Ok(_)) = ws.next().await {}
        Some(first.is_close())
    });
    let dialer = dialer(Expect::Welcome);
    let mut inbox = Inbox::new();
    assert!(dialer.upgrade(&mut client, &dialer.requests[0], &mut inbox).await.is_ok());
    close_cleanly(client, &mut inbox, Duration::from_secs(5)).await;
    assert_eq!(serve.await.ok().flatten(), Some(true));
}
