//! [`WsAuthBuilder`]: every setting of a [`WsAuth`], each with its default.

use std::sync::Arc;

use crate::accept::AddressLimiter;
use crate::accept::ClientSlots;
use crate::auth::{Inner, WsAuth};
use crate::credential::{CredentialNames, Transports};
use crate::issuers::TrustedIssuers;
use crate::live::{LiveConfig, LiveSessions};
use crate::observe::{NoObserver, Observer};
use crate::revocation::{MemoryRevocationStore, RevocationStore};
use crate::socket_limits::{SocketLimits, make_consistent};
use crate::ticket::{MemoryTicketStore, TicketStore};
use crate::{TokenAuthority, TrustedProxies};

/// How long a ticket stays valid by default, seconds.
pub const DEFAULT_TICKET_TTL_SECS: i64 = 30;
/// How many unredeemed tickets one subject may hold by default.
pub const DEFAULT_MAX_TICKETS_PER_SUBJECT: usize = 16;

/// WebSocket handshakes allowed per client address ([`WsAuth::client_ip`]):
/// past them, 429 with `Retry-After` before the upgrade. A rate of zero
/// switches the limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandshakeRate {
    /// Handshakes per second, sustained. Default 50.
    pub per_second: f64,
    /// Handshakes in a burst. Default 100.
    pub burst: f64,
}

impl Default for HandshakeRate {
    fn default() -> Self {
        Self { per_second: 50.0, burst: 100.0 }
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
    handshake_rate: HandshakeRate,
    trusted_proxies: TrustedProxies,
    observer: Option<Arc<dyn Observer>>,
    issuers: TrustedIssuers,
}

impl std::fmt::Debug for WsAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsAuthBuilder")
            .field("tokens", &self.tokens)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl WsAuth {
    /// Starts a builder around a token authority.
    pub fn builder(tokens: TokenAuthority) -> WsAuthBuilder {
        WsAuthBuilder::new(tokens)
    }
}

impl WsAuthBuilder {
    /// Starts a builder around a token authority.
    fn new(tokens: TokenAuthority) -> Self {
        Self {
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
            handshake_rate: HandshakeRate::default(),
            trusted_proxies: TrustedProxies::none(),
            observer: None,
            issuers: TrustedIssuers::default(),
        }
    }

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

    /// WebSocket handshakes allowed per client address; past it, 429 with
    /// `Retry-After` before the upgrade. Default: [`HandshakeRate::default`]
    /// (50 per second, bursts of 100). The address is
    /// [`WsAuth::client_ip`]; without axum's `ConnectInfo<SocketAddr>` (no
    /// `into_make_service_with_connect_info`) no per-address limit applies.
    pub fn handshake_rate(mut self, rate: HandshakeRate) -> Self {
        self.handshake_rate = rate;
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
        let (mut limits, mut live) = (self.limits, self.live);
        make_consistent(&mut limits, &mut live);
        let live = LiveSessions::new(clock.clone(), leeway, live);
        let pending = ClientSlots::new(
            live.config().max_pending_auth,
            live.config().max_pending_auth_per_address,
        );
        WsAuth::new(Inner {
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
            handshakes: AddressLimiter::new(
                self.handshake_rate.per_second,
                self.handshake_rate.burst,
            ),
            trusted_proxies: self.trusted_proxies,
            pending,
            issuers: self.issuers,
        })
    }
}
