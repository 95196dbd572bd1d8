//! The authenticating proxy against a real upstream (`proxy_upstream.rs`):
//! frames both ways, the identity the upstream receives, the credential it
//! never does, subprotocols, and 502 before any upgrade.

use crate::proxy_upstream::{Answer, EchoUpstream};
use crate::support::*;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use wsauth_server::proxy::ProxyRoute;

/// A server proxying `/chat` to a fresh upstream's `/echo`.
pub async fn proxied(edit: impl FnOnce(&mut wsauth_server::Config)) -> (TestServer, EchoUpstream) {
    let upstream = EchoUpstream::start(Answer::Accept).await;
    let url = upstream.url("/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![ProxyRoute::new("/chat", url)];
        edit(c);
    })
    .await;
    (server, upstream)
}

pub async fn next_message(ws: &mut Ws) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("stream ended")
            .expect("frame error");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

#[tokio::test]
async fn frames_cross_both_ways_as_they_are_and_the_identity_arrives() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}&room=7"), &[]).await.expect("101");
    ws.send(Message::text("hello upstream")).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::text("hello upstream"));
    let binary = Bytes::from((0..=255u8).collect::<Vec<_>>());
    ws.send(Message::Binary(binary.clone())).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::Binary(binary));

    let seen = upstream.handshakes();
    assert_eq!(seen.len(), 1);
    let handshake = &seen[0];
    assert_eq!(handshake.target, "/echo?room=7", "the query is kept, its token is not");
    assert_eq!(handshake.header("x-wsauth-sub"), Some("alice"));
    let claims = handshake.header("x-wsauth-claims").expect("claims header");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).expect("base64url"),
    )
    .expect("json");
    assert_eq!(claims, segment(&access, 1), "the verified claims, as JSON");
    assert!(!handshake.raw().contains(&access), "{}", handshake.raw());
}

#[tokio::test]
async fn the_credential_never_reaches_the_upstream_whatever_carried_it() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let origin = server.origin();
    // A bearer header.
    let auth = format!("Bearer {access}");
    let _ = server.ws("/chat", &[("Authorization", &auth)]).await.expect("header");
    // The subprotocol pair.
    let offer = format!("wsauth, bearer.{access}");
    let _ = server.ws("/chat", &[("Sec-WebSocket-Protocol", &offer)]).await.expect("subprotocol");
    // A ticket.
    let ticket = server.ticket(&access).await;
    let _ = server.ws(&format!("/chat?ticket={ticket}"), &[]).await.expect("ticket");
    // The cookie with its CSRF companion (and an unrelated cookie that is kept).
    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_access_token").to_owned();
    let jar = format!("theme=dark; {}", cookie_header(&cookies));
    let path = format!("/chat?csrf_token={csrf}");
    let _ = server.ws(&path, &[("Cookie", &jar), ("Origin", &origin)]).await.expect("cookie");

    let seen = upstream.handshakes();
    assert_eq!(seen.len(), 4);
    let secrets = [
        access.clone(),
        ticket,
        csrf,
        cookie(&cookies, "access_token_cookie").to_owned(),
        cookie(&cookies, "refresh_token_cookie").to_owned(),
    ];
    for handshake in &seen {
        let raw = handshake.raw();
        for secret in &secrets {
            assert!(!raw.contains(secret.as_str()), "a credential reached the upstream:\n{raw}");
        }
        assert!(handshake.header("authorization").is_none(), "{raw}");
        assert_eq!(handshake.header("x-wsauth-sub"), Some("alice"), "{raw}");
    }
    assert_eq!(seen[3].header("cookie"), Some("theme=dark"), "other cookies are kept");
}

#[tokio::test]
async fn a_spoofed_identity_from_the_client_never_arrives() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let spoofed = [
        ("X-Wsauth-Sub", "admin"),
        ("x-wsauth-claims", "eyJzdWIiOiJhZG1pbiJ9"),
        ("X-Wsauth-Role", "root"),
    ];
    let _ = server.ws(&format!("/chat?token={access}"), &spoofed).await.expect("101");
    let handshake = &upstream.handshakes()[0];
    let subs: Vec<_> = handshake.headers.iter().filter(|(n, _)| n == "x-wsauth-sub").collect();
    assert_eq!(subs.len(), 1, "{}", handshake.raw());
    assert_eq!(handshake.header("x-wsauth-sub"), Some("alice"));
    assert!(handshake.header("x-wsauth-role").is_none());
    assert!(!handshake.raw().contains("eyJzdWIiOiJhZG1pbiJ9"));
}

#[tokio::test]
async fn the_upstreams_subprotocol_reaches_the_client_and_bearer_entries_never_go_up() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let offer = format!("wsauth, bearer.{access}, chat.v2, chat.v1");
    let (_, response) =
        server.ws("/chat", &[("Sec-WebSocket-Protocol", &offer)]).await.expect("101");
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    // Only the bearer pair: the client's 101 carries wsauth.
    let offer = format!("wsauth, bearer.{access}");
    let (_, response) =
        server.ws("/chat", &[("Sec-WebSocket-Protocol", &offer)]).await.expect("101");
    assert_eq!(response.headers()["sec-websocket-protocol"], "wsauth");
    let seen = upstream.handshakes();
    assert_eq!(seen[0].header("sec-websocket-protocol"), Some("chat.v2, chat.v1"));
    assert_eq!(seen[1].header("sec-websocket-protocol"), None);
}

