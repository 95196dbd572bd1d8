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
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::OptionFuture;
use std::future::Future;
use std::marker::PhantomData;

use crate::AuthError;
use crate::auth::WsAuth;
use crate::handshake::{
    self, Access, Admitted, AdmittedSession, Authenticated, Guarded, Requirement,
};
use crate::live::{LiveSession, LiveSocket};

/// A WebSocket handshake that passed every check. Use it in place of
/// `WebSocketUpgrade`; a failed check answers with an HTTP error before any
/// upgrade (401, 403, 400 or 429 with a JSON body).
pub struct WsGuard<R: Requirement = Access> {
    upgrade: WebSocketUpgrade,
    auth: R::Output,
    ws_auth: WsAuth,
    session: Option<AdmittedSession>,
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
        let session = self.session.map(AdmittedSession::into_session);
        GuardedUpgrade { upgrade: self.upgrade, auth: self.auth, session }
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
        // it holds one pointer. (Every authenticated outcome was admitted
        // with a session by the handshake pipeline.)
        let bound =
            session.map(|session| Box::new((Admitted { authenticated: auth, session }, ws_auth)));
        upgrade.on_upgrade(move |socket| {
            let run = bound.map(|bound| {
                let (admitted, ws_auth) = *bound;
                callback(LiveSocket::new(socket, admitted, ws_auth))
            });
            // No async block: it would keep the socket and the claims it
            // captured beside the callback's future.
            OptionFuture::from(run).map(drop)
        })
    }
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
        let Guarded { upgrade, outcome, session } =
            handshake::guard::<R, S>(parts, state, &ws_auth).await?;
        Ok(Self { upgrade, auth: outcome, ws_auth, session, _requirement: PhantomData })
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
