//! The handshake pipeline: the one place where a credential becomes an
//! authenticated request or an admitted socket, read top to bottom.
//!
//! Every way in goes through the same stages, each a type that only the
//! stage before it makes:
//!
//! 1. [`Located`]: the one credential the request carries (`credential/`
//!    finds it and states the CSRF rule) and, on a handshake, its Origin
//!    allowed ([`origin_allowed`]).
//! 2. [`Verified`]: the token verified, or the ticket redeemed
//!    (`verify.rs`), and of the kind the route wants.
//! 3. [`Authenticated`]: the CSRF value matches the token, and the token
//!    is fresh where the route asks for it.
//! 4. [`Registered`]: a socket's place taken in the live registry (the
//!    per-user cap answers 429 before the `101`).
//! 5. [`Admitted`]: revocation checked after the registration, so a
//!    revocation stored before the check is seen by it, and one stored
//!    after it finds the socket in the registry and closes it. Only an
//!    `Admitted` opens a [`LiveSocket`](crate::LiveSocket) or hands a
//!    guarded upgrade its session.
//!
//! The ways in, each a function below:
//! - HTTP routes (`WsAuth::authenticate_http`, the extractors): located ->
//!   verified -> not revoked -> authenticated. Nothing outlives the
//!   request, so revocation is checked as soon as the claims are known.
//! - `/ws` ([`guard`], `WsGuard`): the upgrade and its per-address rate
//!   (`upgrade.rs`) -> located and Origin -> verified -> authenticated ->
//!   registered -> admitted -> `101`.
//! - First-message auth ([`deferred_upgrade`] and [`first_message`],
//!   `DeferredGuard`): the upgrade, its rate, Origin and a pending place ->
//!   `101` -> the `auth` frame's token verified -> registered -> admitted.
//! - Forward auth (`WsAuth::authenticate_forwarded`, `ForwardAuth`): the
//!   original request and its rate -> located and Origin -> verified ->
//!   authenticated -> not revoked (no socket is opened here, so none is
//!   registered).
//! - Refresh (`WsAuth::verify_access`, then [`rebind`]: in-band on a
//!   `LiveSocket`, and `SessionBinding::rebind`): the new token verified and
//!   not revoked -> the socket rebound to it -> not revoked again, for the
//!   same reason as stage 5.
//!
//! Every handshake's outcome is reported to the observer once (`report.rs`).
//! A new check goes into the stage that has what it needs: the request
//! (stage 1), the claims (stages 2 and 3), or the socket's registration
//! (stages 4 and 5).

mod original;
mod report;
mod requirement;
mod upgrade;
mod verify;

use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, header, request::Parts};
use std::time::Instant;

use crate::accept::ClientSlot;
use crate::auth::WsAuth;
use crate::credential::{self, Csrf, Located, Subprotocol};
use crate::live::{LiveSession, RebindError, SessionBinding};
use crate::observe::Limit;
use crate::{AuthError, Claims, CredentialKind, TokenKind};

pub(crate) use report::handshake as observe_handshake;
pub use requirement::{Access, Fresh, Optional, Refresh, Requirement};
pub(crate) use verify::check_kind;
use verify::check_revoked;

/// What a route requires of the credential: the seed's `jwt_required`,
/// `jwt_optional`, `jwt_refresh_token_required` and `fresh_jwt_required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// A valid access token.
    Access,
    /// A valid access token, or none at all (a malformed one still fails).
    Optional,
    /// A valid refresh token.
    Refresh,
    /// A valid access token issued straight from a password login.
    Fresh,
    /// A valid access token on a route that only revokes it (logout, logout
    /// everywhere): checked as [`Check::Access`], except that a revocation
    /// store that cannot answer does not refuse it. The route's own
    /// revocation goes to the durable store, and refusing would keep users
    /// from logging out while a shared store is down; a token the store
    /// answers for as revoked is still refused.
    Revoking,
}

impl Check {
    /// The kind of token the check wants.
    fn wanted(self) -> TokenKind {
        match self {
            Self::Refresh => TokenKind::Refresh,
            _ => TokenKind::Access,
        }
    }
}

/// The outcome of a successful check.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The verified claims.
    pub claims: Claims,
    /// How the credential travelled.
    pub credential: CredentialKind,
}

// Stage 1: located. ---------------------------------------------------------

