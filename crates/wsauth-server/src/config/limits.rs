//! `[limits]`: limits on sockets, handshakes, passwords, refreshes and
//! connections (`WSAUTH_LIMITS_<KEY>` in the environment). Most defaults
//! are the library's, stated there once; the others are the server's own
//! policy, stated here once.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ConfigError;

/// Limits on live sockets and handshakes (`[limits]` in the file,
/// `WSAUTH_LIMITS_<KEY>` in the environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Seconds a socket may outlive its token's `exp` (then close 4001).
    pub expiry_grace: i64,
    /// Largest message and frame a client may send, bytes (close 1009).
    pub max_message_size: usize,
    /// The WebSocket layer's read buffer per connection, bytes (at least
    /// 128). Default 256: one read from the kernel takes up to 4 KiB into a
    /// chunk that exists only while its bytes wait, so this is what an idle
    /// socket keeps; it bounds neither a read nor a message.
    pub read_buffer_size: usize,
    /// Messages per second per connection, sustained (close 1008 past it); 0 = off.
    pub message_rate: f64,
    /// Messages per connection in a burst.
    pub message_burst: f64,
    /// Messages queued for a client that is not reading (close 1008 when full).
    pub outbound_queue: usize,
    /// Bytes queued for a client that is not reading (close 1008 past it);
    /// never less than `max_message_size`.
    pub outbound_queue_bytes: usize,
    /// Seconds between pings to a quiet client.
    pub ping_interval: u64,
    /// Seconds a client may stay silent after a ping (close 1008 after).
    pub pong_timeout: u64,
    /// Seconds one write may take before the client is dropped.
    pub write_timeout: u64,
    /// WebSocket handshakes per second per client address (429 past it); 0 = off.
    pub handshake_rate: f64,
    /// Handshakes per client address in a burst.
    pub handshake_burst: f64,
    /// Password attempts (login, register) per second per client address (429 past it); 0 = off.
    pub password_rate: f64,
    /// Password attempts per client address in a burst.
    pub password_burst: f64,
    /// Password checks (login, register) waiting for or holding one of the
    /// hashing slots; past it, 503 `overloaded` with `Retry-After`.
    pub password_queue: usize,
    /// Refreshes per second per token family, sustained (429 past it); 0 = off.
    pub refresh_rate: f64,
    /// Refreshes per token family in a burst.
    pub refresh_burst: f64,
    /// Unredeemed WebSocket tickets per user (429 past it).
    pub max_tickets_per_user: usize,
    /// Live sockets per user (429 past it).
    pub max_connections_per_user: usize,
    /// Sockets waiting for a first-message auth frame, in all (429 past it).
    pub max_pending_auth: usize,
    /// Of those, how many one client address may hold (429 past it). Default 16.
    pub max_pending_auth_per_address: usize,
    /// Seconds a first-message socket may wait for its auth frame (close
    /// 4408); fractions allowed (`0.5`), at most a day. Default 5
    /// ([`wsauth::LiveConfig`]).
    pub auth_timeout: f64,
    /// `auth_timeout`'s old name, in milliseconds: still read from the file
    /// and `WSAUTH_LIMITS_AUTH_TIMEOUT_MS`, never written. Loading moves it
    /// into `auth_timeout` and reports it in
    /// [`Config::deprecated_settings`](super::Config::deprecated_settings);
    /// both at once are refused.
    #[serde(skip_serializing)]
    pub(super) auth_timeout_ms: Option<u64>,
    /// Seconds a client has to send a whole request head, counted from the
    /// connection's start or, on a kept-alive connection, from the end of the
    /// previous response; then the connection is closed. Default 10.
    pub header_read_timeout: u64,
    /// Seconds a request body has to arrive in full (408 after it). Default 10.
    pub body_read_timeout: u64,
    /// Seconds an HTTP connection (not an upgraded WebSocket) may go without
    /// a byte moving either way, for instance a client that stopped reading
    /// its responses; then it is closed. Default 60.
    pub http_idle_timeout: u64,
    /// Open connections in all, WebSockets included; past it a new
    /// connection gets 503 and is closed. Default: the soft `RLIMIT_NOFILE`
    /// less a reserve of 64 for the database and logs (at least half of it).
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 client: its /64);
    /// past it 429 and closed. A trusted proxy counts against `max_connections`
    /// only. Default 4096.
    pub max_connections_per_address: usize,
    /// New connections per second per client address, sustained; past it a
    /// connection gets 429 and is closed as soon as it is accepted, before
    /// any parsing. A trusted proxy is not limited. 0 = off. Default 100.
    pub connection_rate: f64,
    /// New connections per client address in a burst. Default 200.
    pub connection_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        let live = wsauth::LiveConfig::default();
        let socket = wsauth::SocketLimits::default();
        let handshake = wsauth::HandshakeRate::default();
        Self {
            expiry_grace: live.expiry_grace_secs,
            max_message_size: socket.max_message_size,
            // The server's own: its streams read ahead (stream.rs), so the
            // WebSocket layer's buffer, kept by every idle socket, only has
            // to hold a frame header and a small message.
            read_buffer_size: 256,
            message_rate: live.message_rate,
            message_burst: live.message_burst,
            outbound_queue: live.outbound_queue,
            outbound_queue_bytes: live.outbound_queue_bytes,
            ping_interval: live.ping_interval.as_secs(),
            pong_timeout: live.pong_timeout.as_secs(),
            write_timeout: live.write_timeout.as_secs(),
            handshake_rate: handshake.per_second,
            handshake_burst: handshake.burst,
            password_rate: 5.0,
            password_burst: 20.0,
            password_queue: 32,
            refresh_rate: 0.1,
            refresh_burst: 10.0,
            max_tickets_per_user: wsauth::DEFAULT_MAX_TICKETS_PER_SUBJECT,
            max_connections_per_user: live.max_connections_per_user,
            max_pending_auth: live.max_pending_auth,
            max_pending_auth_per_address: live.max_pending_auth_per_address,
            auth_timeout: live.auth_timeout.as_secs_f64(),
            auth_timeout_ms: None,
            header_read_timeout: 10,
            body_read_timeout: 10,
            http_idle_timeout: 60,
            max_connections: max_connections_from_nofile(),
            max_connections_per_address: 4096,
            connection_rate: 100.0,
            connection_burst: 200.0,
        }
    }
}

