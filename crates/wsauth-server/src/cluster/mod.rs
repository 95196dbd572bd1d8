//! Several nodes behind one address (`redis_url` set): they share the
//! database for accounts and token families, and one Redis for what must
//! hold across nodes at the speed of a handshake: one-time tickets (issued
//! on one node, redeemed on any, once), the password attempt budget per
//! client address, and (see `check.rs`, `peers.rs`) revocations and
//! the events that close live sockets. Without `redis_url` none of this
//! exists and the server runs as a single node.
//!
//! Every Redis call is bounded by [`CALL_TIMEOUT`]; a call that fails or
//! times out fails closed (the caller answers 503 `unavailable`).

mod bounded;
mod catch_up;
mod check;
mod peers;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::cluster::AttemptLimiter;
use wsauth::{RevocationEvent, SharedClock, TicketStore};
use wsauth_redis::{
    MarkScope, Prefix, RedisAttemptLimiter, RedisBus, RedisChannelBus, RedisRevocationStore,
    RedisTicketStore, redis,
};

use crate::config::Config;
use wsauth_domain::Backend;
use wsauth_domain::inbound::{Inbound, News};
use wsauth_domain::mirror::StoredRevocations;

pub(crate) use bounded::{Bounded, bounded};
use catch_up::CatchUp;
pub(crate) use check::ClusterRevocations;
pub(crate) use peers::RedisPeers;

/// The longest one Redis call may take before it counts as failed.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the first connection may take at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis this node shares with the others.
#[derive(Clone)]
pub(crate) struct Cluster {
    url: String,
    conn: ConnectionManager,
    prefix: Prefix,
    catch_up: Arc<CatchUp>,
}

impl Cluster {
    /// The cluster `config` names, or `None` when `redis_url` is unset.
    /// Refuses a cluster without a configured key: a generated key is
    /// generated per node, so tokens one node signs would fail on the others.
    pub(crate) async fn open(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.redis_url else { return Ok(None) };
        if config.hmac_secret.is_none() && config.private_key_file.is_none() {
            anyhow::bail!(
                "redis_url is set, but neither hmac_secret nor private_key_file is: every node \
                 of a cluster must sign with the same key, and a key generated into the data \
                 directory differs from node to node; configure one of them on every node"
            );
        }
        let prefix = config.redis_prefix()?;
        let client = redis::Client::open(url.as_str()).context("invalid redis_url")?;
        // The address without the password, and one first connection made
        // on its own: the manager below retries a refused connection until
        // its timeout, which would hide the cause.
        let place = client.get_connection_info().addr().to_string();
        tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
            .and_then(|conn| conn.map_err(anyhow::Error::from))
            .with_context(|| format!("cannot reach Redis at {place} (redis_url)"))?;
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client, settings),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
        .and_then(|conn| conn.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot reach Redis at {place} (redis_url)"))?;
        tracing::info!(prefix = prefix.as_str(), "cluster mode: sharing state through Redis");
        Ok(Some(Self { url: url.clone(), conn, prefix, catch_up: Arc::default() }))
    }

    /// A connection (it reconnects by itself).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// One-time tickets, redeemable on any node.
    pub(crate) fn tickets(&self, clock: SharedClock) -> Arc<dyn TicketStore> {
        let store = RedisTicketStore::new(self.connection(), self.prefix.clone()).with_clock(clock);
        Arc::new(Bounded(store))
    }

    /// The password attempt budget, shared by every node.
    pub(crate) fn password_attempts(&self, rate: f64, burst: f64) -> Arc<dyn AttemptLimiter> {
        let limiter = RedisAttemptLimiter::new(
            self.connection(),
            self.prefix.clone(),
            "password",
            rate,
            burst,
        );
        Arc::new(Bounded(limiter))
    }

