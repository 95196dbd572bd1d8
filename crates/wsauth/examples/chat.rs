//! A chat room: every authenticated socket joins one room, and what one
//! member says reaches every member through their [`Outbox`]. Logging out
//! revokes the token and closes its sockets with 4003; the room then tells
//! the others that member left. Tokens come from `POST /login` (any name:
//! checking a password is `own_users.rs`'s subject).
//!
//! Run: `cargo run -p wsauth --example chat -- --listen 127.0.0.1:3000`, then
//! `curl -XPOST 127.0.0.1:3000/login -H 'content-type: application/json'
//!   -d '{"username":"alice"}'`, open `ws://127.0.0.1:3000/ws?token=<token>`
//! in two clients and type; `curl -XPOST 127.0.0.1:3000/logout -H
//! 'authorization: Bearer <token>'` closes that member's sockets.

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wsauth::{
    AccessToken, Algorithm, Incoming, IssueOptions, Key, KeySet, Outbox, RevocationEvent,
    TokenAuthority, WsAuth, WsGuard,
};

/// A chat room behind wsauth.
#[derive(Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
}

/// Who is in the room: each member socket's outbox, by a number of its own.
#[derive(Default)]
struct Room {
    next: AtomicU64,
    members: Mutex<HashMap<u64, Outbox>>,
}

impl Room {
    fn join(&self, outbox: Outbox) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.members.lock().unwrap_or_else(|e| e.into_inner()).insert(id, outbox);
        id
    }

    fn leave(&self, id: u64) {
        self.members.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Queues `event` for every member. A member whose queue is full is
    /// closed by its socket (1008), so one slow reader never holds up the rest.
    fn broadcast(&self, event: &serde_json::Value) {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        for outbox in members.values() {
            let _ = outbox.send_json(event);
        }
    }
}

#[derive(Clone, FromRef)]
struct App {
    auth: WsAuth,
    room: Arc<Room>,
}

#[derive(Deserialize)]
struct Login {
    username: String,
}

async fn login(State(auth): State<WsAuth>, Json(login): Json<Login>) -> Response {
    match auth.tokens().issue_access(&login.username, IssueOptions::default()) {
        Ok(issued) => Json(json!({"access_token": issued.token})).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Revokes the caller's token, then closes every live socket bound to it.
async fn logout(State(auth): State<WsAuth>, token: AccessToken) -> Response {
    let claims = token.0;
    if auth.revocation().revoke_token(&claims.jti, claims.exp).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    auth.live().notify(&RevocationEvent::Tokens(vec![claims.jti]));
    Json(json!({"detail": "logged out"})).into_response()
}

async fn ws(State(room): State<Arc<Room>>, guard: WsGuard) -> Response {
    guard.on_upgrade_live(move |mut socket| async move {
        let who = socket.claims().sub.clone();
        let id = room.join(socket.outbox());
        room.broadcast(&json!({"type": "joined", "who": who}));
        // `recv` also writes what the outbox queued, and ends the socket at
        // expiry (4001), on revocation (4003) and past the limits.
        while let Some(incoming) = socket.recv().await {
            if let Incoming::Text(text) = incoming {
                room.broadcast(&json!({"type": "said", "who": who, "text": text.as_str()}));
            }
        }
        room.leave(id);
        room.broadcast(&json!({"type": "left", "who": who}));
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let tokens = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256)?));
    let app = App { auth: WsAuth::builder(tokens).build(), room: Arc::default() };
    let router = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/ws", get(ws))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
