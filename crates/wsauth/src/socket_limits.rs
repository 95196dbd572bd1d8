//! [`SocketLimits`]: the buffers and message sizes of every upgraded
//! socket, and how the builder makes them agree with the live sockets'
//! queue and timers.

use std::time::Duration;

use crate::live::LiveConfig;

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
    /// written. Default 1 MiB; [`WsAuthBuilder::build`](crate::WsAuthBuilder::build) raises it to what the
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
pub(crate) fn make_consistent(limits: &mut SocketLimits, live: &mut LiveConfig) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consistent(mut limits: SocketLimits, mut live: LiveConfig) -> (SocketLimits, LiveConfig) {
        make_consistent(&mut limits, &mut live);
        (limits, live)
    }

    #[test]
    fn limits_are_made_consistent() {
        let big = SocketLimits {
            max_message_size: 16 << 20,
            write_buffer_size: 4 << 20,
            ..SocketLimits::default()
        };
        let (limits, live) = consistent(big, LiveConfig::default());
        assert_eq!(live.outbound_queue_bytes, 16 << 20);
        // tungstenite panics unless the cap exceeds the write buffer size.
        assert!(limits.max_write_buffer_size >= (20 << 20) + MAX_FRAME_HEADER);
        let (limits, live) = consistent(SocketLimits::default(), LiveConfig::default());
        assert_eq!(live.outbound_queue_bytes, 1 << 20);
        assert_eq!(limits.max_write_buffer_size, (1 << 20) + MAX_FRAME_HEADER);
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
        let (_, live) = consistent(SocketLimits::default(), live);
        assert_eq!((live.ping_interval, live.pong_timeout), (MAX_TIMER, MAX_TIMER));
        assert_eq!(live.write_timeout, Duration::from_millis(1));
        let now = tokio::time::Instant::now();
        assert!(now.checked_add(live.ping_interval + live.pong_timeout).is_some());
    }
}
