//! Channel messages between the nodes of a cluster, over Redis pub/sub.
//!
//! Channel names are hashed onto a fixed set of [`SHARDS`] Redis channels
//! (`<prefix>chan:<n>`), and every node subscribes to all of them once: a
//! node's Redis subscriptions stay the same however many channels its
//! sockets use (100,000 personal channels cost what one does), and an idle
//! subscribed socket costs Redis nothing. A node publishes what its sockets
//! and backends publish, in order, from one task; it delivers its own
//! messages itself and ignores their echo. Delivery is at most once: a
//! message published while a node is re-subscribing does not reach it.

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wsauth::StoreError;
use wsauth::channels::{Channel, ChannelBus, Channels, PresenceChange};

use crate::{Prefix, store_error};

/// The Redis channels channel names are hashed onto.
pub const SHARDS: u64 = 64;
/// Messages waiting to be published; past it new ones are dropped (and
/// logged): a Redis that cannot keep up must not grow the node without bound.
const QUEUE: usize = 10_000;
/// The longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What travels between nodes: a message (`data`, `from`), or a subject
/// joining or leaving (`presence`, `sub`).
#[derive(Serialize, Deserialize)]
pub(crate) struct Envelope<'a> {
    /// The node it comes from.
    pub(crate) node: &'a str,
    pub(crate) channel: &'a str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<&'a str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) presence: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<&'a str>,
}

/// What the node's one writer task does, in order.
pub(crate) enum Outgoing {
    /// Publish a message on a shard.
    Publish { shard: String, payload: String },
    /// A subject's socket count on a channel here changed.
    Here { channel: Channel, sub: String, connections: u32 },
}

/// The shard of `channel`: FNV-1a, the same on every node and version.
fn shard_of(channel: &str) -> u64 {
    let hash = channel.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % SHARDS
}

/// A [`ChannelBus`] over Redis pub/sub.
#[derive(Clone)]
pub struct RedisChannelBus {
    pub(crate) node: Arc<str>,
    pub(crate) prefix: Prefix,
    pub(crate) conn: ConnectionManager,
    pub(crate) queue: mpsc::Sender<Outgoing>,
    subscribed: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisChannelBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChannelBus").field("node", &self.node).finish_non_exhaustive()
    }
}

impl RedisChannelBus {
    /// Starts the bus on the Redis at `url`: messages other nodes publish
    /// are handed to `channels` until `shutdown` is cancelled; what
    /// `channels` publishes is sent to them (attach it with
    /// [`Channels::attach_bus`]). It keeps presence too
    /// ([`Channels::attach_presence`], `presence.rs`).
    pub async fn start(
        url: &str,
        prefix: &Prefix,
        channels: Channels,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(store_error)?;
        let conn = ConnectionManager::new(client.clone()).await.map_err(store_error)?;
        let (queue, outgoing) = mpsc::channel(QUEUE);
        let bus = Self {
            node: uuid::Uuid::new_v4().to_string().into(),
            prefix: prefix.clone(),
            conn,
            queue,
            subscribed: Arc::new(AtomicBool::new(false)),
        };
        tokio::spawn(bus.clone().write_loop(outgoing, channels.clone(), shutdown.clone()));
        tokio::spawn(bus.clone().keep_presence(channels.clone(), shutdown.clone()));
        tokio::spawn(bus.clone().subscribe_loop(client, channels, shutdown));
        Ok(bus)
    }

    /// Whether every shard is subscribed now.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    /// Waits until every shard is subscribed, at most `limit`.
    pub async fn wait_subscribed(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_subscribed() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.is_subscribed()
    }

    fn shard_names(&self) -> Vec<String> {
        (0..SHARDS).map(|n| self.prefix.key("chan", &n.to_string())).collect()
    }

    async fn subscribe_loop(
        self,
        client: redis::Client,
        channels: Channels,
        shutdown: CancellationToken,
    ) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let attempt = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(self.shard_names()).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let subscribed = tokio::select! {
                () = shutdown.cancelled() => return,
                result = attempt => result,
            };
            match subscribed {
                Ok(mut pubsub) => {
                    backoff = Duration::from_millis(50);
                    self.subscribed.store(true, Ordering::SeqCst);
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            () = shutdown.cancelled() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        self.deliver(message.get_payload_bytes(), &channels);
                    }
                    self.subscribed.store(false, Ordering::SeqCst);
                    tracing::warn!("channel bus lost its subscription; subscribing again");
                }
                Err(e) => tracing::warn!(error = %e, "channel bus cannot subscribe; retrying"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn deliver(&self, payload: &[u8], channels: &Channels) {
        let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(payload) else {
            tracing::warn!("ignoring an unreadable channel bus message");
            return;
        };
        if *envelope.node == *self.node {
            return;
        }
        // Another node checked it; checked again here all the same.
        let Ok(channel) = Channel::parse(envelope.channel) else {
            tracing::warn!("ignoring a channel bus message for a bad channel name");
            return;
        };
        match (envelope.data, envelope.presence, envelope.sub) {
            (Some(data), _, _) => {
                channels.receive(&channel, data, envelope.from);
            }
            (None, Some("join"), Some(sub)) => {
                channels.announce(&channel, PresenceChange::Join, sub)
            }
            (None, Some("leave"), Some(sub)) => {
                channels.announce(&channel, PresenceChange::Leave, sub)
            }
            _ => tracing::warn!("ignoring a channel bus message of no known kind"),
        }
    }

    /// The shard `channel` travels on.
    pub(crate) fn shard(&self, channel: &str) -> String {
        self.prefix.key("chan", &shard_of(channel).to_string())
    }
}

impl ChannelBus for RedisChannelBus {
    fn send(&self, channel: &Channel, data: &RawValue, from: Option<&str>) {
        let envelope = Envelope {
            node: &self.node,
            channel: channel.as_str(),
            from,
            data: Some(data),
            presence: None,
            sub: None,
        };
        let Ok(payload) = serde_json::to_string(&envelope) else { return };
        let shard = self.shard(channel.as_str());
        if self.queue.try_send(Outgoing::Publish { shard, payload }).is_err() {
            tracing::warn!(channel = %channel, "channel bus queue full; a message did not reach the other nodes");
        }
    }
}

impl RedisChannelBus {
    /// Does what was queued, one thing after another, so that the order of
    /// one node's messages and presence changes on a channel holds.
    async fn write_loop(
        self,
        mut outgoing: mpsc::Receiver<Outgoing>,
        channels: Channels,
        shutdown: CancellationToken,
    ) {
        let mut conn = self.conn.clone();
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                next = outgoing.recv() => next,
            };
            match next {
                None => return,
                Some(Outgoing::Publish { shard, payload }) => {
                    let published: Result<i64, _> =
                        redis::cmd("PUBLISH").arg(&shard).arg(payload).query_async(&mut conn).await;
                    if let Err(e) = published {
                        tracing::warn!(error = %e, "a channel message did not reach the other nodes");
                    }
                }
                Some(Outgoing::Here { channel, sub, connections }) => {
                    self.record_here(&mut conn, &channels, &channel, &sub, connections).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("room:42"), shard_of("room:42"));
        let used: std::collections::HashSet<u64> =
            (0..1000).map(|n| shard_of(&format!("user:{n}:inbox"))).collect();
        assert!(used.len() > 50, "1,000 names use {} of 64 shards", used.len());
        assert!(used.iter().all(|s| *s < SHARDS));
    }
}
