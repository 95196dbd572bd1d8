//! An authenticated echo server: `GET /ws?token=<HS256 JWT>` is checked by
//! `WsGuard` before the upgrade, then every text and binary message comes back
//! as it came, through a `LiveSocket` (which still enforces expiry, limits and
//! the closing handshake). `conformance/run.sh` runs the Autobahn cases
//! against it.
//!
//! Run: `cargo run --release -p wsauth --example echo -- --listen 127.0.0.1:9001
//! --hmac-secret <at least 32 bytes>`, then connect to
//! `ws://127.0.0.1:9001/ws?token=<JWT>` with an access token signed with that
//! secret: `{"sub":"a","jti":"1","iat":<now>,"exp":<now + 3600>,"type":"access"}`.

use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use clap::Parser;
use std::net::SocketAddr;
use wsauth::{
    Algorithm, Incoming, Key, KeySet, LiveConfig, SocketLimits, TokenAuthority, WsAuth, WsGuard,
};

/// An authenticated WebSocket echo server.
#[derive(Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// The HS256 secret tokens are signed with (at least 32 bytes).
    #[arg(long, env = "ECHO_HMAC_SECRET", hide_env_values = true)]
    hmac_secret: String,
    /// Largest message and frame a client may send, bytes (close 1009 past it).
    #[arg(long, default_value_t = SocketLimits::default().max_message_size)]
    max_message_size: usize,
    /// Messages per second a client may send, sustained (close 1008 past
    /// it); 0 switches the limit off.
    #[arg(long, default_value_t = LiveConfig::default().message_rate)]
    message_rate: f64,
}

async fn echo(guard: WsGuard) -> Response {
    guard.on_upgrade_live(|mut socket| async move {
        // `recv` writes what `send` queued, so the loop echoes in order.
        while let Some(incoming) = socket.recv().await {
            let reply = match incoming {
                Incoming::Text(text) => Message::Text(text),
                Incoming::Binary(data) => Message::Binary(data),
            };
            socket.send(reply);
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let key = Key::hmac(Algorithm::HS256, args.hmac_secret.as_bytes())?;
    let limits = SocketLimits {
        max_message_size: args.max_message_size,
        max_frame_size: args.max_message_size,
        ..SocketLimits::default()
    };
    let live = LiveConfig { message_rate: args.message_rate, ..LiveConfig::default() };
    let auth = WsAuth::builder(TokenAuthority::new(KeySet::new(key)))
        .socket_limits(limits)
        .live_config(live)
        .build();
    let app = Router::new().route("/ws", get(echo)).with_state(auth);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // Served without `ConnectInfo`, so no per-address handshake rate applies.
    axum::serve(listener, app).await?;
    Ok(())
}
