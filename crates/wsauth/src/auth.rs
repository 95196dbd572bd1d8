//! [`WsAuth`]: the one place where a request is authenticated, top to bottom:
//! locate the credential -> check Origin -> verify the token (or redeem the
//! ticket) -> check its kind -> check revocation -> check CSRF -> check freshness.

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, header, request::Parts};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::credential::{
    self, CredentialKind, CredentialNames, Located, Target, Transports, check_csrf,
};
use crate::issuers::TrustedIssuers;
use crate::live::{LiveConfig, LiveSessions};
use crate::observe::{Limit, NoObserver, Observer};
use crate::rate::AddressLimiter;
use crate::revocation::{MemoryRevocationStore, RevocationStore};
use crate::ticket::{self, MemoryTicketStore, TicketAdmission, TicketStore};
use crate::token::Compact;
use crate::{
    AuthError, Claims, ClientKey, ClientSlot, ClientSlots, TokenAuthority, TokenKind,
    TrustedProxies,
};

/// How long a ticket stays valid by default, seconds.
pub const DEFAULT_TICKET_TTL_SECS: i64 = 30;
/// How many unredeemed tickets one subject may hold by default.
pub const DEFAULT_MAX_TICKETS_PER_SUBJECT: usize = 16;

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

/// The outcome of a successful check.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The verified claims.
    pub claims: Claims,
    /// How the credential travelled.
    pub credential: CredentialKind,
}

/// Limits applied to every WebSocket the guard upgrades.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// Read buffer per connection, bytes. Default 2048: it bounds what one
    /// read takes from the socket, not the message size (messages up to
    /// `max_message_size` still arrive whole); axum's default of 128 KiB costs
    /// about 134 KB per idle connection, and this one is most of what an idle
    /// connection costs (see BENCHMARKS.md).
    pub read_buffer_size: usize,
    /// Bytes buffered before a write is flushed. Default 0 (write each message at once).
    pub write_buffer_size: usize,
    /// The most bytes the write buffer may hold: the one message being
    /// written. Default 1 MiB; [`WsAuthBuilder::build`] raises it to what the
    /// largest message the socket may send needs (`write_buffer_size` plus
    /// a frame of `LiveConfig::outbound_queue_bytes`), so that no message the
    /// outbound queue admitted is refused by the buffer.
    pub max_write_buffer_size: usize,
    /// Largest message, bytes. Default 64 KiB.
    pub max_message_size: usize,
    /// Largest frame, bytes. Default 64 KiB.
    pub max_frame_size: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            read_buffer_size: 2048,
            write_buffer_size: 0,
            max_write_buffer_size: 1024 * 1024,
            max_message_size: 64 * 1024,
            max_frame_size: 64 * 1024,
        }
    }
}

/// Authentication for an axum app: tokens, revocation, tickets, credential
/// names, transports, the Origin allow-list and socket limits. Cheap to clone.
///
/// ```
/// use wsauth::{Algorithm, Key, KeySet, TokenAuthority, WsAuth};
/// let key = Key::generate(Algorithm::HS256).unwrap();
/// let auth = WsAuth::builder(TokenAuthority::new(KeySet::new(key)))
///     .allowed_origins(["http://localhost:8000"])
///     .build();
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct WsAuth {
    inner: Arc<Inner>,
}

struct Inner {
    tokens: TokenAuthority,
    revocation: Arc<dyn RevocationStore>,
    tickets: Arc<dyn TicketStore>,
    names: CredentialNames,
    transports: Transports,
    allowed_origins: Vec<String>,
    ticket_ttl_secs: i64,
    max_tickets_per_subject: usize,
    limits: SocketLimits,
    live: LiveSessions,
    observer: Arc<dyn Observer>,
    handshakes: AddressLimiter,
    trusted_proxies: TrustedProxies,
    pending: ClientSlots,
    issuers: TrustedIssuers,
}

