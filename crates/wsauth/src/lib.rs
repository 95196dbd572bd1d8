#![doc = include_str!("../README.md")]
//!
//! Every credential goes through one handshake pipeline, read top to bottom
//! in one file, `src/handshake/mod.rs`: locate the credential (and, on a
//! handshake, check Origin) -> verify the token or redeem the ticket, and
//! check its kind -> check CSRF and freshness -> register the socket ->
//! check revocation -> upgrade. A socket's revocation is checked after its
//! registration, so that a revocation landing in between still closes it;
//! an HTTP request, which leaves nothing behind, is checked for revocation
//! as soon as its token is verified. `/ws` ([`WsGuard`]), first-message
//! auth ([`DeferredGuard`]), forward auth ([`forward::ForwardAuth`]),
//! in-band refresh ([`LiveSocket`]) and the HTTP extractors all go through
//! it.
//!
//! The crate root holds what every application uses: [`WsAuth`] and its
//! builder, tokens and keys, the extractors and guards, the stores, live
//! sockets and the clock. The rest is grouped by purpose: [`accept`] (an
//! accept loop's fair places and rates), [`cluster`] (what nodes share:
//! the revocation bus, attempt budgets), [`forward`] (forward auth for a
//! reverse proxy), [`issuers`] (trusted external issuers), [`observe`]
//! (events for metrics), [`close_code`] and [`dangerous`].

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(clippy::must_use_candidate, clippy::return_self_not_must_use)]

#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod __fuzz;
pub mod accept;
mod auth;
mod builder;
pub mod channels;
mod claims;
mod client_addr;
mod clock;
pub mod cluster;
mod credential;
mod crypto;
mod error;
mod extract;
mod first_message;
pub mod forward;
mod forwarded;
mod handshake;
mod header;
pub mod issuers;
mod keys;
mod live;
pub mod observe;
mod revocation;
mod socket_limits;
mod strict_json;
mod ticket;
mod token;
mod ws;

/// The tests' one `Claims` literal, shared with wsauth-testkit (which the
/// unit tests here cannot depend on: it depends on this crate).
#[cfg(test)]
#[allow(unreachable_pub)]
#[path = "../../wsauth-testkit/src/claims.rs"]
mod test_claims;

pub use auth::WsAuth;
pub use builder::{
    DEFAULT_MAX_TICKETS_PER_SUBJECT, DEFAULT_TICKET_TTL_SECS, HandshakeRate, WsAuthBuilder,
};
pub use claims::{Claims, RESERVED_CLAIMS, TokenKind};
pub use client_addr::{ClientKey, TrustedProxies};
pub use clock::{Clock, ClockChange, ManualClock, SharedClock, SystemClock};
pub use credential::{CredentialKind, CredentialNames, Transports};
pub use error::{AuthError, close_code};
pub use extract::{AccessToken, FreshAccessToken, RefreshToken, RevokingToken};
pub use first_message::DeferredGuard;
pub use handshake::{Access, Authenticated, Check, Fresh, Optional, Refresh, Requirement};
pub use keys::{Algorithm, Key, KeyError, KeySet, MIN_HMAC_SECRET_LEN, generate_key_material};
pub use live::{
    Closed, Ended, Incoming, Kick, LiveConfig, LiveSession, LiveSessions, LiveSocket, Outbox,
    RebindError, RevocationEvent, SessionBinding,
};
pub use revocation::{MemoryRevocationStore, RevocationStore, StoreError};
pub use socket_limits::SocketLimits;
pub use ticket::{
    IssuedTicket, MemoryTicketStore, StoredTicket, TicketAdmission, TicketDigest, TicketStore,
};
pub use token::{
    IssueError, IssueOptions, IssuedToken, MAX_TOKEN_LEN, TokenAuthority, TokenSettings,
};
pub use ws::{GuardedUpgrade, WsGuard};

/// Calls that weaken security, fenced off so that they are never used by accident.
pub mod dangerous {
    use crate::keys::{Algorithm, Key, KeyError};

    /// An HMAC key from a secret of any length, including weak ones such as
    /// `"secret"`. For local experiments and interop with development setups
    /// only: it logs a warning every time it is used.
    pub fn weak_hmac_key(alg: Algorithm, secret: &[u8]) -> Result<Key, KeyError> {
        tracing::warn!(
            len = secret.len(),
            "INSECURE: using an HMAC secret shorter than 32 bytes; never do this in production"
        );
        Key::hmac_unchecked(alg, secret)
    }
}

/// Re-exported so that `axum::extract::ws` types line up with the guard's.
pub use axum;
