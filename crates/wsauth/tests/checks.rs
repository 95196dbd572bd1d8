//! The four checks (required, optional, refresh, fresh) on HTTP routes and on
//! guarded WebSocket routes of a small axum app served on port 0; key
//! rotation; and the in-memory stores.

use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use std::sync::Arc;
use wsauth::{
    AccessToken, Algorithm, Fresh, FreshAccessToken, IssueOptions, Key, KeySet, ManualClock,
    Optional, Refresh, RefreshToken, TokenAuthority, WsAuth, WsGuard,
};

async fn http_required(AccessToken(c): AccessToken) -> String {
    c.sub
}
async fn http_optional(token: Option<AccessToken>) -> String {
    token.map_or_else(|| "anonymous".to_owned(), |t| t.0.sub)
}
async fn http_refresh(RefreshToken(c): RefreshToken) -> String {
    c.sub
}
async fn http_fresh(FreshAccessToken(c): FreshAccessToken) -> String {
    c.sub
}

async fn ws_required(guard: WsGuard) -> Response {
    guard.on_upgrade(|mut s, a| async move {
        let _ = s.send(Message::text(a.claims.sub)).await;
    })
}
async fn ws_optional(guard: WsGuard<Optional>) -> Response {
    guard.on_upgrade(|mut s, a| async move {
        let who = a.map_or_else(|| "anonymous".to_owned(), |a| a.claims.sub);
        let _ = s.send(Message::text(who)).await;
    })
}
async fn ws_refresh(guard: WsGuard<Refresh>) -> Response {
    guard.on_upgrade(|mut s, a| async move {
        let _ = s.send(Message::text(a.claims.sub)).await;
    })
}
async fn ws_fresh(guard: WsGuard<Fresh>) -> Response {
    guard.on_upgrade(|mut s, a| async move {
        let _ = s.send(Message::text(a.claims.sub)).await;
    })
}

struct App {
    base: String,
    auth: WsAuth,
}