impl std::fmt::Debug for WsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsAuth")
            .field("tokens", &self.inner.tokens)
            .field("allowed_origins", &self.inner.allowed_origins)
            .field("issuers", &self.inner.issuers)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WsAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsAuthBuilder")
            .field("tokens", &self.tokens)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WsAuth`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct WsAuthBuilder {
    tokens: TokenAuthority,
    revocation: Option<Arc<dyn RevocationStore>>,
    tickets: Option<Arc<dyn TicketStore>>,
    names: CredentialNames,
    transports: Transports,
    allowed_origins: Vec<String>,
    ticket_ttl_secs: i64,
    max_tickets_per_subject: usize,
    limits: SocketLimits,
    live: LiveConfig,
    handshake_rate: (f64, f64),
    trusted_proxies: TrustedProxies,
    observer: Option<Arc<dyn Observer>>,
    issuers: TrustedIssuers,
}

impl WsAuthBuilder {
    /// External issuers whose tokens are accepted beside the authority's
    /// own, each verified against its own keys. Default: none.
    pub fn trusted_issuers(mut self, issuers: TrustedIssuers) -> Self {
        self.issuers = issuers;
        self
    }

    /// The revocation store. Default: an in-memory store.
    pub fn revocation(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// The ticket store. Default: an in-memory store.
    pub fn tickets(mut self, store: Arc<dyn TicketStore>) -> Self {
        self.tickets = Some(store);
        self
    }

    /// Cookie, header, query and subprotocol names.
    pub fn names(mut self, names: CredentialNames) -> Self {
        self.names = names;
        self
    }

    /// Which transports are accepted.
    pub fn transports(mut self, transports: Transports) -> Self {
        self.transports = transports;
        self
    }

    /// Origins allowed on WebSocket handshakes, compared exactly
    /// (`scheme://host[:port]`). Default: none, so every browser handshake is
    /// refused until origins are configured; non-browser clients send no Origin.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// How long a ticket stays valid, seconds. Default 30.
    pub fn ticket_ttl_secs(mut self, secs: i64) -> Self {
        self.ticket_ttl_secs = secs;
        self
    }

    /// Unredeemed tickets one subject may hold at once; past it, issuing
    /// another is a 429. Default 16.
    pub fn max_tickets_per_subject(mut self, max: usize) -> Self {
        self.max_tickets_per_subject = max;
        self
    }

    /// Receives handshake outcomes, closes, revocation latencies, tickets and
    /// limit rejections (for metrics). Default: nothing is reported.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Limits for upgraded sockets.
    pub fn socket_limits(mut self, limits: SocketLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Limits and timings for live sockets (expiry grace, rates, queues,
    /// keepalive, connection caps).
    pub fn live_config(mut self, config: LiveConfig) -> Self {
        self.live = config;
        self
    }

    /// WebSocket handshakes allowed per client address: `rate` per second,
    /// bursts of `burst`; past it, 429 with `Retry-After` before the upgrade.
    /// Default 50 per second, bursts of 100. A rate of zero switches it off.
    /// The address is [`WsAuth::client_ip`]; without axum's
    /// `ConnectInfo<SocketAddr>` (no `into_make_service_with_connect_info`)
    /// no per-address limit applies.
    pub fn handshake_rate(mut self, rate: f64, burst: f64) -> Self {
        self.handshake_rate = (rate, burst);
        self
    }

    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client address
    /// that per-address limits count by. Default: none (the TCP peer is the
    /// client); set it when the app sits behind a reverse proxy, or every
    /// client shares the proxy's budget.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Finishes the builder. Limits that depend on each other are made
    /// consistent here: the outbound byte bound holds at least one message
    /// of `max_message_size`, and the write buffer holds one frame of it.
    #[must_use]
    pub fn build(self) -> WsAuth {
        let clock = self.tokens.clock().clone();
        let leeway = self.tokens.settings().leeway;
        let (limits, live) = consistent_limits(self.limits, self.live);
        let live = LiveSessions::new(clock.clone(), leeway, live);
        let pending = ClientSlots::new(
            live.config().max_pending_auth,
            live.config().max_pending_auth_per_address,
        );
        WsAuth {
            inner: Arc::new(Inner {
                tokens: self.tokens,
                revocation: self
                    .revocation
                    .unwrap_or_else(|| Arc::new(MemoryRevocationStore::with_clock(clock.clone()))),
                tickets: self
                    .tickets
                    .unwrap_or_else(|| Arc::new(MemoryTicketStore::with_clock(clock.clone()))),
                names: self.names,
                transports: self.transports,
                allowed_origins: self.allowed_origins,
                ticket_ttl_secs: self.ticket_ttl_secs,
                max_tickets_per_subject: self.max_tickets_per_subject,
                limits,
                live,
                observer: self.observer.unwrap_or_else(|| Arc::new(NoObserver)),
                handshakes: AddressLimiter::new(self.handshake_rate.0, self.handshake_rate.1),
                trusted_proxies: self.trusted_proxies,
                pending,
                issuers: self.issuers,
            }),
        }
    }
}

/// The longest header of a WebSocket frame, bytes (RFC 6455 5.2).
const MAX_FRAME_HEADER: usize = 14;

/// The longest any live-socket timer may be: longer ones would overflow the
/// clock arithmetic of the socket's task.
const MAX_TIMER: Duration = Duration::from_secs(24 * 3600);

/// Raises the outbound byte bound to one largest accepted message (so that
/// it can be echoed), and the write buffer cap to one frame of that bound on
/// top of the write buffer (so that tungstenite never refuses a message the
/// queue admitted, which would drop the socket without a close frame).
/// Brings the timers within 1 ms to a day.
fn consistent_limits(mut limits: SocketLimits, mut live: LiveConfig) -> (SocketLimits, LiveConfig) {
    for timer in [
        &mut live.ping_interval,
        &mut live.pong_timeout,
        &mut live.write_timeout,
        &mut live.auth_timeout,
    ] {
        *timer = (*timer).clamp(Duration::from_millis(1), MAX_TIMER);
    }
    live.outbound_queue_bytes = live.outbound_queue_bytes.max(limits.max_message_size);
    let one_frame = live.outbound_queue_bytes.saturating_add(MAX_FRAME_HEADER);
    limits.max_write_buffer_size =
        limits.max_write_buffer_size.max(limits.write_buffer_size.saturating_add(one_frame));
    (limits, live)
}

impl WsAuth {
    /// Starts a builder around a token authority.
    pub fn builder(tokens: TokenAuthority) -> WsAuthBuilder {
        WsAuthBuilder {
            tokens,
            revocation: None,
            tickets: None,
            names: CredentialNames::default(),
            transports: Transports::default(),
            allowed_origins: Vec::new(),
            ticket_ttl_secs: DEFAULT_TICKET_TTL_SECS,
            max_tickets_per_subject: DEFAULT_MAX_TICKETS_PER_SUBJECT,
            limits: SocketLimits::default(),
            live: LiveConfig::default(),
            handshake_rate: (50.0, 100.0),
            trusted_proxies: TrustedProxies::none(),
            observer: None,
            issuers: TrustedIssuers::default(),
        }
    }

    /// The registry of live sockets (expiry, revocation kicks).
    #[must_use]
    pub fn live(&self) -> &LiveSessions {
        &self.inner.live
    }

    /// The observer events are reported to.
    #[must_use]
    pub fn observer(&self) -> &dyn Observer {
        &*self.inner.observer
    }

    /// How many sockets are waiting for a first-message auth frame now.
    #[must_use]
    pub fn pending_auth(&self) -> usize {
        self.inner.pending.in_use()
    }

    /// The client address of a request: the TCP peer from axum's
    /// `ConnectInfo<SocketAddr>`, or, when that peer is a trusted proxy, the
    /// client its forwarding headers name (see [`TrustedProxies`]). `None`
    /// without `ConnectInfo`.
    pub fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(self.inner.trusted_proxies.client_ip(peer.ip(), &parts.headers))
    }

    /// The proxies whose forwarding headers are believed.
    #[must_use]
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.inner.trusted_proxies
    }

    /// Admits a handshake under the per-address rate.
    pub(crate) fn admit_handshake(&self, parts: &Parts) -> Result<(), AuthError> {
        match self.client_ip(parts) {
            Some(ip) => self
                .inner
                .handshakes
                .check(ip)
                .map_err(|retry_after| AuthError::TooManyRequests { retry_after }),
            None => Ok(()),
        }
    }

    /// A place among the sockets waiting for a first-message `auth` frame,
    /// within this client's share of them.
    pub(crate) fn pending_permit(&self, parts: &Parts) -> Result<ClientSlot, AuthError> {
        let client = self.client_ip(parts).map(ClientKey::from);
        self.inner
            .pending
            .try_acquire(client)
            .map_err(|_| AuthError::TooManyRequests { retry_after: 1 })
    }

    /// The token authority (issue and verify).
    #[must_use]
    pub fn tokens(&self) -> &TokenAuthority {
        &self.inner.tokens
    }

    /// The revocation store.
    #[must_use]
    pub fn revocation(&self) -> &Arc<dyn RevocationStore> {
        &self.inner.revocation
    }

    /// Credential names.
    #[must_use]
    pub fn names(&self) -> &CredentialNames {
        &self.inner.names
    }

    /// Socket limits.
    #[must_use]
    pub fn socket_limits(&self) -> &SocketLimits {
        &self.inner.limits
    }

    /// Authenticates an HTTP request.
    pub async fn authenticate_http(
        &self,
        parts: &Parts,
        check: Check,
    ) -> Result<Option<Authenticated>, AuthError> {
        let mut located = None;
        self.authenticate(parts, Target::Http, check, &mut located).await.map(|o| o.map(|(a, _)| a))
    }

    /// Authenticates a WebSocket handshake; also says whether the client
    /// offered the wsauth subprotocol.
    /// `located` is set to the credential's transport as soon as one is found.
    pub(crate) async fn authenticate_upgrade(
        &self,
        parts: &Parts,
        check: Check,
        located: &mut Option<CredentialKind>,
    ) -> Result<(Option<Authenticated>, bool), AuthError> {
        match self.authenticate(parts, Target::WebSocket, check, located).await? {
            Some((auth, offered)) => Ok((Some(auth), offered)),
            None => {
                self.check_origin(&parts.headers, None)?;
                let offered =
                    credential::offers_subprotocol(&parts.headers, &self.inner.names.subprotocol)?;
                Ok((None, offered))
            }
        }
    }

    pub(crate) async fn authenticate(
        &self,
        parts: &Parts,
        target: Target,
        check: Check,
        located_kind: &mut Option<CredentialKind>,
    ) -> Result<Option<(Authenticated, bool)>, AuthError> {
        let wanted = if check == Check::Refresh { TokenKind::Refresh } else { TokenKind::Access };
        let located = match credential::locate(
            parts,
            target,
            wanted,
            &self.inner.names,
            &self.inner.transports,
        ) {
            Err(AuthError::MissingToken(_)) if check == Check::Optional => return Ok(None),
            other => other?,
        };
        let Located { kind, value, csrf, offered_subprotocol } = located;
        *located_kind = Some(kind);
        if target == Target::WebSocket {
            self.check_origin(&parts.headers, Some(kind))?;
        }
        let claims = match kind {
            CredentialKind::Ticket => self.redeem_ticket(&value).await?,
            _ => self.verify_token(&value).await?,
        };
        check_kind(&claims, wanted)?;
        // A WebSocket is checked against revocation after its socket is
        // registered as live (see `WsGuard`), so that a revocation landing in
        // between still reaches it.
        if target == Target::Http {
            match self.check_revoked(&claims).await {
                Err(AuthError::Unavailable) if check == Check::Revoking => {
                    tracing::warn!(
                        "revocation store unavailable; admitting a token only to revoke it"
                    );
                }
                other => other?,
            }
        }
        if kind == CredentialKind::Cookie
            && (target == Target::WebSocket || !credential::is_safe(&parts.method))
        {
            check_csrf(csrf.as_deref(), claims.csrf.as_deref())?;
        }
        if check == Check::Fresh && !claims.is_fresh() {
            return Err(AuthError::FreshTokenRequired);
        }
        Ok(Some((Authenticated { claims, credential: kind }, offered_subprotocol)))
    }

    /// Verifies a bare access token (first-message mode, in-band refresh):
    /// signature, claims, kind and revocation.
    pub async fn verify_access(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.verify_access_signature(token).await?;
        self.check_revoked(&claims).await?;
        Ok(claims)
    }

    /// Verifies a bare access token without consulting revocation: for
    /// callers that register the socket first and check revocation after.
    pub(crate) async fn verify_access_signature(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.verify_token(token).await?;
        check_kind(&claims, TokenKind::Access)?;
        Ok(claims)
    }

    /// Verifies a token of a trusted issuer (routed by its `iss`, checked
    /// against that issuer's keys only) or of the authority itself. A local
    /// token may not name a subject key or token id of a trusted issuer.
    pub async fn verify_token(&self, token: &str) -> Result<Claims, AuthError> {
        let tokens = &self.inner.tokens;
        let compact = Compact::split(token, tokens.settings().max_token_len)?;
        // Boxed: a trusted issuer's path (key fetches included) is large,
        // and inline it would grow every handshake's future, which the
        // router's layers move several times.
        if !self.inner.issuers.is_empty()
            && let Some(outcome) = Box::pin(self.inner.issuers.verify(&compact, tokens)).await
        {
            return outcome;
        }
        let claims = tokens.verify_compact(&compact)?;
        if self.inner.issuers.owns_key(&claims.sub) || claims.is_external() {
            return Err(AuthError::InvalidToken("Subject belongs to an external issuer"));
        }
        if self.inner.issuers.owns_key(&claims.jti) {
            return Err(AuthError::InvalidToken("Token id belongs to an external issuer"));
        }
        Ok(claims)
    }

    /// The trusted external issuers.
    #[must_use]
    pub fn trusted_issuers(&self) -> &TrustedIssuers {
        &self.inner.issuers
    }

    /// Fails with `token_revoked` if the claims are revoked; fails closed when
    /// the store is unavailable.
    pub async fn check_revoked(&self, claims: &Claims) -> Result<(), AuthError> {
        match self.inner.revocation.is_revoked(claims).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(AuthError::TokenRevoked),
            Err(e) => {
                tracing::error!(error = %e, "revocation store unavailable; refusing");
                Err(AuthError::Unavailable)
            }
        }
    }

    /// Origins: any Origin header must be exactly allowed; a cookie credential
    /// additionally requires one (cross-site WebSocket hijacking).
    pub(crate) fn check_origin(
        &self,
        headers: &HeaderMap,
        kind: Option<CredentialKind>,
    ) -> Result<(), AuthError> {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (None, _) if kind == Some(CredentialKind::Cookie) => Err(AuthError::OriginNotAllowed),
            (None, _) => Ok(()),
            (Some(origin), None)
                if self.inner.allowed_origins.iter().any(|a| a.as_bytes() == origin.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(AuthError::OriginNotAllowed),
        }
    }

    /// Issues a one-time ticket standing for these access-token claims. It
    /// expires after the ticket lifetime or with the token, whichever is first.
    /// Returns the ticket and its lifetime in seconds.
    pub async fn issue_ticket(&self, claims: &Claims) -> Result<(String, i64), AuthError> {
        check_kind(claims, TokenKind::Access)?;
        let now_ms = self.inner.tokens.clock().now_millis();
        // A ticket outlives neither its token nor the key that signed it.
        let token_end = claims.exp.saturating_add(self.inner.tokens.settings().leeway);
        let token_end_ms = claims
            .key_valid_until
            .map_or(token_end, |until| token_end.min(until.saturating_add(1)))
            .saturating_mul(1000);
        let expires_at = now_ms
            .saturating_add(self.inner.ticket_ttl_secs.saturating_mul(1000))
            .min(token_end_ms);
        let (ticket, digest) = ticket::new_ticket().map_err(|_| AuthError::Unavailable)?;
        let admission = self
            .inner
            .tickets
            .insert(digest, claims.clone(), expires_at, self.inner.max_tickets_per_subject)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "ticket store unavailable");
                AuthError::Unavailable
            })?;
        if admission == TicketAdmission::SubjectFull {
            self.observer().rate_limited(Limit::Tickets);
            let retry_after = u64::try_from(self.inner.ticket_ttl_secs).unwrap_or(1).max(1);
            return Err(AuthError::TooManyRequests { retry_after });
        }
        self.observer().ticket_issued();
        Ok((ticket, (expires_at - now_ms).max(0) / 1000))
    }

    async fn redeem_ticket(&self, ticket: &str) -> Result<Claims, AuthError> {
        if ticket.len() > ticket::MAX_TICKET_LEN {
            return Err(AuthError::InvalidTicket);
        }
        let taken = self.inner.tickets.take(&ticket::digest(ticket)).await.map_err(|e| {
            tracing::error!(error = %e, "ticket store unavailable");
            AuthError::Unavailable
        })?;
        let (claims, expires_at) = taken.ok_or(AuthError::InvalidTicket)?;
        if self.inner.tokens.clock().now_millis() > expires_at {
            return Err(AuthError::InvalidTicket);
        }
        self.observer().ticket_redeemed();
        Ok(claims)
    }
}

