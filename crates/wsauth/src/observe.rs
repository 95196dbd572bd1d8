//! What the library reports as it works, for metrics and dashboards. The
//! library counts nothing itself: an [`Observer`] given to
//! [`WsAuthBuilder::observer`](crate::WsAuthBuilder::observer) receives each
//! event and records it however the application likes.
//!
//! ```
//! use std::sync::Arc;
//! use wsauth::observe::{HandshakeOutcome, Observer};
//!
//! #[derive(Debug)]
//! struct LogRejections;
//! impl Observer for LogRejections {
//!     fn handshake(&self, outcome: &HandshakeOutcome) {
//!         if let Some(code) = outcome.error {
//!             eprintln!("handshake refused: {code}");
//!         }
//!     }
//! }
//! # let key = wsauth::Key::generate(wsauth::Algorithm::HS256).unwrap();
//! # let tokens = wsauth::TokenAuthority::new(wsauth::KeySet::new(key));
//! let auth = wsauth::WsAuth::builder(tokens).observer(Arc::new(LogRejections)).build();
//! # let _ = auth;
//! ```

use std::time::Duration;

use crate::CredentialKind;

/// One WebSocket handshake's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeOutcome {
    /// How the credential travelled, when one was found.
    pub credential: Option<CredentialKind>,
    /// The stable error code of a rejection; `None` when accepted.
    pub error: Option<&'static str>,
    /// From the request to the decision.
    pub elapsed: Duration,
}

/// A limit that refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Handshakes per client address.
    HandshakeRate,
    /// Live sockets per subject.
    SocketsPerUser,
    /// Sockets waiting for a first-message auth frame.
    PendingAuth,
    /// Messages per second on one socket.
    MessageRate,
    /// A client that stopped reading (outbound queue full).
    OutboundQueue,
    /// Unredeemed tickets per subject.
    Tickets,
}

impl Limit {
    /// A short stable name, for labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HandshakeRate => "handshake_rate",
            Self::SocketsPerUser => "sockets_per_user",
            Self::PendingAuth => "pending_auth",
            Self::MessageRate => "message_rate",
            Self::OutboundQueue => "outbound_queue",
            Self::Tickets => "tickets",
        }
    }
}

/// Receives the library's events. Every method defaults to doing nothing;
/// each is called on the hot path, so keep them cheap (count, don't block).
pub trait Observer: Send + Sync + std::fmt::Debug + 'static {
    /// A WebSocket handshake was decided (first-message mode: once the auth
    /// frame was judged, or when the upgrade itself was refused).
    fn handshake(&self, outcome: &HandshakeOutcome) {
        let _ = outcome;
    }

    /// A socket ended with this close code (sent or received; 1006 when
    /// the connection dropped without one).
    fn socket_closed(&self, code: u16) {
        let _ = code;
    }

    /// A socket was closed because of a revocation, this long after the
    /// revocation was handed to [`LiveSessions::notify`](crate::LiveSessions::notify).
    fn revocation_closed(&self, elapsed: Duration) {
        let _ = elapsed;
    }

    /// A one-time ticket was issued.
    fn ticket_issued(&self) {}

    /// A one-time ticket was redeemed.
    fn ticket_redeemed(&self) {}

    /// A limit refused a request or ended a socket.
    fn rate_limited(&self, limit: Limit) {
        let _ = limit;
    }

    /// Socket-channel subscriptions were added (positive) or ended (negative).
    fn channel_subscriptions(&self, delta: i64) {
        let _ = delta;
    }

    /// Channel messages moved: `count` published into a channel (`Direction::In`)
    /// or delivered to subscribed sockets (`Direction::Out`).
    fn channel_messages(&self, direction: Direction, count: u64) {
        let _ = (direction, count);
    }

    /// A channel command was refused with this error code.
    fn channel_denied(&self, error: &'static str) {
        let _ = error;
    }

    /// A subscription was ended because its right was taken away, `elapsed`
    /// after the change was learned.
    fn channel_revoked(&self, elapsed: Duration) {
        let _ = elapsed;
    }
}

/// Which way channel messages moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Published into a channel, by a socket or a backend.
    In,
    /// Delivered to a subscribed socket.
    Out,
}

impl Direction {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// The observer used when none is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}
