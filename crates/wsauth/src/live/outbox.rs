//! A live socket's outbound queue as other tasks see it: an [`Outbox`]
//! queues messages without waiting, bounded in messages and in bytes
//! together with what the socket queued itself.

use axum::extract::ws::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A handle that queues messages for one socket from another task, without
/// waiting. When the queue is full, in messages or in bytes (the client
/// stopped reading), the socket is closed with 1008.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Message>,
    pub(super) overflow: CancellationToken,
    /// Payload bytes queued and not yet written, shared with the socket.
    pub(super) queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl Outbox {
    /// Queues a message; `false` if the socket is gone or its queue overflowed.
    pub fn send(&self, message: Message) -> bool {
        let len = payload_len(&message);
        if !reserve(&self.queued_bytes, len, self.max_bytes) {
            self.overflow.cancel();
            return false;
        }
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(e) => {
                release(&self.queued_bytes, len);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.overflow.cancel();
                }
                false
            }
        }
    }

    /// Queues a JSON text frame.
    #[must_use]
    pub fn send_json(&self, value: &serde_json::Value) -> bool {
        self.send(Message::text(value.to_string()))
    }
}

/// The receiving side of [`Outbox`] handles, made on first request so that
/// sockets nobody else writes to carry no channel.
pub(super) struct Shared {
    rx: mpsc::Receiver<Message>,
    pub(super) outbox: Outbox,
}

impl Shared {
    /// A queue of `capacity` messages and `max_bytes` payload bytes, of
    /// which `queued_bytes` are already taken.
    pub(super) fn new(capacity: usize, max_bytes: usize, queued_bytes: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity);
        let queued_bytes = Arc::new(AtomicUsize::new(queued_bytes));
        let overflow = CancellationToken::new();
        Self { rx, outbox: Outbox { tx, overflow, queued_bytes, max_bytes } }
    }
}

/// An outbox and the queue it fills, for tests of what is sent through it.
#[cfg(test)]
pub(crate) fn test_outbox(capacity: usize) -> (Outbox, mpsc::Receiver<Message>) {
    let Shared { rx, outbox } = Shared::new(capacity, usize::MAX, 0);
    (outbox, rx)
}

/// The next message from the shared queue, or never when there is none.
pub(super) async fn next_shared(shared: &mut Option<Shared>) -> Option<Message> {
    match shared {
        Some(shared) => shared.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The payload bytes of a message: what the outbound byte bound counts.
pub(super) fn payload_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data.len(),
        Message::Close(frame) => frame.as_ref().map_or(0, |f| 2 + f.reason.len()),
    }
}

/// Adds `len` to a byte count unless that would pass `max`.
pub(super) fn reserve(count: &AtomicUsize, len: usize, max: usize) -> bool {
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
            queued.checked_add(len).filter(|total| *total <= max)
        })
        .is_ok()
}

/// Takes `len` off a byte count.
pub(super) fn release(count: &AtomicUsize, len: usize) {
    let _ = count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
        Some(queued.saturating_sub(len))
    });
}
