//! A socket handshake's first steps, before its credential is looked at:
//! the upgrade itself, the per-address handshake rate, the socket limits,
//! and (first-message mode) a place among the sockets waiting for their
//! `auth` frame.

use axum::extract::FromRequestParts;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderValue, request::Parts};

use crate::accept::ClientSlot;
use crate::auth::WsAuth;
use crate::observe::Limit;
use crate::{AuthError, ClientKey, SocketLimits};

/// A valid WebSocket upgrade within the handshake rate, with the socket
/// limits applied.
pub(crate) async fn accept<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    auth: &WsAuth,
) -> Result<WebSocketUpgrade, AuthError> {
    let upgrade = WebSocketUpgrade::from_request_parts(parts, state)
        .await
        .map_err(|_| AuthError::BadHandshake("Not a valid WebSocket handshake"))?;
    within_rate(auth, parts)?;
    Ok(apply_limits(upgrade, auth.socket_limits()))
}

/// Admits a handshake under the per-address rate ([`WsAuth::client_ip`];
/// without an address, no limit applies).
pub(crate) fn within_rate(auth: &WsAuth, parts: &Parts) -> Result<(), AuthError> {
    let Some(ip) = auth.client_ip(parts) else { return Ok(()) };
    auth.handshakes().check(ip).map_err(|retry_after| {
        auth.observer().rate_limited(Limit::HandshakeRate);
        AuthError::TooManyRequests { retry_after }
    })
}

/// A place among the sockets waiting for a first-message `auth` frame,
/// within this client's share of them.
pub(crate) fn pending_place(auth: &WsAuth, parts: &Parts) -> Result<ClientSlot, AuthError> {
    let client = auth.client_ip(parts).map(ClientKey::from);
    auth.pending().try_acquire(client).map_err(|_| {
        auth.observer().rate_limited(Limit::PendingAuth);
        AuthError::TooManyRequests { retry_after: 1 }
    })
}

/// Selects the wsauth subprotocol: only the fixed name is ever selected,
/// never a bearer entry.
pub(crate) fn select_subprotocol(upgrade: &mut WebSocketUpgrade, auth: &WsAuth) {
    if let Ok(name) = HeaderValue::from_str(&auth.names().subprotocol) {
        upgrade.set_selected_protocol(name);
    }
}

fn apply_limits(upgrade: WebSocketUpgrade, limits: &SocketLimits) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(limits.read_buffer_size)
        .write_buffer_size(limits.write_buffer_size)
        .max_write_buffer_size(limits.max_write_buffer_size)
        .max_message_size(limits.max_message_size)
        .max_frame_size(limits.max_frame_size)
}
