//! Attacks on what the authenticating proxy's upstream receives, each over
//! real sockets against a recording upstream (`proxy_upstream.rs`): identity
//! and forwarding headers spelt with underscores (which CGI, WSGI and Rack
//! read as the dashed name), headers the client names hop-by-hop in
//! `Connection`, forged forwarding headers, and a subject that is not
//! visible ASCII.

use crate::proxy::proxied;
use crate::proxy_upstream::Handshake;
use crate::support::{TestServer, tcp};
use base64::Engine;
use serde_json::{Value, json};

/// A header name as CGI-style servers read it.
fn folded(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Every value of headers whose folded name is `name`, whatever their spelling.
fn values_folded<'h>(handshake: &'h Handshake, name: &str) -> Vec<(&'h str, &'h str)> {
    handshake
        .headers
        .iter()
        .filter(|(n, _)| folded(n) == name)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn underscore_spellings_of_identity_and_forwarding_headers_never_reach_the_upstream() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let spoofed = [
        ("X_Wsauth_Sub", "admin"),
        ("X-Wsauth_Sub", "admin"),
        ("X_WSAUTH_CLAIMS", "eyJzdWIiOiJhZG1pbiJ9"),
        ("X_Forwarded_For", "6.6.6.6"),
        ("X-Real_IP", "6.6.6.6"),
        ("X_CSRF_Token", "spoofed-csrf"),
        ("Sec_WebSocket_Protocol", "bearer.spoofed"),
        ("X-Kept_Header", "kept"),
    ];
    let _ = server.ws(&format!("/chat?token={access}"), &spoofed).await.expect("101");
    let handshake = &upstream.handshakes()[0];
    let raw = handshake.raw();
    assert_eq!(values_folded(handshake, "x-wsauth-sub"), [("x-wsauth-sub", "alice")], "{raw}");
    assert_eq!(values_folded(handshake, "x-wsauth-claims").len(), 1, "{raw}");
    assert_eq!(values_folded(handshake, "x-forwarded-for"), [("x-forwarded-for", "127.0.0.1")]);
    assert_eq!(values_folded(handshake, "x-real-ip"), [("x-real-ip", "127.0.0.1")], "{raw}");
    for planted in ["admin", "eyJzdWIiOiJhZG1pbiJ9", "6.6.6.6", "spoofed-csrf", "bearer.spoofed"] {
        assert!(!raw.contains(planted), "{planted} reached the upstream:\n{raw}");
    }
    assert_eq!(handshake.header("x-kept_header"), Some("kept"), "other headers are kept: {raw}");
}

/// A handshake written byte for byte (a WebSocket client library writes its
/// own `Connection` header), answered with `101`; returns the socket.
async fn raw_handshake(server: &TestServer, path: &str, extra: &[&str]) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tcp(server.addr).await;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        server.addr
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_u8())
            .await
            .expect("an answer in time")
            .expect("read");
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

#[tokio::test]
async fn headers_the_client_names_in_connection_never_reach_the_upstream() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let hop_by_hop = [
        "Connection: Upgrade, X-Hop-Secret, x_other_hop",
        "Connection: X-Third-Hop",
        "X-Hop-Secret: s3cret",
        "X-Other-Hop: s3cond",
        "X_Third_Hop: th1rd",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Trailer: X-Later",
        "Proxy-Connection: keep-alive",
        "X-End-To-End: kept",
    ];
    let _socket = raw_handshake(&server, &format!("/chat?token={access}"), &hop_by_hop).await;
    let handshake = &upstream.handshakes()[0];
    let raw = handshake.raw();
    for name in ["x-hop-secret", "x-other-hop", "x-third-hop", "keep-alive", "te", "trailer"] {
        assert!(values_folded(handshake, name).is_empty(), "{name} reached the upstream:\n{raw}");
    }
    assert!(values_folded(handshake, "proxy-connection").is_empty(), "{raw}");
    for secret in ["s3cret", "s3cond", "th1rd"] {
        assert!(!raw.contains(secret), "{raw}");
    }
    assert_eq!(handshake.header("x-end-to-end"), Some("kept"), "{raw}");
}

