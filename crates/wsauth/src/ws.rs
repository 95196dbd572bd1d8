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
use futures_util::FutureExt;
use futures_util::future::OptionFuture;
use std::future::Future;
use std::marker::PhantomData;

use crate::auth::{Authenticated, Check, SocketLimits, WsAuth};
use crate::live::{LiveSession, LiveSocket};
use crate::observe::{HandshakeOutcome, Limit};
use crate::{AuthError, CredentialKind};
use std::time::Instant;

/// What a guarded WebSocket route requires; see [`Access`], [`Optional`],
/// [`Refresh`] and [`Fresh`].
pub trait Requirement: Send + Sync + 'static {
    /// What the handler receives: [`Authenticated`], or an `Option` of it.
    type Output: Send + 'static;
    /// The check to run.
    const CHECK: Check;
    /// Turns the check's outcome into the handler's input.
    fn output(auth: Option<Authenticated>) -> Result<Self::Output, AuthError>;
    /// The authenticated outcome, if any.
    fn authenticated(output: &Self::Output) -> Option<&Authenticated>;
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
            fn authenticated(output: &Authenticated) -> Option<&Authenticated> {
                Some(output)
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
    fn authenticated(output: &Option<Authenticated>) -> Option<&Authenticated> {
        output.as_ref()
    }
}

/// A WebSocket handshake that passed every check. Use it in place of
/// `WebSocketUpgrade`; a failed check answers with an HTTP error before any
/// upgrade (401, 403, 400 or 429 with a JSON body).
pub struct WsGuard<R: Requirement = Access> {
    upgrade: WebSocketUpgrade,
    auth: R::Output,
    ws_auth: WsAuth,
    session: Option<LiveSession>,
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

    /// Completes the upgrade and runs `callback` with the raw socket. The
    /// socket is not watched for expiry or revocation: prefer
    /// [`WsGuard::on_upgrade_live`] for authenticated routes.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket, R::Output) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let auth = self.auth;
        self.upgrade.on_upgrade(move |socket| callback(socket, auth))
    }

    /// Hands back the underlying axum upgrade for full control (the limits
    /// and subprotocol are already set).
    pub fn into_parts(self) -> (WebSocketUpgrade, R::Output) {
        (self.upgrade, self.auth)
    }

    /// Hands back the upgrade, the outcome and the socket's registration,
    /// for a caller that runs the socket itself (a relay to another
    /// server): keep the [`LiveSession`] for as long as the socket is open
    /// and close it when [`LiveSession::ended`] completes.
    pub fn into_live_parts(self) -> GuardedUpgrade<R::Output> {
        GuardedUpgrade { upgrade: self.upgrade, auth: self.auth, session: self.session }
    }
}

/// An accepted handshake taken apart ([`WsGuard::into_live_parts`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct GuardedUpgrade<T> {
    /// The upgrade, with the limits and the `wsauth` subprotocol (when a
    /// bearer entry was offered) already set.
    pub upgrade: WebSocketUpgrade,
    /// The outcome of the check.
    pub auth: T,
    /// The socket's place in the live registry, for every authenticated
    /// outcome: dropping it unregisters the socket.
    pub session: Option<LiveSession>,
}

impl<R: Requirement<Output = Authenticated>> WsGuard<R> {
    /// Completes the upgrade and runs `callback` with a [`LiveSocket`]: one
    /// that closes with 4001 when its token expires, 4003 when it is revoked,
    /// answers in-band refresh, and enforces the message limits.
    pub fn on_upgrade_live<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(LiveSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { upgrade, auth, ws_auth, session, .. } = self;
        // The socket's task keeps this closure for the socket's lifetime, so
        // it holds one pointer. (The session is always reserved in
        // `from_request_parts` for authenticated outcomes.)
        let bound = session.map(|session| Box::new((session, ws_auth, auth)));
        upgrade.on_upgrade(move |socket| {
            let run = bound.map(|bound| {
                let (session, ws_auth, auth) = *bound;
                callback(LiveSocket::new(socket, session, ws_auth, auth))
            });
            // No async block: it would keep the socket and the claims it
            // captured beside the callback's future.
            OptionFuture::from(run).map(drop)
        })
    }
}

