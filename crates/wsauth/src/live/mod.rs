//! Live connections: every open socket stays bound to a valid credential.
//!
//! [`LiveSessions`] is a registry of live sockets keyed by subject and `jti`.
//! It closes a socket with 4001 when its token expires (plus a grace), and
//! with 4003 when a [`RevocationEvent`] names its token or its subject. One
//! task drives every deadline from an ordered set, so 100,000 sockets cost
//! 100,000 small entries, not 100,000 timers. A multi-node backend only has
//! to deliver revocation events to [`LiveSessions::notify`] on every node.

mod close;
pub(crate) mod frames;
mod outbox;
mod registry;
mod session;
mod socket;

pub(crate) use close::close_socket;
pub use outbox::Outbox;
#[cfg(test)]
pub(crate) use outbox::test_outbox;
pub use registry::{Kick, LiveSessions};
pub use session::{Ended, LiveSession, RebindError, SessionBinding};
pub use socket::{Closed, Incoming, LiveSocket};

use std::time::Duration;

/// Limits and timings for live sockets. Every field documents its default.
/// The timers (`auth_timeout`, `ping_interval`, `pong_timeout`,
/// `write_timeout`) are brought within 1 ms to a day when the `WsAuth` is built.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Seconds a socket may outlive its token's `exp` before it is closed
    /// with 4001. Default 0.
    pub expiry_grace_secs: i64,
    /// Live sockets one subject may hold; past it a handshake gets 429. Default 16.
    pub max_connections_per_user: usize,
    /// Sockets waiting for a first-message `auth` frame, in all. Past it a
    /// handshake gets 429. Default 256.
    pub max_pending_auth: usize,
    /// Of those, how many one client address (an IPv6 client: its /64) may
    /// hold; past it that client's handshake gets 429. Default 16.
    pub max_pending_auth_per_address: usize,
    /// How long a first-message socket may wait before its `auth` frame
    /// (close 4408 after it). Default 5 s.
    pub auth_timeout: Duration,
    /// Messages per second a client may send, sustained; past it close 1008.
    /// Default 100. Zero switches the limit off.
    pub message_rate: f64,
    /// Messages a client may send in a burst. Default 200.
    pub message_burst: f64,
    /// Messages waiting to be written to one client; a client that stops
    /// reading is closed (1008) when its queue is full. Default 64.
    pub outbound_queue: usize,
    /// Bytes of message payload waiting to be written to one client, in all;
    /// past it (or for one message larger than it) the socket is closed with
    /// 1008 "outbound queue full". Default 1 MiB; never less than the
    /// largest message a client may send (`SocketLimits::max_message_size`),
    /// so that any accepted message can be echoed. A client that stops
    /// reading makes the server hold at most this queue plus the one message
    /// being written.
    pub outbound_queue_bytes: usize,
    /// How often the server pings a quiet client. Default 25 s.
    pub ping_interval: Duration,
    /// How long a client may stay silent after a ping (no pong, no frame)
    /// before it is closed with 1008. Default 20 s.
    pub pong_timeout: Duration,
    /// How long one write may take before the client is deemed stuck and the
    /// socket is dropped. Default 10 s.
    pub write_timeout: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            expiry_grace_secs: 0,
            max_connections_per_user: 16,
            max_pending_auth: 256,
            max_pending_auth_per_address: 16,
            auth_timeout: Duration::from_secs(5),
            message_rate: 100.0,
            message_burst: 200.0,
            outbound_queue: 64,
            outbound_queue_bytes: 1024 * 1024,
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// A revocation that live sockets must react to. Its JSON form
/// (`{"kind": ..., "data": ...}`) is what a [`RevocationBus`](crate::cluster::RevocationBus) carries between nodes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationEvent {
    /// These token ids were revoked: sockets bound to them close with 4003.
    Tokens(Vec<String>),
    /// Every token of these sessions (`sid` claim) of `sub` was revoked.
    Sessions {
        /// The subject the sessions belong to.
        sub: String,
        /// The session ids.
        sessions: Vec<String>,
    },
    /// Every token of `sub` issued before `before` (Unix seconds) was revoked.
    /// [`RevocationEvent::everything_of`] closes every socket of the subject
    /// open at that moment, whatever its `iat`.
    Subject {
        /// The subject.
        sub: String,
        /// Tokens with `iat` earlier than this are revoked.
        before: i64,
    },
}

impl RevocationEvent {
    /// Every socket `sub` holds now, whatever its token ("log out everywhere").
    pub fn everything_of(sub: impl Into<String>) -> Self {
        Self::Subject { sub: sub.into(), before: i64::MAX }
    }
}
