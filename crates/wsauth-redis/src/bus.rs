//! The revocation bus over Redis pub/sub. Each node publishes the events it
//! makes on one channel, tagged with its own id, and a subscriber task hands
//! the other nodes' events to the local registry. Pub/sub delivers only to
//! those subscribed at the moment of publishing, so the bus reports
//! [`BusState::Behind`] from the moment its subscription is lost until it
//! has subscribed again; a caller that must not miss a revocation refuses
//! to serve while it is behind and catches up from its durable store.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::cluster::{BusState, RevocationBus};
use wsauth::{LiveSessions, RevocationEvent, StoreError};

use crate::subscriber::{Listener, Subscription, stay_subscribed};
use crate::{Prefix, store_error};

/// What receives the events other nodes publish.
pub type EventHandler = Arc<dyn Fn(&RevocationEvent) + Send + Sync>;

/// A [`RevocationBus`] over Redis pub/sub.
#[derive(Clone)]
pub struct RedisBus {
    conn: ConnectionManager,
    channel: String,
    node: Arc<str>,
    subscribed: Arc<AtomicBool>,
    subscriptions: Arc<AtomicU64>,
    resubscribed: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("channel", &self.channel)
            .field("node", &self.node)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// What travels on the channel.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing node (it has applied the event itself).
    node: String,
    event: RevocationEvent,
}

impl RedisBus {
    /// Starts a bus on the Redis at `url` under `prefix`: events other nodes
    /// publish are handed to `live` until `shutdown` is cancelled. The bus
    /// is [`BusState::Behind`] until its first subscription is in place.
    pub async fn start(
        url: &str,
        prefix: &Prefix,
        live: LiveSessions,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        Self::start_with_handler(url, prefix, Arc::new(move |event| live.notify(event)), shutdown)
            .await
    }

    /// As [`start`](Self::start), handing other nodes' events to `handler`
    /// instead (for a caller that does more than close sockets, such as
    /// catching up a local view of revocations). `handler` runs on the
    /// subscriber task: it should not block.
    pub async fn start_with_handler(
        url: &str,
        prefix: &Prefix,
        handler: EventHandler,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(store_error)?;
        let conn = ConnectionManager::new(client.clone()).await.map_err(store_error)?;
        let bus = Self {
            conn,
            channel: prefix.channel(),
            node: uuid::Uuid::new_v4().to_string().into(),
            subscribed: Arc::new(AtomicBool::new(false)),
            subscriptions: Arc::new(AtomicU64::new(0)),
            resubscribed: Arc::new(tokio::sync::Notify::new()),
        };
        let listener = Hearing { bus: bus.clone(), handler };
        let channels = vec![bus.channel.clone()];
        tokio::spawn(stay_subscribed(client, channels, listener, "revocations", shutdown));
        Ok(bus)
    }

    /// This node's id on the bus.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Waits until the bus is [`BusState::Current`], at most `limit`.
    /// Returns whether it is.
    pub async fn wait_current(&self, limit: Duration) -> bool {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let notified = self.resubscribed.notified();
                if self.state() == BusState::Current {
                    return;
                }
                notified.await;
            }
        })
        .await;
        self.state() == BusState::Current
    }

    /// How many times the bus has subscribed so far (0 before the first).
    /// A caller that catches up from its durable store after each gap
    /// compares it with the count it last caught up at: events published
    /// between two subscriptions may have been missed.
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::SeqCst)
    }

    fn set_subscribed(&self, subscribed: bool) {
        if subscribed {
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
        }
        self.subscribed.store(subscribed, Ordering::SeqCst);
        if subscribed {
            self.resubscribed.notify_waiters();
        }
    }

    fn deliver(&self, payload: &[u8], handler: &EventHandler) {
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) if *envelope.node != *self.node => handler(&envelope.event),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ignoring an unreadable revocation bus message"),
        }
    }
}

/// The revocation bus's side of its subscription.
struct Hearing {
    bus: RedisBus,
    handler: EventHandler,
}

impl Listener for Hearing {
    fn subscription(&self, now: Subscription) {
        self.bus.set_subscribed(now == Subscription::Up);
    }

    fn message(&self, payload: &[u8]) {
        self.bus.deliver(payload, &self.handler);
    }
}

#[async_trait]
impl RevocationBus for RedisBus {
    async fn publish(&self, event: &RevocationEvent) -> Result<(), StoreError> {
        let envelope = Envelope { node: self.node.to_string(), event: event.clone() };
        let payload = serde_json::to_string(&envelope)
            .map_err(|e| StoreError(format!("cannot encode a revocation event: {e}")))?;
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(store_error)
    }

    fn state(&self) -> BusState {
        if self.subscribed.load(Ordering::SeqCst) { BusState::Current } else { BusState::Behind }
    }
}
