//! First-message authentication: [`DeferredGuard`] upgrades without a
//! credential (Origin, handshake limits and the pending-socket limits still
//! apply), then the first frame must be `{"type":"auth","token":...}` within
//! `auth_timeout`. The token is checked as a handshake's would be, the socket
//! is registered, and the application gets a [`LiveSocket`].

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use std::future::Future;
use std::time::Instant;

use crate::auth::{Authenticated, WsAuth};
use crate::live::{LiveSession, LiveSocket, close_socket, frames};
use crate::observe::Limit;
use crate::ws::{observe_handshake, select_subprotocol, upgrade_with_limits};
use crate::{AuthError, Claims, CredentialKind, close_code, credential};

/// First-message mode: the upgrade happens without a credential (Origin and
/// rate limits still apply, and these sockets count against a separate
/// small limit, of which one client address holds a bounded share); the
/// first frame must be `{"type":"auth","token":...}` within the configured
/// time. No frame in time: close 4408; any other frame or an invalid token:
/// close 4401 (an expired one 4001, a revoked one 4003, a backend down 1013);
/// a second auth frame later: close 1008.
pub struct DeferredGuard {
    upgrade: WebSocketUpgrade,
    ws_auth: WsAuth,
    permit: crate::ClientSlot,
}

impl std::fmt::Debug for DeferredGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredGuard").finish_non_exhaustive()
    }
}

impl DeferredGuard {
    /// Completes the upgrade, waits for the auth frame, then runs `callback`
    /// with the authenticated [`LiveSocket`]. A socket that fails to
    /// authenticate is closed and `callback` never runs.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(LiveSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { upgrade, ws_auth, permit } = self;
        upgrade.on_upgrade(move |socket| async move {
            let live = authenticate_first_message(socket, ws_auth, permit).await;
            if let Some(live) = live {
                callback(live).await;
            }
        })
    }
}

impl<S> FromRequestParts<S> for DeferredGuard
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let ws_auth = WsAuth::from_ref(state);
        let started = Instant::now();
        let guard = Self::check(parts, state, &ws_auth).await;
        // Accepted handshakes are reported once their auth frame is judged.
        if let Err(e) = &guard {
            observe_handshake(&ws_auth, Some(CredentialKind::FirstMessage), Some(e), started);
        }
        guard
    }
}

impl DeferredGuard {
    async fn check<S: Send + Sync>(
        parts: &mut Parts,
        state: &S,
        ws_auth: &WsAuth,
    ) -> Result<Self, AuthError> {
        let mut upgrade = upgrade_with_limits(parts, state, ws_auth).await?;
        ws_auth.check_origin(&parts.headers, None)?;
        if credential::offers_subprotocol(&parts.headers, &ws_auth.names().subprotocol)? {
            select_subprotocol(&mut upgrade, ws_auth);
        }
        let permit = ws_auth.pending_permit(parts).inspect_err(|_| {
            ws_auth.observer().rate_limited(Limit::PendingAuth);
        })?;
        Ok(Self { upgrade, ws_auth: ws_auth.clone(), permit })
    }
}

/// First-message mode: waits for `{"type":"auth","token":...}` within the
/// configured time, verifies it, and registers the socket. Closes with 4408
/// when nothing came in time, 4401 for any other frame or an invalid token.
async fn authenticate_first_message(
    mut socket: WebSocket,
    auth: WsAuth,
    permit: crate::ClientSlot,
) -> Option<LiveSocket> {
    let timeout = auth.live().config().auth_timeout;
    let first = tokio::time::timeout(timeout, next_data_frame(&mut socket)).await;
    drop(permit);
    let started = Instant::now();
    let refusal = match first {
        Err(_) => Refusal::new(close_code::AUTH_TIMEOUT, "authentication timeout", "auth_timeout"),
        Ok(None) => {
            auth.observer().socket_closed(1006);
            return None;
        }
        Ok(Some(Message::Text(text))) => match first_message_session(&auth, &text).await {
            Ok((claims, session)) => {
                observe_handshake(&auth, Some(CredentialKind::FirstMessage), None, started);
                let authenticated =
                    Authenticated { claims, credential: CredentialKind::FirstMessage };
                return Some(LiveSocket::new(socket, session, auth, authenticated));
            }
            Err(refusal) => refusal,
        },
        Ok(Some(_)) => Refusal::not_auth(),
    };
    close_socket(&mut socket, refusal.code, refusal.reason).await;
    auth.observer().socket_closed(refusal.code);
    let outcome = crate::HandshakeOutcome {
        credential: Some(CredentialKind::FirstMessage),
        error: Some(refusal.error),
        elapsed: started.elapsed(),
    };
    auth.observer().handshake(&outcome);
    None
}

/// Why a first-message socket is closed: the close code and reason, and the
/// error code reported for the handshake.
struct Refusal {
    code: u16,
    reason: &'static str,
    error: &'static str,
}

impl Refusal {
    fn new(code: u16, reason: &'static str, error: &'static str) -> Self {
        Self { code, reason, error }
    }

    fn not_auth() -> Self {
        Self::new(close_code::UNAUTHORIZED, "first frame must be auth", "missing_token")
    }

    fn from_error(e: &crate::AuthError) -> Self {
        Self::new(e.close_code(), e.code(), e.code())
    }
}

/// Verifies the auth frame and registers the socket, then checks
/// revocation: a revocation landing in between finds the socket in the
/// registry (see `WsGuard`).
async fn first_message_session(
    auth: &WsAuth,
    text: &str,
) -> Result<(Claims, LiveSession), Refusal> {
    let token = frames::auth_frame_token(text).ok_or_else(Refusal::not_auth)?;
    let claims = auth.verify_access_signature(&token).await.map_err(|e| Refusal::from_error(&e))?;
    let session = auth.live().register(&claims).map_err(|e| {
        auth.observer().rate_limited(crate::Limit::SocketsPerUser);
        Refusal::new(close_code::POLICY_VIOLATION, e.code(), e.code())
    })?;
    auth.check_revoked(&claims).await.map_err(|e| Refusal::from_error(&e))?;
    Ok((claims, session))
}

async fn next_data_frame(socket: &mut WebSocket) -> Option<Message> {
    loop {
        match socket.recv().await? {
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(message) => return Some(message),
        }
    }
}
