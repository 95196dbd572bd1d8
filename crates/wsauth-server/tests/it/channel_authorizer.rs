//! The application's backend as a source of channel rights
//! (`[channels] authorizer_url`): a real HTTP server, started by the test,
//! that answers as the test tells it to. Its allow holds for its `ttl`, a
//! deny on the next ask ends the subscription live, and an authorizer that
//! does not answer fails closed.

use crate::support::*;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wsauth_server::Config;

const SECRET: &str = "authorizer-secret-long-enough-0123456789";

/// How the backend answers.
#[derive(Clone)]
enum Mode {
    Allow { ttl: f64 },
    Deny,
    Slow,
    Error,
    Huge,
}

/// One question: its `Authorization` header and its body.
type Question = (Option<String>, Value);

#[derive(Clone)]
struct Backend {
    mode: Arc<Mutex<Mode>>,
    asked: Arc<Mutex<Vec<Question>>>,
}

impl Backend {
    fn set(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
    }

    fn questions(&self) -> Vec<Question> {
        self.asked.lock().expect("lock").clone()
    }
}

async fn answer(
    State(backend): State<Backend>,
    headers: HeaderMap,
    Json(question): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    backend.asked.lock().expect("lock").push((auth, question));
    let mode = backend.mode.lock().expect("lock").clone();
    match mode {
        Mode::Allow { ttl } => Json(json!({"allow": true, "ttl": ttl})).into_response(),
        Mode::Deny => Json(json!({"allow": false, "ttl": 60})).into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({"allow": true})).into_response()
        }
        Mode::Error => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Huge => Json(json!({"allow": true, "padding": "x".repeat(5000)})).into_response(),
    }
}

async fn backend(mode: Mode) -> (Backend, String) {
    let backend = Backend { mode: Arc::new(Mutex::new(mode)), asked: Arc::default() };
    let app = axum::Router::new()
        .route("/authorize", axum::routing::post(answer))
        .with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/authorize", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (backend, url)
}

async fn server(url: &str) -> TestServer {
    let url = url.to_owned();
    TestServer::start_config(move |c| {
        c.channels.rules = vec![
            serde_json::from_value(json!({"pattern": "room:*", "actions": ["presence"]}))
                .expect("rule"),
        ];
        c.channels.authorizer_url = Some(url);
        c.channels.authorizer_secret = Some(SECRET.to_owned());
        // Long enough for a busy machine; the slow backend takes 5 s.
        c.channels.authorizer_timeout = 2.0;
    })
    .await
}

async fn subscribe(ws: &mut Ws, channel: &str) -> Value {
    send_json(ws, json!({"type": "subscribe", "id": "1", "channel": channel})).await;
    next_json(ws).await
}

#[tokio::test]
async fn the_backend_is_asked_for_what_the_rules_do_not_grant_with_who_is_asking() {
    let (backend, url) = backend(Mode::Allow { ttl: 60.0 }).await;
    let server = server(&url).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let answer = subscribe(&mut ws, "room:7").await;
    assert_eq!(answer["actions"], json!(["subscribe", "publish", "presence"]), "{answer}");
    let asked = backend.questions();
    let actions: Vec<&str> =
        asked.iter().map(|(_, q)| q["action"].as_str().unwrap_or_default()).collect();
    assert_eq!(actions, ["subscribe", "publish"], "presence came from the rule: not asked");
    let (auth, question) = &asked[0];
    assert_eq!(auth.as_deref(), Some(format!("Bearer {SECRET}").as_str()));
    assert_eq!(
        question,
        &json!({"sub": "alice", "issuer": null, "subject": "alice",
        "channel_sub": "alice", "roles": [], "channel": "room:7", "action": "subscribe"})
    );
    // Answers are kept for their ttl: a second socket is not asked again.
    let (mut again, _) = server.ws_welcome(&access).await;
    assert_eq!(subscribe(&mut again, "room:7").await["type"], "subscribed");
    assert_eq!(backend.questions().len(), 2);
}

#[tokio::test]
async fn a_deny_a_silent_backend_an_error_and_a_huge_answer_all_refuse() {
    let (backend, url) = backend(Mode::Deny).await;
    let server = server(&url).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    assert_eq!(subscribe(&mut ws, "room:1").await["error"], "forbidden");
    for (mode, channel) in [(Mode::Slow, "room:2"), (Mode::Error, "room:3"), (Mode::Huge, "room:4")]
    {
        backend.set(mode);
        let answer = subscribe(&mut ws, channel).await;
        assert_eq!(answer["error"], "unavailable", "{channel}: {answer}");
    }
    send_json(&mut ws, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut ws).await["type"], "echo", "the socket stays open");
}

/// Subscribes with an allow that lasts 0.3 s, switches the backend to
/// `then`, and returns the frame the subscription ends with.
async fn ended_by(then: Mode) -> Value {
    let (backend, url) = backend(Mode::Allow { ttl: 0.3 }).await;
    let server = server(&url).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    assert_eq!(subscribe(&mut ws, "room:1").await["type"], "subscribed");
    backend.set(then);
    let frame = next_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "echo", "data": 2})).await;
    assert_eq!(next_json(&mut ws).await["type"], "echo", "the socket stays open");
    frame
}

#[tokio::test]
async fn when_an_allow_runs_out_a_deny_ends_the_subscription_live() {
    assert_eq!(
        ended_by(Mode::Deny).await,
        json!({"type": "unsubscribed", "channel": "room:1", "reason": "permission_revoked"})
    );
}

#[tokio::test]
async fn when_an_allow_runs_out_a_backend_in_error_ends_the_subscription_as_unavailable() {
    assert_eq!(
        ended_by(Mode::Error).await,
        json!({"type": "unsubscribed", "channel": "room:1", "reason": "unavailable"})
    );
}

#[tokio::test]
async fn an_authorizer_url_over_plain_http_elsewhere_or_a_lone_secret_is_refused() {
    let refused =
        |toml: &str| Config::from_toml(toml, &Default::default()).expect_err("refused").to_string();
    let message = refused("[channels]\nauthorizer_url = \"http://10.0.0.1/authorize\"\n");
    assert!(message.contains("https:// only"), "{message}");
    let message = refused("[channels]\nauthorizer_url = \"https://u:p@example.com/a\"\n");
    assert!(message.contains("user:password@"), "{message}");
    let message = refused(&format!("[channels]\nauthorizer_secret = \"{SECRET}\"\n"));
    assert!(message.contains("without authorizer_url"), "{message}");
    let message = refused(
        "[channels]\nauthorizer_url = \"https://example.com/a\"\nauthorizer_secret = \"short\"\n",
    );
    assert!(message.contains("at least 32 bytes"), "{message}");
    let message = refused("[channels]\nauthorizer_timeout = 0\n");
    assert!(message.contains("authorizer_timeout"), "{message}");
}
