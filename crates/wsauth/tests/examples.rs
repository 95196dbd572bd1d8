//! The examples run as a user runs them: each binary started on port 0,
//! driven over HTTP and WebSocket on loopback.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A running example, killed when dropped.
struct Example {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Example {
    /// Starts `target/<profile>/examples/<name>` on port 0 (cargo builds the
    /// examples with the tests).
    fn start(name: &str) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
        let mut child = Command::new(dir.join("examples").join(name))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("example {name} not built ({e}): cargo build --examples"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("listening line");
        let url = line.trim().strip_prefix("listening on ").expect("listening line").to_owned();
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { child, url, http }
    }

    async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("post")
    }

    async fn ws(&self, token: &str) -> Result<Ws, u16> {
        let url = format!("{}/ws?token={token}", self.url.replacen("http", "ws", 1));
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("handshake: {e}"),
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
        match frame.expect("a frame within 5 s").expect("open").expect("frame") {
            Message::Text(text) => return serde_json::from_str(&text).expect("json"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
        match frame.expect("a close within 5 s") {
            Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
            Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

async fn token(r: reqwest::Response, field: &str) -> String {
    assert!(r.status().is_success(), "{}", r.status());
    let body: Value = r.json().await.expect("json");
    body[field].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn chat_broadcasts_to_the_room_and_a_logout_closes_the_member_with_4003() {
    let chat = Example::start("chat");
    let alice =
        token(chat.post("/login", json!({"username": "alice"}), None).await, "access_token").await;
    let bob =
        token(chat.post("/login", json!({"username": "bob"}), None).await, "access_token").await;
    let mut a = chat.ws(&alice).await.expect("alice joins");
    assert_eq!(next_json(&mut a).await, json!({"type": "joined", "who": "alice"}));
    let mut b = chat.ws(&bob).await.expect("bob joins");
    assert_eq!(next_json(&mut a).await, json!({"type": "joined", "who": "bob"}));
    assert_eq!(next_json(&mut b).await, json!({"type": "joined", "who": "bob"}));

    a.send(Message::text("hello room")).await.expect("send");
    let said = json!({"type": "said", "who": "alice", "text": "hello room"});
    assert_eq!(next_json(&mut b).await, said);
    assert_eq!(next_json(&mut a).await, said);

    assert_eq!(chat.post("/logout", json!({}), Some(&bob)).await.status(), 200);
    assert_eq!(close_code(&mut b).await, 4003);
    assert_eq!(next_json(&mut a).await, json!({"type": "left", "who": "bob"}));
    assert_eq!(chat.ws(&bob).await.err(), Some(401), "the revoked token opens nothing");
}

#[tokio::test]
async fn own_users_register_log_in_refresh_and_log_out_everywhere() {
    let app = Example::start("own_users");
    let alice = json!({"username": "alice", "password": "correct horse battery"});
    assert_eq!(app.post("/register", alice.clone(), None).await.status(), 201);
    assert_eq!(app.post("/register", alice.clone(), None).await.status(), 409);
    let wrong = json!({"username": "alice", "password": "not her password"});
    assert_eq!(app.post("/login", wrong, None).await.status(), 401);
    let nobody = json!({"username": "nobody", "password": "correct horse battery"});
    assert_eq!(app.post("/login", nobody, None).await.status(), 401);

    let login = app.post("/login", alice, None).await;
    let body: Value = login.json().await.expect("json");
    let (access, refresh) = (body["access_token"].as_str(), body["refresh_token"].as_str());
    let (access, refresh) = (access.expect("access"), refresh.expect("refresh"));
    assert_eq!(app.ws(refresh).await.err(), Some(401), "a refresh token opens no socket");
    let mut ws = app.ws(access).await.expect("101");
    assert_eq!(next_json(&mut ws).await, json!({"type": "hello", "user": "alice"}));

    let renewed = token(app.post("/refresh", json!({}), Some(refresh)).await, "access_token").await;
    assert_ne!(renewed, access);
    assert_eq!(app.post("/logout-all", json!({}), Some(&renewed)).await.status(), 200);
    assert_eq!(close_code(&mut ws).await, 4003);
    assert_eq!(app.ws(access).await.err(), Some(401));
}