    /// The revocations every node shares. Marks spare tokens with a session
    /// (they are judged by their session), as the mirror's do.
    pub(crate) fn revocations(&self, clock: SharedClock) -> RedisRevocationStore {
        RedisRevocationStore::new(self.connection(), self.prefix.clone())
            .with_mark_scope(MarkScope::TokensWithoutSession)
            .with_clock(clock)
    }

    /// The revocation check of a cluster node: `mirror`, then `shared`,
    /// failing closed while this node may have missed news.
    pub(crate) fn revocation_check(
        &self,
        mirror: Arc<StoredRevocations>,
        shared: RedisRevocationStore,
    ) -> ClusterRevocations {
        ClusterRevocations::new(mirror, shared, self.catch_up.clone())
    }

    /// Subscribes to the revocation bus: other nodes' events reach
    /// `inbound` (their sockets close at once, and the subject they name is
    /// reloaded from the database, so this node's own view catches up).
    /// Waits (up to 5 s) for the subscription, so that a node does not
    /// serve before it hears the others; catches up from the database after
    /// it and after every resubscription (`catch_up.rs`).
    pub(crate) async fn start_bus(
        &self,
        inbound: Inbound,
        shutdown: CancellationToken,
    ) -> anyhow::Result<RedisBus> {
        let for_catch_up = inbound.clone();
        let handler = Arc::new(move |event: &RevocationEvent| {
            let (inbound, news) = (inbound.clone(), News::Bus(event.clone()));
            tokio::spawn(async move {
                if let Err(e) = inbound.received(news).await {
                    tracing::warn!(error = %e, "cannot reload a subject revoked on another node");
                }
            });
        });
        let start =
            RedisBus::start_with_handler(&self.url, &self.prefix, handler, shutdown.clone());
        let bus = tokio::time::timeout(CONNECT_TIMEOUT, start)
            .await
            .unwrap_or_else(|_| Err(wsauth::StoreError("no answer within 5 s".into())))
            .map_err(|e| anyhow::anyhow!("cannot start the revocation bus: {e}"))?;
        if !bus.wait_current(CONNECT_TIMEOUT).await {
            tracing::warn!("the revocation bus is not subscribed yet; retrying in the background");
        }
        let catch_up = self.catch_up.clone();
        catch_up.follow(bus.clone(), for_catch_up, shutdown).await;
        Ok(bus)
    }

    /// Carries channel messages between the nodes: what `channels`
    /// publishes goes to the others, and theirs reach `channels`. Waits (up
    /// to 5 s) for its subscriptions.
    pub(crate) async fn start_channel_bus(
        &self,
        channels: &wsauth::channels::Channels,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let start = RedisChannelBus::start(&self.url, &self.prefix, channels.clone(), shutdown);
        let bus = tokio::time::timeout(CONNECT_TIMEOUT, start)
            .await
            .unwrap_or_else(|_| Err(wsauth::StoreError("no answer within 5 s".into())))
            .map_err(|e| anyhow::anyhow!("cannot start the channel bus: {e}"))?;
        if !bus.wait_subscribed(CONNECT_TIMEOUT).await {
            tracing::warn!("the channel bus is not subscribed yet; retrying in the background");
        }
        channels.attach_presence(Arc::new(bus.clone()));
        channels.attach_bus(Arc::new(bus));
        Ok(())
    }

    /// Redis as a backend for readiness.
    pub(crate) fn backend(&self) -> Arc<dyn Backend> {
        Arc::new(RedisBackend(self.connection()))
    }
}

/// Readiness of the shared Redis: `PING`.
struct RedisBackend(ConnectionManager);

#[async_trait::async_trait]
impl Backend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), String> {
        let mut conn = self.0.clone();
        let ping = async move {
            let answer = redis::cmd("PING").query_async::<String>(&mut conn).await;
            answer.map_err(|e| wsauth::StoreError(e.to_string()))
        };
        bounded(ping).await.map(drop).map_err(|e| e.0)
    }
}
