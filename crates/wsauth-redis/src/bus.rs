//! The revocation bus over Redis pub/sub. Each node publishes the events it
//! makes on one channel, tagged with its own id, and a subscriber task hands
//! the other nodes' events to the local registry. Pub/sub delivers only to
//! those subscribed at the moment of publishing, so the bus reports
//! [`BusState::Behind`] from the moment its subscription is lost until it
//! has subscribed again; a caller that must not miss a revocation refuses
//! to serve while it is behind and catches up from its durable store.

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::cluster::{BusState, RevocationBus};
use wsauth::{LiveSessions, RevocationEvent, StoreError};

use crate::{Prefix, store_error};

/// The longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

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
        tokio::spawn(bus.clone().subscribe_loop(client, handler, shutdown));
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

    /// Subscribes, delivers, and subscribes again whenever the connection
    /// is lost, with a growing pause between attempts (at most 1 s).
    async fn subscribe_loop(
        self,
        client: redis::Client,
        handler: EventHandler,
        shutdown: CancellationToken,
    ) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let attempt = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let subscribed = tokio::select! {
                () = shutdown.cancelled() => return,
                result = attempt => result,
            };
            match subscribed {
                Ok(mut pubsub) => {
                    backoff = Duration::from_millis(50);
                    self.set_subscribed(true);
                    tracing::info!(channel = %self.channel, "revocation bus subscribed");
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            () = shutdown.cancelled() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        self.deliver(message.get_payload_bytes(), &handler);
                    }
                    self.set_subscribed(false);
                    tracing::warn!("revocation bus lost its subscription; subscribing again");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "revocation bus cannot subscribe; retrying");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
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
