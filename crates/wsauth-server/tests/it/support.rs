//! Starting the real server on port 0 with a temporary data directory, and
//! real HTTP and WebSocket clients that talk to it over loopback.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use wsauth::ManualClock;
use wsauth_server::{Application, Config};

pub use crate::databases::TestDatabase;

/// The HS256 secret test servers share with the tests (so tests can forge tokens).
pub const SECRET: &str = "test-secret-that-is-long-enough-0123456789";
pub const PASSWORD: &str = "correct horse battery";

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub auth: wsauth::WsAuth,
    pub clock: ManualClock,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub http: reqwest::Client,
}

pub fn config(data_dir: PathBuf) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir,
        hmac_secret: Some(SECRET.to_owned()),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(dir.path().join("data"));
        Self::start_with(cfg, Some(dir), ManualClock::starting_now()).await
    }

    pub async fn start_config(edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path().join("data"));
        edit(&mut cfg);
        Self::start_with(cfg, Some(dir), ManualClock::starting_now()).await
    }

    /// A server whose stores live in `database` (its keys in a temporary
    /// data directory); several may share one database.
    pub async fn start_on(database: &TestDatabase, edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path().join("data"));
        cfg.database_url = Some(database.url.clone());
        edit(&mut cfg);
        Self::start_with(cfg, Some(dir), ManualClock::starting_now()).await
    }

    pub async fn start_with(
        cfg: Config,
        dir: Option<tempfile::TempDir>,
        clock: ManualClock,
    ) -> Self {
        let data_dir = cfg.data_dir.clone();
        let app = Application::build_with_clock(cfg, Arc::new(clock.clone())).await.expect("build");
        let addr = app.local_addr();
        let auth = app.auth();
        let shutdown = app.shutdown_token();
        let handle = tokio::spawn(app.run());
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { addr, auth, clock, data_dir, _dir: dir, shutdown, handle: Some(handle), http }
    }

    /// Stops the server and waits for it; returns the temp dir to reuse it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        self._dir.take()
    }

    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The server's current time (its clock only moves when a test moves it).
    pub fn now(&self) -> i64 {
        wsauth::Clock::now(&self.clock)
    }

    /// A token for `alice` issued now by the server's clock, signed with the test secret.
    pub fn forge(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
        forge_at(self.now(), edit)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(&body).send().await.expect("post")
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).send().await.expect("post")
    }

    pub async fn register(&self, username: &str) {
        let r =
            self.post("/auth/register", json!({"username": username, "password": PASSWORD})).await;
        assert_eq!(r.status(), 201, "register {username}: {:?}", r.text().await);
    }

    /// Registers (if needed) and logs in; returns (access, refresh).
    pub async fn login(&self, username: &str) -> (String, String) {
        let _ =
            self.post("/auth/register", json!({"username": username, "password": PASSWORD})).await;
        let r = self.post("/auth/login", json!({"username": username, "password": PASSWORD})).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        (str_of(&body, "access_token"), str_of(&body, "refresh_token"))
    }

    /// Cookie login; returns the cookies (name, value) it set.
    pub async fn cookie_login(&self, username: &str) -> Vec<(String, String)> {
        let _ =
            self.post("/auth/register", json!({"username": username, "password": PASSWORD})).await;
        let r = self
            .post("/auth/cookie/login", json!({"username": username, "password": PASSWORD}))
            .await;
        assert_eq!(r.status(), 200);
        set_cookies(&r)
    }

    pub async fn ticket(&self, access: &str) -> String {
        let r = self.post_bearer("/auth/ws-ticket", access).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        str_of(&body, "ticket")
    }

    /// Opens `/ws` (or another path with query) with extra headers.
    pub async fn ws(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<(Ws, tungstenite::handshake::client::Response), Rejected> {
        connect(&self.ws_url(path_and_query), headers).await
    }

    /// Opens `/ws?token=` and reads the welcome frame.
    pub async fn ws_welcome(&self, token: &str) -> (Ws, Value) {
        let (mut ws, _) = self.ws(&format!("/ws?token={token}"), &[]).await.expect("upgrade");
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome");
        (ws, welcome)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An HTTP rejection of a handshake: status, headers and JSON body.
#[derive(Debug)]
pub struct Rejected {
    pub status: u16,
    pub headers: tungstenite::http::HeaderMap,
    pub body: Value,
}

pub async fn connect(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, tungstenite::handshake::client::Response), Rejected> {
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(ok) => Ok(ok),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err(Rejected { status, headers, body })
        }
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

impl Rejected {
    /// Asserts a 401 with the bearer challenge and the given error code.
    pub fn assert_401(&self, code: &str) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(
            self.headers.get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("Bearer error=\"invalid_token\""),
            "{self:?}"
        );
        assert_eq!(self.body["error"], code, "{self:?}");
        assert!(self.body["detail"].is_string(), "{self:?}");
    }

    pub fn assert(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["error"], code, "{self:?}");
    }
}

