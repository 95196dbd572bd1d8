//! [`WsAuth`], the facade an application holds: cheap to clone, built by
//! [`WsAuthBuilder`](crate::WsAuthBuilder) (`builder.rs`), and what it
//! holds. What it answers is the handshake pipeline's (`handshake/`: every
//! credential goes through it, top to bottom) and the tickets'
//! (`ticket/issue.rs`); they add those calls to it.

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::accept::AddressLimiter;
use crate::accept::ClientSlots;
use crate::credential::{CredentialNames, Transports};
use crate::issuers::TrustedIssuers;
use crate::live::LiveSessions;
use crate::observe::Observer;
use crate::revocation::RevocationStore;
use crate::socket_limits::SocketLimits;
use crate::ticket::TicketStore;
use crate::{TokenAuthority, TrustedProxies};

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

/// What a [`WsAuth`] holds, as the builder made it.
pub(crate) struct Inner {
    pub(crate) tokens: TokenAuthority,
    pub(crate) revocation: Arc<dyn RevocationStore>,
    pub(crate) tickets: Arc<dyn TicketStore>,
    pub(crate) names: CredentialNames,
    pub(crate) transports: Transports,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) ticket_ttl_secs: i64,
    pub(crate) max_tickets_per_subject: usize,
    pub(crate) limits: SocketLimits,
    pub(crate) live: LiveSessions,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) handshakes: AddressLimiter,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) pending: ClientSlots,
    pub(crate) issuers: TrustedIssuers,
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

impl WsAuth {
    pub(crate) fn new(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
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

    /// The trusted external issuers.
    #[must_use]
    pub fn trusted_issuers(&self) -> &TrustedIssuers {
        &self.inner.issuers
    }

    pub(crate) fn transports(&self) -> &Transports {
        &self.inner.transports
    }

    pub(crate) fn allowed_origins(&self) -> &[String] {
        &self.inner.allowed_origins
    }

    pub(crate) fn tickets(&self) -> &dyn TicketStore {
        &*self.inner.tickets
    }

    pub(crate) fn ticket_ttl_secs(&self) -> i64 {
        self.inner.ticket_ttl_secs
    }

    pub(crate) fn max_tickets_per_subject(&self) -> usize {
        self.inner.max_tickets_per_subject
    }

    pub(crate) fn handshakes(&self) -> &AddressLimiter {
        &self.inner.handshakes
    }

    pub(crate) fn pending(&self) -> &ClientSlots {
        &self.inner.pending
    }
}
