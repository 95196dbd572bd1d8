//! An application with its own user store, built on the library alone:
//! registration and login with Argon2id password hashes (a `HashMap` here;
//! your database in a real application), access and refresh tokens, a
//! refresh route, "log out everywhere", and a WebSocket that greets the
//! user and closes with 4003 when they log out everywhere.
//!
//! Run: `cargo run -p wsauth --example own_users -- --listen 127.0.0.1:3000`,
//! then `POST /register` and `POST /login` with
//! `{"username":"alice","password":"correct horse battery"}`, and open
//! `ws://127.0.0.1:3000/ws?token=<access_token>`.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::extract::ws::Message;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use wsauth::{
    AccessToken, Algorithm, Incoming, IssueOptions, Key, KeySet, RefreshToken, RevocationEvent,
    TokenAuthority, WsAuth, WsGuard,
};

/// An application with its own users.
#[derive(Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
}

/// Username -> Argon2id hash (PHC string).
type Users = Arc<Mutex<HashMap<String, String>>>;

#[derive(Clone, FromRef)]
struct App {
    auth: WsAuth,
    users: Users,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn refused(status: StatusCode, error: &str, detail: &str) -> Response {
    (status, Json(json!({"error": error, "detail": detail}))).into_response()
}

async fn register(State(users): State<Users>, Json(c): Json<Credentials>) -> Response {
    if c.password.len() < 8 {
        return refused(StatusCode::BAD_REQUEST, "weak_password", "At least 8 characters");
    }
    // Hashing takes tens of milliseconds: off the async threads.
    let password = c.password;
    let hashed = tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string())
    })
    .await;
    let Ok(Ok(hash)) = hashed else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut users = users.lock().unwrap_or_else(|e| e.into_inner());
    if users.contains_key(&c.username) {
        return refused(StatusCode::CONFLICT, "username_taken", "Username already registered");
    }
    users.insert(c.username, hash);
    StatusCode::CREATED.into_response()
}

async fn login(State(app): State<App>, Json(c): Json<Credentials>) -> Response {
    let stored = app.users.lock().unwrap_or_else(|e| e.into_inner()).get(&c.username).cloned();
    let password = c.password;
    let verified = tokio::task::spawn_blocking(move || {
        // A real store also verifies against a dummy hash when the user does
        // not exist, so the time taken does not tell who has an account.
        stored.is_some_and(|hash| {
            PasswordHash::new(&hash)
                .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        })
    })
    .await
    .unwrap_or(false);
    if !verified {
        return refused(StatusCode::UNAUTHORIZED, "bad_credentials", "Bad username or password");
    }
    let tokens = app.auth.tokens();
    let fresh = IssueOptions { fresh: true, ..IssueOptions::default() };
    match (
        tokens.issue_access(&c.username, fresh),
        tokens.issue_refresh(&c.username, IssueOptions::default()),
    ) {
        (Ok(access), Ok(refresh)) => {
            Json(json!({"access_token": access.token, "refresh_token": refresh.token}))
                .into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A new (not fresh) access token for a valid refresh token.
async fn refresh(State(auth): State<WsAuth>, token: RefreshToken) -> Response {
    match auth.tokens().issue_access(&token.0.sub, IssueOptions::default()) {
        Ok(access) => Json(json!({"access_token": access.token})).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Refuses every token of the caller issued until now and closes their sockets.
async fn logout_all(State(auth): State<WsAuth>, token: AccessToken) -> Response {
    let sub = token.0.sub;
    let now = auth.tokens().clock().now();
    if auth.revocation().revoke_subject_before(&sub, now + 1).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    auth.live().notify(&RevocationEvent::everything_of(sub));
    Json(json!({"detail": "logged out everywhere"})).into_response()
}

async fn ws(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        let hello = json!({"type": "hello", "user": socket.claims().sub});
        socket.send(Message::text(hello.to_string()));
        while let Some(incoming) = socket.recv().await {
            if let Incoming::Text(text) = incoming {
                socket.send(Message::text(format!("{}: {text}", socket.claims().sub)));
            }
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let tokens = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256)?));
    let app = App { auth: WsAuth::builder(tokens).build(), users: Users::default() };
    let router = Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout-all", post(logout_all))
        .route("/ws", get(ws))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