/// `None` for a missing credential where the check allows none.
fn optional(
    check: Check,
    located: Result<Located<'_>, AuthError>,
) -> Result<Option<Located<'_>>, AuthError> {
    match located {
        Err(AuthError::MissingToken(_)) if check == Check::Optional => Ok(None),
        other => other.map(Some),
    }
}

/// A handshake's credential (none where the check allows none), its Origin
/// allowed, and whether it offered the wsauth subprotocol.
struct Handshake<'a> {
    located: Option<Located<'a>>,
    subprotocol: Subprotocol,
}

fn locate_in_handshake<'a>(
    auth: &WsAuth,
    parts: &'a Parts,
    check: Check,
) -> Result<Handshake<'a>, AuthError> {
    let located = credential::in_handshake(parts, check.wanted(), auth.names(), auth.transports());
    let located = optional(check, located)?;
    origin_allowed(auth, &parts.headers, located.as_ref().map(|l| l.kind))?;
    let subprotocol = match &located {
        Some(located) => located.subprotocol,
        None => credential::offered_subprotocol(&parts.headers, &auth.names().subprotocol)?,
    };
    Ok(Handshake { located, subprotocol })
}

/// The Origin rule, stated once: on a handshake, any `Origin` header must
/// be exactly one of the allowed origins, and a cookie credential requires
/// one (cross-site WebSocket hijacking: the browser sends the cookie to any
/// site's handshake, and names that site in `Origin`).
fn origin_allowed(
    auth: &WsAuth,
    headers: &HeaderMap,
    credential: Option<CredentialKind>,
) -> Result<(), AuthError> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) if credential == Some(CredentialKind::Cookie) => Err(AuthError::OriginNotAllowed),
        (None, _) => Ok(()),
        (Some(origin), None)
            if auth.allowed_origins().iter().any(|a| a.as_bytes() == origin.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AuthError::OriginNotAllowed),
    }
}

// Stage 2: verified. --------------------------------------------------------

/// Verified claims of the wanted kind, with what the CSRF rule still asks
/// of the credential they came with.
struct Verified<'l, 'a> {
    authenticated: Authenticated,
    csrf: &'l Csrf<'a>,
}

/// Verifies the token (or redeems the ticket) and checks its kind.
async fn verify<'l, 'a>(
    auth: &WsAuth,
    located: &'l Located<'a>,
    wanted: TokenKind,
) -> Result<Verified<'l, 'a>, AuthError> {
    let claims = match located.kind {
        CredentialKind::Ticket => verify::redeem_ticket(auth, &located.value).await?,
        _ => verify::verify_token(auth, &located.value).await?,
    };
    verify::check_kind(&claims, wanted)?;
    let authenticated = Authenticated { claims, credential: located.kind };
    Ok(Verified { authenticated, csrf: &located.csrf })
}

/// A bare token that travelled on its own (a first-message `auth` frame, a
/// refresh): verified as an access token; no CSRF value goes with it.
async fn verify_bare(auth: &WsAuth, token: &str) -> Result<Claims, AuthError> {
    let claims = verify::verify_token(auth, token).await?;
    verify::check_kind(&claims, TokenKind::Access)?;
    Ok(claims)
}

// Stage 3: authenticated. ---------------------------------------------------

impl Verified<'_, '_> {
    /// The presented CSRF value against the token's claim (where the CSRF
    /// rule asks for one), then freshness.
    fn authenticate(self, check: Check) -> Result<Authenticated, AuthError> {
        let claims = &self.authenticated.claims;
        if let Csrf::Presented(presented) = self.csrf {
            credential::check_csrf(presented, claims.csrf.as_deref())?;
        }
        if check == Check::Fresh && !claims.is_fresh() {
            return Err(AuthError::FreshTokenRequired);
        }
        Ok(self.authenticated)
    }
}

/// Revocation for what registers no socket: fails closed, except that
/// [`Check::Revoking`] admits a token the store could not answer for.
async fn not_revoked(auth: &WsAuth, claims: &Claims, check: Check) -> Result<(), AuthError> {
    match check_revoked(auth, claims).await {
        Err(AuthError::Unavailable) if check == Check::Revoking => {
            tracing::warn!("revocation store unavailable; admitting a token only to revoke it");
            Ok(())
        }
        other => other,
    }
}

// Stage 4: registered. ------------------------------------------------------

/// A socket's place in the live registry; its revocation is not checked yet.
struct Registered {
    authenticated: Authenticated,
    session: LiveSession,
}