/// Reports a handshake's outcome, and logs a rejection's code (never the credential).
pub(crate) fn observe_handshake(
    auth: &WsAuth,
    credential: Option<CredentialKind>,
    error: Option<&AuthError>,
    started: Instant,
) {
    let error = error.map(AuthError::code);
    if let Some(code) = error {
        tracing::debug!(
            error = code,
            credential = credential.map(CredentialKind::as_str),
            "handshake rejected"
        );
    }
    auth.observer().handshake(&HandshakeOutcome { credential, error, elapsed: started.elapsed() });
}

pub(crate) async fn upgrade_with_limits<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    auth: &WsAuth,
) -> Result<WebSocketUpgrade, AuthError> {
    let upgrade = WebSocketUpgrade::from_request_parts(parts, state)
        .await
        .map_err(|_| AuthError::BadHandshake("Not a valid WebSocket handshake"))?;
    auth.admit_handshake(parts).inspect_err(|_| {
        auth.observer().rate_limited(Limit::HandshakeRate);
    })?;
    Ok(apply_limits(upgrade, auth.socket_limits()))
}

pub(crate) fn select_subprotocol(upgrade: &mut WebSocketUpgrade, auth: &WsAuth) {
    // Only the fixed protocol name is ever selected: a bearer entry is never echoed.
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

impl<S, R> FromRequestParts<S> for WsGuard<R>
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
    R: Requirement,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let ws_auth = WsAuth::from_ref(state);
        let started = Instant::now();
        let mut located = None;
        let guard = Self::check(parts, state, &ws_auth, &mut located).await;
        let credential = match &guard {
            Ok(guard) => R::authenticated(&guard.auth).map(|a| a.credential),
            Err(_) => located,
        };
        observe_handshake(&ws_auth, credential, guard.as_ref().err(), started);
        guard
    }
}

impl<R: Requirement> WsGuard<R> {
    /// Every check of the handshake, in order; `located` records the
    /// credential's transport once found.
    async fn check<S: Send + Sync>(
        parts: &mut Parts,
        state: &S,
        ws_auth: &WsAuth,
        located: &mut Option<CredentialKind>,
    ) -> Result<Self, AuthError> {
        let ws_auth = ws_auth.clone();
        let mut upgrade = upgrade_with_limits(parts, state, &ws_auth).await?;
        let (outcome, offered_subprotocol) =
            ws_auth.authenticate_upgrade(parts, R::CHECK, located).await?;
        if offered_subprotocol {
            select_subprotocol(&mut upgrade, &ws_auth);
        }
        let auth = R::output(outcome)?;
        // Register the live socket first, then check revocation: a revocation
        // stored before the check is seen by it, and one stored after it finds
        // the socket in the registry and closes it. Either way no revoked token
        // keeps a socket. Registering before the 101 also makes a per-user cap
        // a 429. On an error the session is dropped, which unregisters it.
        let session = match R::authenticated(&auth) {
            Some(a) => {
                let session = ws_auth.live().register(&a.claims).inspect_err(|_| {
                    ws_auth.observer().rate_limited(Limit::SocketsPerUser);
                })?;
                ws_auth.check_revoked(&a.claims).await?;
                Some(session)
            }
            None => None,
        };
        Ok(Self { upgrade, auth, ws_auth, session, _requirement: PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hyper and each router layer move the request's future by value, so a
    /// large path inlined in the handshake is copied on every request; rare
    /// large paths are boxed where they are taken (ARCHITECTURE.md).
    #[test]
    fn the_handshake_future_stays_small() {
        let key = crate::Key::generate(crate::Algorithm::HS256).expect("key");
        let auth = WsAuth::builder(crate::TokenAuthority::new(crate::KeySet::new(key))).build();
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        let future = <WsGuard as FromRequestParts<WsAuth>>::from_request_parts(&mut parts, &auth);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1024, "WsGuard's extraction future is {size} bytes");
    }
}