/// Forwarding headers a client may forge; none may reach the upstream as sent.
const FORGED: [(&str, &str); 9] = [
    ("X-Forwarded-For", "6.6.6.6"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Server", "evil.example"),
    ("Forwarded", "for=6.6.6.6;proto=https;host=evil.example"),
    ("X-Real-IP", "6.6.6.6"),
    ("True-Client-IP", "6.6.6.6"),
    ("X-Client-IP", "6.6.6.6"),
];

#[tokio::test]
async fn forged_forwarding_headers_are_replaced_by_what_wsauth_knows() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let _ = server.ws(&format!("/chat?token={access}"), &FORGED).await.expect("101");
    let handshake = &upstream.handshakes()[0];
    let raw = handshake.raw();
    assert!(!raw.contains("6.6.6.6") && !raw.contains("evil.example"), "{raw}");
    let host = server.addr.to_string();
    assert_eq!(handshake.header("x-forwarded-for"), Some("127.0.0.1"), "{raw}");
    assert_eq!(handshake.header("x-real-ip"), Some("127.0.0.1"), "{raw}");
    assert_eq!(handshake.header("x-forwarded-proto"), Some("http"), "{raw}");
    assert_eq!(handshake.header("x-forwarded-host"), Some(host.as_str()), "{raw}");
    let forwarded = format!("for=127.0.0.1;host=\"{host}\";proto=http");
    assert_eq!(handshake.header("forwarded"), Some(forwarded.as_str()), "{raw}");
    for gone in ["x-forwarded-port", "x-forwarded-server", "true-client-ip", "x-client-ip"] {
        assert_eq!(handshake.header(gone), None, "{raw}");
    }
    let written = ["x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host"];
    for name in written.into_iter().chain(["forwarded"]) {
        assert_eq!(values_folded(handshake, name).len(), 1, "{name} once: {raw}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_for_the_client_its_scheme_and_its_host() {
    let (server, upstream) = proxied(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let (access, _) = server.login("alice").await;
    let chain = [
        ("X-Forwarded-For", "198.51.100.7, 203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "chat.example"),
        ("X-Real-IP", "198.51.100.7"),
        ("True-Client-IP", "198.51.100.7"),
    ];
    let _ = server.ws(&format!("/chat?token={access}"), &chain).await.expect("101");
    let handshake = &upstream.handshakes()[0];
    let raw = handshake.raw();
    assert_eq!(handshake.header("x-forwarded-for"), Some("203.0.113.9"), "{raw}");
    assert_eq!(handshake.header("x-real-ip"), Some("203.0.113.9"), "{raw}");
    assert_eq!(handshake.header("x-forwarded-proto"), Some("https"), "{raw}");
    assert_eq!(handshake.header("x-forwarded-host"), Some("chat.example"), "{raw}");
    let forwarded = "for=203.0.113.9;host=\"chat.example\";proto=https";
    assert_eq!(handshake.header("forwarded"), Some(forwarded), "{raw}");
    assert!(!raw.contains("198.51.100.7"), "the client's part of the chain stays out: {raw}");
}

#[tokio::test]
async fn a_subject_outside_visible_ascii_arrives_percent_encoded_as_forward_auth_sends_it() {
    let (server, upstream) = proxied(|_| {}).await;
    let sub = "zo\u{eb} \u{1}\r\nX-Wsauth-Sub: admin";
    let token = server.forge(|c| {
        c.insert("sub".into(), json!(sub));
    });
    let expected = "zo%C3%AB%20%01%0D%0AX-Wsauth-Sub:%20admin";
    let _ = server.ws(&format!("/chat?token={token}"), &[]).await.expect("101, not 502");
    let handshake = &upstream.handshakes()[0];
    assert_eq!(values_folded(handshake, "x-wsauth-sub"), [("x-wsauth-sub", expected)]);
    let encoded = handshake.header("x-wsauth-claims").expect("claims");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).expect("base64url"),
    )
    .expect("json");
    assert_eq!(claims["sub"], sub, "the claims carry the subject as it is");

    let verified = server
        .http
        .get(server.url("/auth/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("verify");
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.headers()["x-wsauth-sub"], expected, "one encoding on both front doors");
    assert_eq!(verified.headers()["x-wsauth-claims"], encoded);
}
