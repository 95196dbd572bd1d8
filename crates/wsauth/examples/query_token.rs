//! The seed's query-token example, rewritten with wsauth: `POST /login` issues
//! an access and a refresh token; `/ws?token=` is checked before the upgrade
//! (401 with a JSON reason on failure, never a 101), then greets the user.
//!
//! Run: `cargo run -p wsauth --example query_token`, then
//! `curl -XPOST 127.0.0.1:8000/login -H 'content-type: application/json'
//!   -d '{"username":"test","password":"test"}'` and open
//! `ws://127.0.0.1:8000/ws?token=<access_token>`.

use axum::extract::State;
use axum::extract::ws::Message;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use wsauth::{Algorithm, IssueOptions, Key, KeySet, TokenAuthority, WsAuth, WsGuard};

#[derive(Deserialize)]
struct User {
    username: String,
    password: String,
}

async fn login(State(auth): State<WsAuth>, Json(user): Json<User>) -> Response {
    if user.username != "test" || user.password != "test" {
        let body = json!({"detail": "Bad username or password", "error": "bad_credentials"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let tokens = auth.tokens();
    let fresh = IssueOptions { fresh: true, ..Default::default() };
    match (
        tokens.issue_access(&user.username, fresh),
        tokens.issue_refresh(&user.username, IssueOptions::default()),
    ) {
        (Ok(access), Ok(refresh)) => {
            Json(json!({"access_token": access.token, "refresh_token": refresh.token}))
                .into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

// `WsGuard` (the seed's jwt_required) rejects before the upgrade. Use
// `WsGuard<wsauth::Optional>`, `WsGuard<wsauth::Refresh>` or
// `WsGuard<wsauth::Fresh>` for the seed's other three checks.
async fn ws(guard: WsGuard) -> Response {
    guard.on_upgrade(|mut socket, auth| async move {
        let _ = socket.send(Message::text("Successfully Login!")).await;
        let claims = serde_json::to_string(&auth.claims).unwrap_or_default();
        let _ = socket.send(Message::text(format!("Here your decoded token: {claims}"))).await;
        let _ = socket.send(Message::Close(None)).await;
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = Key::generate(Algorithm::HS256)?;
    let auth = WsAuth::builder(TokenAuthority::new(KeySet::new(key)))
        .allowed_origins(["http://127.0.0.1:8000", "http://localhost:8000"])
        .build();
    let app = Router::new().route("/login", post(login)).route("/ws", get(ws)).with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