fn register(auth: &WsAuth, authenticated: Authenticated) -> Result<Registered, AuthError> {
    let session = auth.live().register(&authenticated.claims).inspect_err(|_| {
        auth.observer().rate_limited(Limit::SocketsPerUser);
    })?;
    Ok(Registered { authenticated, session })
}

// Stage 5: admitted. --------------------------------------------------------

/// A registered socket whose token was then found not revoked.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) authenticated: Authenticated,
    pub(crate) session: AdmittedSession,
}

/// The registration of an admitted socket: made only by [`Registered::admit`],
/// so every live socket's revocation was checked after it was registered.
#[derive(Debug)]
pub(crate) struct AdmittedSession(LiveSession);

impl AdmittedSession {
    pub(crate) fn into_session(self) -> LiveSession {
        self.0
    }
}

/// Proof that a registered socket's token was found not revoked after the
/// registration: what [`Registered::admit`] asks for.
struct NotRevoked(());

impl Registered {
    async fn check_revocation(&self, auth: &WsAuth) -> Result<NotRevoked, AuthError> {
        check_revoked(auth, &self.authenticated.claims).await.map(|()| NotRevoked(()))
    }

    fn admit(self, _: NotRevoked) -> Admitted {
        Admitted { authenticated: self.authenticated, session: AdmittedSession(self.session) }
    }
}

// The ways in. --------------------------------------------------------------

impl WsAuth {
    /// Authenticates an HTTP request (the extractors): located -> verified
    /// -> not revoked -> authenticated.
    pub async fn authenticate_http(
        &self,
        parts: &Parts,
        check: Check,
    ) -> Result<Option<Authenticated>, AuthError> {
        let located =
            credential::in_request(parts, check.wanted(), self.names(), self.transports());
        let Some(located) = optional(check, located)? else { return Ok(None) };
        let verified = verify(self, &located, check.wanted()).await?;
        not_revoked(self, &verified.authenticated.claims, check).await?;
        verified.authenticate(check).map(Some)
    }
}

/// What `/ws` hands the guard: the upgrade (limits and subprotocol set),
/// the route's outcome, and the admitted socket's registration.
pub(crate) struct Guarded<T> {
    pub(crate) upgrade: WebSocketUpgrade,
    pub(crate) outcome: T,
    pub(crate) session: Option<AdmittedSession>,
}

/// `/ws`: the upgrade and its rate -> located and Origin -> verified ->
/// authenticated -> registered -> admitted. Reported to the observer.
pub(crate) async fn guard<R: Requirement, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    auth: &WsAuth,
) -> Result<Guarded<R::Output>, AuthError> {
    let started = Instant::now();
    let refused = |error| report::refused(auth, None, error, started);
    let mut upgrade = upgrade::accept(parts, state, auth).await.map_err(refused)?;
    let handshake = locate_in_handshake(auth, parts, R::CHECK).map_err(refused)?;
    if handshake.subprotocol == Subprotocol::Offered {
        upgrade::select_subprotocol(&mut upgrade, auth);
    }
    let guarded = match &handshake.located {
        Some(located) => match admit(auth, located, R::CHECK).await {
            Ok(Admitted { authenticated, session }) => R::output(Some(authenticated))
                .map(|outcome| Guarded { upgrade, outcome, session: Some(session) }),
            Err(e) => Err(e),
        },
        None => R::output(None).map(|outcome| Guarded { upgrade, outcome, session: None }),
    };
    let credential = handshake.located.as_ref().map(|located| located.kind);
    report::handshake(auth, credential, guarded.as_ref().err(), started);
    guarded
}

/// Stages 2 to 5 of a socket's handshake.
async fn admit(auth: &WsAuth, located: &Located<'_>, check: Check) -> Result<Admitted, AuthError> {
    let authenticated = verify(auth, located, check.wanted()).await?.authenticate(check)?;
    let registered = register(auth, authenticated)?;
    // On a refusal the registration is dropped, which unregisters the socket.
    let not_revoked = registered.check_revocation(auth).await?;
    Ok(registered.admit(not_revoked))
}

/// What a first-message handshake keeps until its `auth` frame: the
/// upgrade (limits and subprotocol set) and its place among the sockets
/// waiting for one.
pub(crate) struct Deferred {
    pub(crate) upgrade: WebSocketUpgrade,
    pub(crate) permit: ClientSlot,
}

