//! The same bare server on axum (`--stack axum`): the token checked in an
//! extractor before `WebSocketUpgrade` answers `101`, the same welcome and
//! echo. Measured beside the tungstenite stack and wsauth, it separates
//! what hyper and axum cost per handshake from what wsauth's own checks do.

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use std::sync::Arc;
use tokio::net::TcpListener;
use wsauth_bench::jwt::Verifier;

use crate::{
    Identity, MAX_MESSAGE, MAX_WRITE_BUFFER, READ_BUFFER, UNAUTHORIZED, WELCOME, token_from_query,
};

#[derive(Clone)]
struct Shared {
    verifier: Arc<Verifier>,
    identity: Identity,
}

/// The handshake carries a valid `?token=` (or, behind wsauth, the
/// identity header the proxy sets).
struct Authorized;

impl FromRequestParts<Shared> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Shared) -> Result<Self, Response> {
        if shared.identity == Identity::OrProxyHeader && parts.headers.contains_key("x-wsauth-sub")
        {
            return Ok(Self);
        }
        match token_from_query(parts.uri.query()) {
            Some(token) if shared.verifier.verify(&token).is_some() => Ok(Self),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                UNAUTHORIZED,
            )
                .into_response()),
        }
    }
}

async fn ws(_: Authorized, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    if socket.send(Message::text(WELCOME)).await.is_err() {
        return;
    }
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(t) => Message::Text(t),
            Message::Binary(b) => Message::Binary(b),
            // Pings are answered and close frames echoed by the protocol layer.
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// Serves `/ws` on `listener` until the process is stopped.
pub(crate) async fn serve(
    listener: TcpListener,
    verifier: Arc<Verifier>,
    identity: Identity,
) -> anyhow::Result<()> {
    let app = Router::new().route("/ws", get(ws)).with_state(Shared { verifier, identity });
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(ctrl_c()).await?;
    Ok(())
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}