/// The default `max_connections`: the soft `RLIMIT_NOFILE` less a reserve
/// for the database, the key file and logs (at least half the limit), so the
/// cap is reached before `accept` starts failing for lack of descriptors.
fn max_connections_from_nofile() -> usize {
    const RESERVE: u64 = 64;
    const CEILING: u64 = 1 << 20;
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _hard)| soft);
    let soft = soft.min(CEILING);
    let usable = soft.saturating_sub(RESERVE).max(soft / 2).max(1);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

/// Refuses `[limits]` setting `name`, naming the `WSAUTH_LIMITS_<KEY>`
/// variable too when one is set.
fn refuse(name: &str, why: &str) -> Result<(), ConfigError> {
    let variable = format!("WSAUTH_LIMITS_{}", name.to_ascii_uppercase());
    let given = if std::env::var_os(&variable).is_some() {
        format!(" (environment variable {variable})")
    } else {
        String::new()
    };
    Err(ConfigError::Invalid(format!("limits.{name}{given} {why}")))
}

/// The longest any timer or timeout may be, seconds: a day.
pub(super) const A_DAY_SECS: u64 = 24 * 3600;

impl Limits {
    /// Rates finite and not negative, bursts at least 1; live-socket timers
    /// at most a day (pings and writes at least a second); connection
    /// timeouts 1 second to a day; sizes and counts large enough to work.
    /// Each value that would be silently raised or would stop the server
    /// from serving anyone is refused instead.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let rates = [
            ("message_rate", self.message_rate),
            ("handshake_rate", self.handshake_rate),
            ("password_rate", self.password_rate),
            ("refresh_rate", self.refresh_rate),
            ("connection_rate", self.connection_rate),
        ];
        for (name, value) in rates {
            if !(value.is_finite() && value >= 0.0) {
                return refuse(name, "must be a number of at least 0 (0 turns it off)");
            }
        }
        // A burst under 1 would act as 1.
        let bursts = [
            ("message_burst", self.message_burst),
            ("handshake_burst", self.handshake_burst),
            ("password_burst", self.password_burst),
            ("refresh_burst", self.refresh_burst),
            ("connection_burst", self.connection_burst),
        ];
        for (name, value) in bursts {
            if !(value.is_finite() && value >= 1.0) {
                return refuse(name, "must be a number of at least 1");
            }
        }
        let day = Duration::from_secs(A_DAY_SECS);
        let timers = [
            (self.auth_timeout_name(), Duration::try_from_secs_f64(self.auth_timeout).ok()),
            ("expiry_grace", u64::try_from(self.expiry_grace).ok().map(Duration::from_secs)),
        ];
        for (name, value) in timers {
            if value.is_none_or(|value| value > day) {
                return refuse(name, "must be at least 0 and at most a day");
            }
        }
        // 0 would act as 1 (pings, writes) or end every connection at once.
        let timeouts = [
            ("ping_interval", self.ping_interval),
            ("pong_timeout", self.pong_timeout),
            ("write_timeout", self.write_timeout),
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("http_idle_timeout", self.http_idle_timeout),
        ];
        for (name, secs) in timeouts {
            if !(1..=A_DAY_SECS).contains(&secs) {
                return refuse(name, &format!("must be 1 to {A_DAY_SECS} seconds"));
            }
        }
        let sizes = [
            ("max_message_size", self.max_message_size, 1024),
            ("read_buffer_size", self.read_buffer_size, 128),
        ];
        for (name, size, least) in sizes {
            if size < least {
                return refuse(name, &format!("must be at least {least} bytes"));
            }
        }
        // 0 would refuse every connection, ticket or login, or act as 1.
        let counts = [
            ("max_connections", self.max_connections),
            ("max_connections_per_address", self.max_connections_per_address),
            ("max_pending_auth_per_address", self.max_pending_auth_per_address),
            ("max_connections_per_user", self.max_connections_per_user),
            ("max_tickets_per_user", self.max_tickets_per_user),
            ("outbound_queue", self.outbound_queue),
            ("password_queue", self.password_queue),
        ];
        for (name, count) in counts {
            if count == 0 {
                return refuse(name, "must be at least 1");
            }
        }
        Ok(())
    }

    /// The name the auth timeout was given under: its old one while that
    /// is still in use, so an error names what the operator wrote.
    fn auth_timeout_name(&self) -> &'static str {
        if self.auth_timeout_ms.is_some() { "auth_timeout_ms" } else { "auth_timeout" }
    }

    /// The library's live-socket configuration.
    pub fn live_config(&self) -> wsauth::LiveConfig {
        wsauth::LiveConfig {
            expiry_grace_secs: self.expiry_grace,
            max_connections_per_user: self.max_connections_per_user,
            max_pending_auth: self.max_pending_auth,
            max_pending_auth_per_address: self.max_pending_auth_per_address,
            // Validated to at most a day; a value set in code past that
            // waits a day.
            auth_timeout: Duration::try_from_secs_f64(self.auth_timeout)
                .unwrap_or(Duration::from_secs(A_DAY_SECS)),
            message_rate: self.message_rate,
            message_burst: self.message_burst,
            outbound_queue: self.outbound_queue,
            outbound_queue_bytes: self.outbound_queue_bytes,
            ping_interval: Duration::from_secs(self.ping_interval.max(1)),
            pong_timeout: Duration::from_secs(self.pong_timeout.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout.max(1)),
        }
    }

    /// The library's socket buffer and size limits.
    pub fn socket_limits(&self) -> wsauth::SocketLimits {
        wsauth::SocketLimits {
            read_buffer_size: self.read_buffer_size,
            max_message_size: self.max_message_size,
            max_frame_size: self.max_message_size,
            ..wsauth::SocketLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_a_reserve_under_the_file_limit() {
        let cap = max_connections_from_nofile();
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        assert!(cap >= 1);
        assert!((cap as u64) < soft.max(2));
        assert_eq!(Limits::default().max_connections, cap);
    }

    #[test]
    fn the_auth_timeout_is_seconds_and_may_be_a_fraction() {
        let limits = Limits { auth_timeout: 0.25, ..Limits::default() };
        assert_eq!(limits.live_config().auth_timeout, Duration::from_millis(250));
        assert_eq!(Limits::default().live_config().auth_timeout, Duration::from_secs(5));
        for refused in [-0.001, f64::NAN, f64::INFINITY, 86_400.001] {
            let limits = Limits { auth_timeout: refused, ..Limits::default() };
            let error = limits.validate().expect_err("refused").to_string();
            assert!(error.contains("limits.auth_timeout must be at least 0 and at most a day"));
        }
        let limits = Limits { auth_timeout: 86_400.0, ..Limits::default() };
        assert!(limits.validate().is_ok());
    }
}
