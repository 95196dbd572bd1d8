//! A revocation that lands while a socket is being authenticated: between the
//! revocation check and the socket's registration as live. A store stands in
//! front of the in-memory one and holds the check of one token until the test
//! has revoked it (the answer was already computed, as a real store's would
//! be in flight). The socket must end with 4003 all the same: in the
//! handshake (`WsGuard`), in first-message auth and in in-band refresh.
//! A store that fails closes a first-message socket, and one rebound by an
//! in-band refresh, with 1013.

use async_trait::async_trait;
use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use wsauth::{
    Algorithm, Claims, DeferredGuard, Incoming, IssueOptions, Key, KeySet, LiveSocket,
    MemoryRevocationStore, RevocationEvent, RevocationStore, StoreError, TokenAuthority, WsAuth,
    WsGuard,
};

/// Holds the check of one `jti` until released; can be told to fail.
struct HeldStore {
    inner: MemoryRevocationStore,
    hold: Mutex<Option<String>>,
    checked: Notify,
    release: Semaphore,
    failing: Mutex<bool>,
}

impl HeldStore {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryRevocationStore::new(),
            hold: Mutex::new(None),
            checked: Notify::new(),
            release: Semaphore::new(0),
            failing: Mutex::new(false),
        })
    }

    fn hold(&self, jti: &str) {
        *self.hold.lock().expect("lock") = Some(jti.to_owned());
    }
}

#[async_trait]
impl RevocationStore for HeldStore {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.inner.revoke_token(jti, exp).await
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        self.inner.revoke_subject_before(sub, before).await
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        if *self.failing.lock().expect("lock") {
            return Err(StoreError("backend down".into()));
        }
        let answer = self.inner.is_revoked(claims).await;
        let held = self.hold.lock().expect("lock").take_if(|jti| *jti == claims.jti).is_some();
        if held {
            self.checked.notify_one();
            let _ = self.release.acquire().await.map(|p| p.forget());
        }
        answer
    }
}

async fn live(socket: LiveSocket) {
    let mut socket = socket;
    socket.send(Message::text("welcome"));
    while let Some(Incoming::Text(text)) = socket.recv().await {
        socket.send(Message::text(text));
    }
}

async fn ws(guard: WsGuard) -> Response {
    guard.on_upgrade_live(live)
}

async fn deferred(guard: DeferredGuard) -> Response {
    guard.on_upgrade(live)
}

struct App {
    base: String,
    auth: WsAuth,
    store: Arc<HeldStore>,
}

async fn serve() -> App {
    let key = Key::generate(Algorithm::HS256).expect("key");
    let store = HeldStore::new();
    let auth =
        WsAuth::builder(TokenAuthority::new(KeySet::new(key))).revocation(store.clone()).build();
    let app = Router::new()
        .route("/ws", get(ws))
        .route("/ws/deferred", get(deferred))
        .with_state(auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("ws://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    App { base, auth, store }
}

impl App {
    fn token(&self) -> (String, Claims) {
        let issued =
            self.auth.tokens().issue_access("alice", IssueOptions::default()).expect("issue");
        (issued.token, issued.claims)
    }

    /// Revokes a token the way a server does: store, then close live sockets.
    async fn revoke(&self, claims: &Claims) {
        self.store.revoke_token(&claims.jti, claims.exp).await.expect("revoke");
        self.auth.live().notify(&RevocationEvent::Tokens(vec![claims.jti.clone()]));
    }

    /// Waits for the held check, revokes the token meanwhile, then lets the check answer.
    async fn revoke_during_check(&self, claims: &Claims) {
        tokio::time::timeout(Duration::from_secs(10), self.store.checked.notified())
            .await
            .expect("the revocation check was reached");
        self.revoke(claims).await;
        self.store.release.add_permits(1);
    }
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads until the close frame; the close code, or 1006 if the connection just dropped.
async fn close_code(ws: &mut Client) -> u16 {
    let read = async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(WsMessage::Close(Some(frame))) => return u16::from(frame.code),
                Ok(WsMessage::Close(None)) | Err(_) => return 1006,
                Ok(_) => {}
            }
        }
        1006
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the socket was closed")
}

#[tokio::test]
async fn a_revocation_landing_mid_handshake_still_closes_the_socket() {
    let app = serve().await;
    let (token, claims) = app.token();
    app.store.hold(&claims.jti);
    let url = format!("{}/ws?token={token}", app.base);
    let (connected, ()) =
        tokio::join!(tokio_tungstenite::connect_async(url), app.revoke_during_check(&claims));
    match connected {
        // Upgraded: the socket must be closed as revoked, never served.
        Ok((mut ws, _)) => assert_eq!(close_code(&mut ws).await, 4003),
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(e) => panic!("{e}"),
    }
    // The server side unregisters once its close handshake is over.
    let unregistered = async {
        while !app.auth.live().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), unregistered)
        .await
        .expect("no live socket is left bound to a revoked token");
}

#[tokio::test]
async fn a_revocation_landing_during_first_message_auth_still_closes_the_socket() {
    let app = serve().await;
    let (token, claims) = app.token();
    app.store.hold(&claims.jti);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/deferred", app.base)).await.expect("101");
    let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
    ws.send(WsMessage::text(auth)).await.expect("send");
    app.revoke_during_check(&claims).await;
    assert_eq!(close_code(&mut ws).await, 4003);
}

#[tokio::test]
async fn a_revocation_landing_during_in_band_refresh_still_closes_the_socket() {
    let app = serve().await;
    let (first, _) = app.token();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/ws?token={first}", app.base))
        .await
        .expect("101");
    assert_eq!(ws.next().await.expect("frame").expect("welcome"), WsMessage::text("welcome"));
    let (second, claims) = app.token();
    app.store.hold(&claims.jti);
    let refresh = serde_json::json!({"type": "refresh", "token": second}).to_string();
    ws.send(WsMessage::text(refresh)).await.expect("send");
    app.revoke_during_check(&claims).await;
    assert_eq!(close_code(&mut ws).await, 4003);
}

#[tokio::test]
async fn first_message_auth_closes_1013_when_the_revocation_store_is_down() {
    let app = serve().await;
    let (token, _) = app.token();
    *app.store.failing.lock().expect("lock") = true;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/deferred", app.base)).await.expect("101");
    let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
    ws.send(WsMessage::text(auth)).await.expect("send");
    assert_eq!(close_code(&mut ws).await, 1013);
}

/// The store answers the refresh token's first check, then fails before the
/// check made once the socket is rebound: a backend that cannot answer is
/// 1013 (try again later), never 4003 (revoked, stop for good).
#[tokio::test]
async fn in_band_refresh_closes_1013_not_4003_when_the_store_fails_after_rebinding() {
    let app = serve().await;
    let (first, _) = app.token();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/ws?token={first}", app.base))
        .await
        .expect("101");
    assert_eq!(ws.next().await.expect("frame").expect("welcome"), WsMessage::text("welcome"));
    let (second, claims) = app.token();
    app.store.hold(&claims.jti);
    let refresh = serde_json::json!({"type": "refresh", "token": second}).to_string();
    ws.send(WsMessage::text(refresh)).await.expect("send");
    tokio::time::timeout(Duration::from_secs(10), app.store.checked.notified())
        .await
        .expect("the revocation check was reached");
    *app.store.failing.lock().expect("lock") = true;
    app.store.release.add_permits(1);
    assert_eq!(close_code(&mut ws).await, 1013);
}
