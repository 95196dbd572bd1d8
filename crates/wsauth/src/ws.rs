//! The WebSocket guard: an extractor used in place of axum's
//! `WebSocketUpgrade` that runs every check before the `101`.
//!
//! ```
//! use axum::{Router, routing::get, response::Response};
//! use wsauth::{WsAuth, WsGuard};
//!
//! async fn ws(guard: WsGuard) -> Response {
//!     guard.on_upgrade(|mut socket, auth| async move {
//!         let hello = format!("hello {}", auth.claims.sub);
//!         let _ = socket.send(axum::extract::ws::Message::text(hello)).await;
//!     })
//! }
//! fn app(auth: WsAuth) -> Router {
//!     Router::new().route("/ws", get(ws)).with_state(auth)
//! }
//! ```

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::{HeaderValue, request::Parts};
use axum::response::Response;
use std::future::Future;
use std::marker::PhantomData;

use crate::AuthError;
use crate::auth::{Authenticated, Check, SocketLimits, WsAuth};

/// What a guarded WebSocket route requires; see [`Access`], [`Optional`],
/// [`Refresh`] and [`Fresh`].
pub trait Requirement: Send + Sync + 'static {
    /// What the handler receives: [`Authenticated`], or an `Option` of it.
    type Output: Send + 'static;
    /// The check to run.
    const CHECK: Check;
    /// Turns the check's outcome into the handler's input.
    fn output(auth: Option<Authenticated>) -> Result<Self::Output, AuthError>;
}

macro_rules! required {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Requirement for $name {
            type Output = Authenticated;
            const CHECK: Check = $check;
            fn output(auth: Option<Authenticated>) -> Result<Authenticated, AuthError> {
                auth.ok_or(AuthError::MissingToken("Missing credential"))
            }
        }
    };
}

required!(
    /// A valid access token (`jwt_required`). The default.
    Access,
    Check::Access
);
required!(
    /// A valid refresh token (`jwt_refresh_token_required`).
    Refresh,
    Check::Refresh
);
required!(
    /// A fresh access token (`fresh_jwt_required`).
    Fresh,
    Check::Fresh
);

/// No credential is fine; a bad one is refused (`jwt_optional`).
#[derive(Debug)]
pub struct Optional;
impl Requirement for Optional {
    type Output = Option<Authenticated>;
    const CHECK: Check = Check::Optional;
    fn output(auth: Option<Authenticated>) -> Result<Option<Authenticated>, AuthError> {
        Ok(auth)
    }
}

/// A WebSocket handshake that passed every check. Use it in place of
/// `WebSocketUpgrade`; a failed check answers with an HTTP error before any
/// upgrade (401, 403, 400 or 429 with a JSON body).
pub struct WsGuard<R: Requirement = Access> {
    upgrade: WebSocketUpgrade,
    auth: R::Output,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> std::fmt::Debug for WsGuard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsGuard").finish_non_exhaustive()
    }
}

impl<R: Requirement> WsGuard<R> {
    /// The outcome of the check.
    pub fn auth(&self) -> &R::Output {
        &self.auth
    }

    /// Completes the upgrade and runs `callback` with the socket.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket, R::Output) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let auth = self.auth;
        self.upgrade
            .on_upgrade(move |socket| callback(socket, auth))
    }

    /// Completes the upgrade, handing back the underlying axum upgrade for
    /// full control (the limits and subprotocol are already set).
    pub fn into_parts(self) -> (WebSocketUpgrade, R::Output) {
        (self.upgrade, self.auth)
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

impl<S, R> FromRequestParts<S> for WsGuard<R>
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
    R: Requirement,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let upgrade = WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(|_| AuthError::BadHandshake("Not a valid WebSocket handshake"))?;
        let auth = WsAuth::from_ref(state);
        let (outcome, offered_subprotocol) = auth.authenticate_upgrade(parts, R::CHECK).await?;
        let mut upgrade = apply_limits(upgrade, auth.socket_limits());
        if offered_subprotocol {
            // Only the fixed protocol name is ever selected: a bearer entry is never echoed.
            if let Ok(name) = HeaderValue::from_str(&auth.names().subprotocol) {
                upgrade.set_selected_protocol(name);
            }
        }
        Ok(Self {
            upgrade,
            auth: R::output(outcome)?,
            _requirement: PhantomData,
        })
    }
}
