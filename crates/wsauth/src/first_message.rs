//! First-message authentication: [`DeferredGuard`] upgrades without a
//! credential (Origin, handshake limits and the pending-socket limits still
//! apply), then the first frame must be `{"type":"auth","token":...}` within
//! `auth_timeout`. Both halves go through the handshake pipeline
//! (`handshake::deferred_upgrade`, then `handshake::first_message`); this
//! file waits for the frame and closes a socket that fails with its code.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use std::future::Future;
use std::time::Instant;

use crate::accept::ClientSlot;
use crate::auth::WsAuth;
use crate::handshake::{self, Deferred, observe_handshake};
use crate::live::{LiveSocket, close_socket, frames};
use crate::{AuthError, CredentialKind, close_code};

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
    permit: ClientSlot,
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
        let Deferred { upgrade, permit } =
            handshake::deferred_upgrade(parts, state, &ws_auth).await?;
        Ok(Self { upgrade, ws_auth, permit })
    }
}

/// First-message mode: waits for `{"type":"auth","token":...}` within the
/// configured time, verifies it, and registers the socket. Closes with 4408
/// when nothing came in time, 4401 for any other frame or an invalid token.
async fn authenticate_first_message(
    mut socket: WebSocket,
    auth: WsAuth,
    permit: ClientSlot,
) -> Option<LiveSocket> {
    let timeout = auth.live().config().auth_timeout;
    let first = tokio::time::timeout(timeout, next_data_frame(&mut socket)).await;
    drop(permit);
    let started = Instant::now();
    let refusal = match first {
        Err(_) => Refusal::new(close_code::AUTH_TIMEOUT, "authentication timeout", "auth_timeout"),
        Ok(None) => {
            auth.observer().socket_closed(close_code::ABNORMAL_CLOSURE);
            return None;
        }
        Ok(Some(Message::Text(text))) => match admit(&auth, &text).await {
            Ok(admitted) => {
                observe_handshake(&auth, Some(CredentialKind::FirstMessage), None, started);
                return Some(LiveSocket::new(socket, admitted, auth));
            }
            Err(refusal) => refusal,
        },
        Ok(Some(_)) => Refusal::not_auth(),
    };
    close_socket(&mut socket, refusal.code, refusal.reason).await;
    auth.observer().socket_closed(refusal.code);
    let outcome = crate::observe::HandshakeOutcome {
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

    fn from_error(e: &AuthError) -> Self {
        Self::new(e.close_code(), e.code(), e.code())
    }
}

/// The auth frame's token through the pipeline: verified, registered,
/// admitted. A refusal closes with the error's close code (a full per-user
/// cap: 1008).
async fn admit(auth: &WsAuth, text: &str) -> Result<handshake::Admitted, Refusal> {
    let token = frames::auth_frame_token(text).ok_or_else(Refusal::not_auth)?;
    handshake::first_message(auth, &token).await.map_err(|e| Refusal::from_error(&e))
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