#[tokio::test]
async fn close_codes_and_reasons_cross_both_ways() {
    let (server, upstream) = proxied(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    ws.send(Message::text("close:4321:see you")).await.expect("send");
    assert_eq!(next_close(&mut ws).await, (4321, "see you".to_owned()));

    let (mut ws, _) = server.ws(&format!("/chat?token={access}"), &[]).await.expect("101");
    let frame = CloseFrame { code: 4000.into(), reason: "done here".into() };
    ws.send(Message::Close(Some(frame))).await.expect("close");
    assert_eq!(upstream.closes(1).await, vec![(4000, "done here".to_owned())]);
}

#[tokio::test]
async fn an_unreachable_or_refusing_upstream_is_502_before_any_upgrade() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let refusing = EchoUpstream::start(Answer::Refuse).await;
    let refusing_url = refusing.url("/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![
            ProxyRoute::new("/gone", format!("ws://127.0.0.1:{closed_port}/echo")),
            ProxyRoute::new("/refusing", refusing_url),
        ];
    })
    .await;
    let (access, _) = server.login("alice").await;
    let gone = rejected(server.ws(&format!("/gone?token={access}"), &[]).await).await;
    gone.assert(502, "upstream_unreachable");
    let refused = rejected(server.ws(&format!("/refusing?token={access}"), &[]).await).await;
    refused.assert(502, "upstream_refused");
    assert_eq!(refusing.handshakes().len(), 1, "the refusing upstream was asked once");
    // A bad credential is refused by wsauth: the upstream is never dialled.
    let bad = rejected(server.ws("/refusing?token=not-a-jwt", &[]).await).await;
    bad.assert_401("invalid_token");
    assert_eq!(refusing.handshakes().len(), 1);
}

#[tokio::test]
async fn invalid_proxy_settings_stop_the_server_at_start() {
    for (route, expected) in [
        (ProxyRoute::new("/ws", "ws://127.0.0.1:1/x"), "collides"),
        (ProxyRoute::new("/openapi.json", "ws://127.0.0.1:1/x"), "collides"),
        (ProxyRoute::new("/chat", "http://127.0.0.1:1/x"), "ws://"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path().join("data"));
        cfg.proxy = vec![route];
        let file = dir.path().join("wsauth.toml");
        std::fs::write(&file, toml_of(&cfg)).expect("config file");
        // Taking one of wsauth's own paths is refused where the route table
        // is known: by `load_config` (what the binary loads with) and by
        // `Application::build`; anything else by `Config` itself already.
        let error = wsauth_server::app::load_config(Some(&file), &Default::default())
            .expect_err(expected)
            .to_string();
        assert!(error.contains(expected), "{error}");
        let built = wsauth_server::Application::build(cfg).await.err().expect(expected);
        assert!(built.to_string().contains(expected), "{built}");
        if expected == "collides" {
            assert!(!dir.path().join("data").exists(), "refused before anything is created");
        }
    }
    let overrides = wsauth_server::Overrides {
        proxy: vec![
            ProxyRoute::parse_flag("/a=ws://127.0.0.1:1/x").expect("flag"),
            ProxyRoute::parse_flag("/a=ws://127.0.0.1:2/y").expect("flag"),
        ],
        ..Default::default()
    };
    let error = wsauth_server::Config::from_toml("", &overrides).expect_err("twice").to_string();
    assert!(error.contains("configured twice"), "{error}");
}

fn toml_of(cfg: &wsauth_server::Config) -> String {
    let routes: Vec<String> = cfg
        .proxy
        .iter()
        .map(|r| format!("[[proxy]]\npath = {:?}\nupstream = {:?}\n", r.path, r.upstream))
        .collect();
    routes.join("\n")
}

#[tokio::test]
async fn each_route_applies_its_own_check() {
    let upstream = EchoUpstream::start(Answer::Accept).await;
    let url = upstream.url("/echo");
    let server = TestServer::start_config(|c| {
        let route = |path: &str, check| ProxyRoute { check, ..ProxyRoute::new(path, url.clone()) };
        c.proxy = vec![
            route("/open", wsauth_server::proxy::ProxyCheck::Optional),
            route("/fresh", wsauth_server::proxy::ProxyCheck::Fresh),
            ProxyRoute {
                identity_headers: vec![wsauth_server::proxy::IdentityHeader::Sub],
                ..ProxyRoute::new("/sub-only", url.clone())
            },
        ];
    })
    .await;
    // Optional: no credential is fine and no identity goes up; a bad one is refused.
    let _ = server.ws("/open?case=anonymous", &[("X-Wsauth-Sub", "admin")]).await.expect("101");
    rejected(server.ws("/open?token=garbage", &[]).await).await.assert_401("invalid_token");
    // Fresh: a token from a password login passes, a refreshed one does not.
    let (access, refresh) = server.login("alice").await;
    let _ = server.ws(&format!("/fresh?token={access}&case=fresh"), &[]).await.expect("101");
    let pair: Value =
        server.post_bearer("/auth/refresh", &refresh).await.json().await.expect("json");
    let stale = str_of(&pair, "access_token");
    let refused = rejected(server.ws(&format!("/fresh?token={stale}"), &[]).await).await;
    refused.assert_401("fresh_token_required");
    let _ = server.ws(&format!("/sub-only?token={access}&case=sub"), &[]).await.expect("101");

    let seen = upstream.handshakes();
    assert_eq!(seen.len(), 3, "refused handshakes never reach the upstream");
    let anonymous = &seen[0];
    assert!(anonymous.target.ends_with("case=anonymous"));
    assert!(
        anonymous.headers.iter().all(|(n, _)| !n.starts_with("x-wsauth-")),
        "{}",
        anonymous.raw()
    );
    assert_eq!(seen[1].header("x-wsauth-sub"), Some("alice"));
    assert_eq!(seen[2].header("x-wsauth-sub"), Some("alice"));
    assert_eq!(seen[2].header("x-wsauth-claims"), None);
}