fn check_kind(claims: &Claims, wanted: TokenKind) -> Result<(), AuthError> {
    if claims.kind == wanted {
        return Ok(());
    }
    Err(AuthError::WrongTokenType(match wanted {
        TokenKind::Refresh => "Only refresh tokens are allowed",
        _ => "Only access tokens are allowed",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_made_consistent() {
        let big = SocketLimits {
            max_message_size: 16 << 20,
            write_buffer_size: 4 << 20,
            ..SocketLimits::default()
        };
        let (limits, live) = consistent_limits(big, LiveConfig::default());
        assert_eq!(live.outbound_queue_bytes, 16 << 20);
        // tungstenite panics unless the cap exceeds the write buffer size.
        assert!(limits.max_write_buffer_size >= (20 << 20) + MAX_FRAME_HEADER);
        let (limits, live) = consistent_limits(SocketLimits::default(), LiveConfig::default());
        assert_eq!(live.outbound_queue_bytes, 1 << 20);
        assert_eq!(limits.max_write_buffer_size, (1 << 20) + MAX_FRAME_HEADER);
    }

    #[tokio::test]
    async fn a_huge_ticket_lifetime_ends_with_the_token() {
        // Found by the server_config fuzz target: `ticket_ttl` seconds were
        // turned into milliseconds without saturating (a panic, or a wrapped
        // and already expired ticket).
        let key = crate::Key::generate(crate::Algorithm::HS256).unwrap();
        let tokens = TokenAuthority::new(crate::KeySet::new(key));
        let access = tokens.issue_access("alice", Default::default()).unwrap();
        let auth = WsAuth::builder(tokens).ticket_ttl_secs(i64::MAX).build();
        let (_, expires_in) = auth.issue_ticket(&access.claims).await.unwrap();
        assert!((899..=900).contains(&expires_in), "{expires_in}");
    }

    #[test]
    fn timers_stay_within_what_the_clock_can_add() {
        // Found by the server_config fuzz target: a ping interval of 10^8 s
        // in the configuration made every socket's task panic on `Instant + Duration`.
        let live = LiveConfig {
            ping_interval: Duration::MAX,
            pong_timeout: Duration::MAX,
            write_timeout: Duration::ZERO,
            ..LiveConfig::default()
        };
        let (_, live) = consistent_limits(SocketLimits::default(), live);
        assert_eq!((live.ping_interval, live.pong_timeout), (MAX_TIMER, MAX_TIMER));
        assert_eq!(live.write_timeout, Duration::from_millis(1));
        let now = tokio::time::Instant::now();
        assert!(now.checked_add(live.ping_interval + live.pong_timeout).is_some());
    }
}
