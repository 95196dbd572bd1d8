#![doc = include_str!("../README.md")]
//!
//! The order of a handshake, in [`WsAuth`]: locate the credential -> check
//! Origin -> verify the token or redeem the ticket -> check its kind -> check
//! revocation -> check CSRF -> check freshness -> upgrade.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(clippy::must_use_candidate, clippy::return_self_not_must_use)]

#[doc(hidden)]
pub mod __fuzz;
mod attempts;
mod auth;
mod bus;
mod claims;
mod client_addr;
mod clock;
mod credential;
mod crypto;
mod error;
mod extract;
mod forwarded;
mod keys;
pub mod live;
mod observe;
mod revocation;
mod slots;
mod strict_json;
mod ticket;
mod token;
mod ws;

pub use attempts::{Admission, AttemptLimiter};
pub use auth::{
    Authenticated, Check, DEFAULT_MAX_TICKETS_PER_SUBJECT, DEFAULT_TICKET_TTL_SECS, SocketLimits,
    WsAuth, WsAuthBuilder,
};
pub use bus::{BusState, RevocationBus};
pub use claims::{Claims, RESERVED_CLAIMS, TokenKind};
pub use client_addr::{ClientKey, TrustedProxies};
pub use clock::{Clock, ClockChange, ManualClock, SharedClock, SystemClock};
pub use credential::{CredentialKind, CredentialNames, Transports};
pub use error::{AuthError, close_code};
pub use extract::{AccessToken, FreshAccessToken, RefreshToken, RevokingToken};
pub use keys::{Algorithm, Key, KeyError, KeySet, MIN_HMAC_SECRET_LEN, generate_key_material};
pub use live::{
    Incoming, LiveConfig, LiveSession, LiveSessions, LiveSocket, Outbox, RebindError,
    RevocationEvent, SessionBinding,
};
pub use observe::{HandshakeOutcome, Limit, NoObserver, Observer};
pub use revocation::{MemoryRevocationStore, RevocationStore, StoreError};
pub use slots::{ClientSlot, ClientSlots, SlotsFull};
pub use ticket::{MemoryTicketStore, TicketAdmission, TicketDigest, TicketStore};
pub use token::{
    IssueError, IssueOptions, IssuedToken, MAX_TOKEN_LEN, TokenAuthority, TokenSettings,
};
pub use ws::{
    Access, DeferredGuard, Fresh, GuardedUpgrade, Optional, Refresh, Requirement, WsGuard,
};

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