/// Expects a rejection; fails the test if the handshake was upgraded.
pub async fn rejected(
    result: Result<(Ws, tungstenite::handshake::client::Response), Rejected>,
) -> Rejected {
    match result {
        Ok(_) => panic!("expected a rejection, got 101"),
        Err(r) => r,
    }
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("stream ended")
            .expect("frame error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("json frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.expect("send");
}

/// Reads until the close frame; returns its code and reason.
pub async fn next_close(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timed out waiting for close");
        match msg {
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                return (u16::from(code), reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error instead of a close frame: {e}"),
            None => panic!("stream ended without a close frame"),
        }
    }
}

pub fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}")).to_owned()
}

pub fn set_cookies(r: &reqwest::Response) -> Vec<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub fn cookie<'a>(cookies: &'a [(String, String)], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no cookie {name}"))
}

pub fn cookie_header(cookies: &[(String, String)]) -> String {
    cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

/// Builds and signs an HS256 token from raw header and payload JSON text,
/// exactly as given (for forging malformed tokens).
pub fn sign_raw(header: &str, payload: &str, secret: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig))
}

/// Decodes segment `index` of a compact JWT as JSON (0: header, 1: claims).
pub fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, msg).as_ref().to_vec()
}

/// A payload as fastapi-jwt-auth lays it out, with the given overrides.
pub fn payload(
    sub: &str,
    iat: i64,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> String {
    let mut map = serde_json::Map::new();
    map.insert("sub".into(), json!(sub));
    map.insert("iat".into(), json!(iat));
    map.insert("nbf".into(), json!(iat));
    map.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    map.insert("exp".into(), json!(iat + 900));
    map.insert("type".into(), json!("access"));
    map.insert("fresh".into(), json!(false));
    edit(&mut map);
    Value::Object(map).to_string()
}

pub const HS256_HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

/// A token for `alice` issued at `iat`, signed with the test secret.
pub fn forge_at(iat: i64, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    sign_raw(HS256_HEADER, &payload("alice", iat, edit), SECRET.as_bytes())
}

/// A raw TCP connection to the server from `source`: any 127.x.y.z address
/// works on Linux loopback, so tests can play several client addresses.
pub async fn tcp_from(source: std::net::IpAddr, server: std::net::SocketAddr) -> TcpStream {
    let socket = match source {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .expect("socket");
    socket.bind(std::net::SocketAddr::new(source, 0)).expect("bind source address");
    tokio::time::timeout(Duration::from_secs(5), socket.connect(server))
        .await
        .expect("connect timed out")
        .expect("connect")
}

/// A raw TCP connection from 127.0.0.1.
pub async fn tcp(server: std::net::SocketAddr) -> TcpStream {
    tcp_from([127, 0, 0, 1].into(), server).await
}

/// How a connection ended while a test read it to its end.
#[derive(Debug)]
pub enum Ending {
    /// The server closed it (EOF or reset); the bytes that arrived first.
    Closed(Vec<u8>),
    /// Still open when the budget ran out; the bytes that arrived.
    StillOpen(Vec<u8>),
}

impl Ending {
    /// The bytes received before the close; fails the test if it stayed open.
    pub fn closed(self) -> Vec<u8> {
        match self {
            Self::Closed(bytes) => bytes,
            Self::StillOpen(bytes) => panic!(
                "the server kept the connection open; received {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        }
    }
}

/// Reads until the server closes the connection or `budget` runs out. Keeps
/// at most the first 64 KiB of what it reads.
pub async fn read_to_end_within(stream: &mut TcpStream, budget: Duration) -> Ending {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + budget;
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Ending::StillOpen(kept),
            Ok(Ok(0)) | Ok(Err(_)) => return Ending::Closed(kept),
            Ok(Ok(n)) => {
                let room = (64 * 1024usize).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Sends a complete `GET path` on a raw connection and returns the status
/// line of the answer (the connection is closed after it).
pub async fn raw_get_status(stream: &mut TcpStream, path: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write request");
    let bytes = read_to_end_within(stream, Duration::from_secs(10)).await.closed();
    status_line(&bytes)
}

/// The first line of a raw HTTP response.
pub fn status_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().next().unwrap_or_default().to_owned()
}