async fn serve(auth: WsAuth) -> App {
    let app = Router::new()
        .route("/http/required", get(http_required))
        .route("/http/optional", get(http_optional))
        .route("/http/refresh", get(http_refresh))
        .route("/http/fresh", get(http_fresh))
        .route("/ws/required", get(ws_required))
        .route("/ws/optional", get(ws_optional))
        .route("/ws/refresh", get(ws_refresh))
        .route("/ws/fresh", get(ws_fresh))
        .with_state(auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    App { base, auth }
}

fn authority() -> TokenAuthority {
    TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")))
}

/// What a route answered: the body for a 200 or a first frame, the status otherwise.
async fn http(app: &App, route: &str, token: Option<&str>) -> Result<String, u16> {
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let mut req = client.get(format!("http://{}/http/{route}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("send");
    if r.status() == 200 { Ok(r.text().await.expect("text")) } else { Err(r.status().as_u16()) }
}

async fn ws(app: &App, route: &str, token: Option<&str>) -> Result<String, u16> {
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    match tokio_tungstenite::connect_async(format!("ws://{}/ws/{route}{query}", app.base)).await {
        Ok((mut socket, _)) => match socket.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => Ok(t.to_string()),
            other => panic!("expected a text frame, got {other:?}"),
        },
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn the_four_checks_on_http_and_websocket_routes() {
    let app = serve(WsAuth::builder(authority()).build()).await;
    let tokens = app.auth.tokens();
    let fresh = tokens
        .issue_access("alice", IssueOptions { fresh: true, ..Default::default() })
        .expect("issue")
        .token;
    let stale = tokens.issue_access("alice", IssueOptions::default()).expect("issue").token;
    let refresh = tokens.issue_refresh("alice", IssueOptions::default()).expect("issue").token;
    let alice = || Ok("alice".to_owned());
    // (route, no token, fresh access, non-fresh access, refresh, garbage)
    type Outcome = Result<String, u16>;
    let table: [(&str, Outcome, Outcome, Outcome, Outcome, Outcome); 4] = [
        ("required", Err(401), alice(), alice(), Err(401), Err(401)),
        ("optional", Ok("anonymous".into()), alice(), alice(), Err(401), Err(401)),
        ("refresh", Err(401), Err(401), Err(401), alice(), Err(401)),
        ("fresh", Err(401), alice(), Err(401), Err(401), Err(401)),
    ];
    for (route, none, f, s, r, g) in table {
        for transport in ["http", "ws"] {
            let call = |t: Option<String>| {
                let app = &app;
                async move {
                    match transport {
                        "http" => http(app, route, t.as_deref()).await,
                        _ => ws(app, route, t.as_deref()).await,
                    }
                }
            };
            assert_eq!(call(None).await, none, "{transport} {route} no token");
            assert_eq!(call(Some(fresh.clone())).await, f, "{transport} {route} fresh");
            assert_eq!(call(Some(stale.clone())).await, s, "{transport} {route} not fresh");
            assert_eq!(call(Some(refresh.clone())).await, r, "{transport} {route} refresh");
            assert_eq!(call(Some("garbage".into())).await, g, "{transport} {route} garbage");
        }
    }
}

#[tokio::test]
async fn c28_rotation_previous_key_verifies_inside_its_window_only() {
    let clock = ManualClock::new(1_000_000);
    let old_key = Key::generate(Algorithm::EdDSA).expect("key");
    let old = TokenAuthority::new(KeySet::new(old_key.clone())).with_clock(Arc::new(clock.clone()));
    let token = old.issue_access("alice", IssueOptions::default()).expect("issue").token;
    let rotated = TokenAuthority::new(
        KeySet::new(Key::generate(Algorithm::EdDSA).expect("key"))
            .with_previous(old_key, 1_000_600),
    )
    .with_clock(Arc::new(clock.clone()));
    assert!(rotated.verify(&token).is_ok());
    assert_eq!(
        serde_json::to_value(rotated.keys().jwks()).expect("jwks")["keys"].as_array().map(Vec::len),
        Some(2)
    );
    clock.set_secs(1_000_601);
    // Past its window the key is known but retired, which is not "unknown".
    assert_eq!(rotated.verify(&token).err(), Some(wsauth::AuthError::KeyRetired));
    // New tokens are signed with the new key.
    let fresh = rotated.issue_access("alice", IssueOptions::default()).expect("issue").token;
    assert!(old.verify(&fresh).is_err());
}

#[tokio::test]
async fn every_algorithm_signs_and_verifies_and_none_accepts_another_keys_tokens() {
    let pem = include_bytes!("fixtures/rsa2048.pem");
    let keys = [
        Key::generate(Algorithm::HS256).expect("hs256"),
        Key::hmac(Algorithm::HS384, &[3u8; 48]).expect("hs384"),
        Key::hmac(Algorithm::HS512, &[4u8; 64]).expect("hs512"),
        Key::generate(Algorithm::EdDSA).expect("eddsa"),
        Key::generate(Algorithm::ES256).expect("es256"),
        Key::from_private_pem(Algorithm::RS256, pem).expect("rs256"),
        Key::from_private_pem(Algorithm::PS256, pem).expect("ps256"),
    ];
    let authorities: Vec<TokenAuthority> =
        keys.iter().map(|k| TokenAuthority::new(KeySet::new(k.clone()))).collect();
    for (i, a) in authorities.iter().enumerate() {
        let token = a.issue_access("alice", IssueOptions::default()).expect("issue").token;
        for (j, b) in authorities.iter().enumerate() {
            assert_eq!(b.verify(&token).is_ok(), i == j, "key {i} token checked by key {j}");
        }
    }
}

#[tokio::test]
async fn tokens_without_kid_use_the_default_key_only() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let secret = [9u8; 32];
    let current = Key::hmac(Algorithm::HS256, &[1u8; 32]).expect("key");
    let previous = Key::hmac(Algorithm::HS256, &secret).expect("key");
    let a = TokenAuthority::new(KeySet::new(current).with_previous(previous, i64::MAX));
    let now = wsauth::Clock::now(&wsauth::SystemClock);
    let payload =
        format!(r#"{{"sub":"a","iat":{now},"jti":"j","exp":{},"type":"access"}}"#, now + 60);
    let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(payload.as_bytes()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let token = format!("{input}.{}", b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref()));
    assert!(a.verify(&token).is_err(), "a kid-less token must not try the previous keys");
}