/// First-message auth, before the `101`: the upgrade and its rate ->
/// Origin (no credential yet) -> a pending place. Only a refusal is
/// reported here; an accepted handshake is, once its frame is judged.
pub(crate) async fn deferred_upgrade<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    auth: &WsAuth,
) -> Result<Deferred, AuthError> {
    let started = Instant::now();
    let refused = |error| report::refused(auth, Some(CredentialKind::FirstMessage), error, started);
    let mut upgrade = upgrade::accept(parts, state, auth).await.map_err(refused)?;
    origin_allowed(auth, &parts.headers, None).map_err(refused)?;
    let subprotocol = credential::offered_subprotocol(&parts.headers, &auth.names().subprotocol);
    if subprotocol.map_err(refused)? == Subprotocol::Offered {
        upgrade::select_subprotocol(&mut upgrade, auth);
    }
    let permit = upgrade::pending_place(auth, parts).map_err(refused)?;
    Ok(Deferred { upgrade, permit })
}

/// First-message auth, after the `101`: the `auth` frame's token verified
/// -> registered -> admitted.
pub(crate) async fn first_message(auth: &WsAuth, token: &str) -> Result<Admitted, AuthError> {
    let claims = verify_bare(auth, token).await?;
    let authenticated = Authenticated { claims, credential: CredentialKind::FirstMessage };
    let registered = register(auth, authenticated)?;
    let not_revoked = registered.check_revocation(auth).await?;
    Ok(registered.admit(not_revoked))
}

impl WsAuth {
    /// Forward auth ([`ForwardAuth`](crate::forward::ForwardAuth)): judges
    /// the request a proxy names as the WebSocket guard judges a handshake:
    /// the original request (a `GET` or `HEAD`) and its per-address rate ->
    /// located (the headers and the original query) and Origin -> verified
    /// -> authenticated -> not revoked (failing closed). Reported to the
    /// observer as a handshake.
    pub async fn authenticate_forwarded(&self, parts: &Parts) -> Result<Authenticated, AuthError> {
        let started = Instant::now();
        let refused = |error| report::refused(self, None, error, started);
        let original = original::parts(self, parts).map_err(refused)?;
        upgrade::within_rate(self, &original).map_err(refused)?;
        let handshake = locate_in_handshake(self, &original, Check::Access).map_err(refused)?;
        let located = handshake
            .located
            .ok_or(AuthError::MissingToken("Missing credential"))
            .map_err(refused)?;
        let credential = Some(located.kind);
        let verdict = async {
            let authenticated =
                verify(self, &located, TokenKind::Access).await?.authenticate(Check::Access)?;
            not_revoked(self, &authenticated.claims, Check::Access).await?;
            Ok(authenticated)
        }
        .await;
        report::handshake(self, credential, verdict.as_ref().err(), started);
        verdict
    }
}

impl WsAuth {
    /// Verifies a bare access token (refresh, first): signature, claims,
    /// kind and revocation, as an HTTP request's would be (an in-band
    /// refusal is answered; the socket stays open).
    pub async fn verify_access(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = verify_bare(self, token).await?;
        check_revoked(self, &claims).await?;
        Ok(claims)
    }
}

/// Refresh, then: the socket rebound to the new token's claims (of its own
/// subject), then their revocation checked again, for the reason of stage
/// 5: a revocation of the new token landing in between still reaches the
/// socket. Returns the new deadline, Unix seconds; the caller ends the
/// socket on [`RebindError::Refused`].
pub(crate) async fn rebind(
    auth: &WsAuth,
    binding: &SessionBinding,
    claims: &Claims,
) -> Result<i64, RebindError> {
    let deadline = binding.move_to(claims)?;
    check_revoked(auth, claims).await.map_err(RebindError::Refused)?;
    Ok(deadline)
}

/// A handshake's stages 1 to 3, without the upgrade, the registration or
/// the report: what the fuzz targets hold the guard's checks to.
#[cfg(feature = "fuzz")]
pub(crate) async fn authenticate_upgrade(
    auth: &WsAuth,
    parts: &Parts,
    check: Check,
) -> Result<Option<Authenticated>, AuthError> {
    match locate_in_handshake(auth, parts, check)?.located {
        Some(located) => {
            verify(auth, &located, check.wanted()).await?.authenticate(check).map(Some)
        }
        None => Ok(None),
    }
}
