//! Redis backends for [wsauth](wsauth), so that several nodes behind one
//! address share what one node used to keep in memory:
//!
//! - [`RedisRevocationStore`]: revoked tokens, sessions and subject marks,
//!   checked in one round trip per handshake (concurrent checks share it);
//! - [`RedisTicketStore`]: one-time tickets issued on one node and redeemed
//!   on any, exactly once (`GETDEL`), with the per-subject cap held across
//!   nodes (a Lua script counts and stores atomically);
//! - [`RedisAttemptLimiter`]: a token bucket per client shared by every
//!   node (password attempts), on Redis's clock;
//! - [`RedisBus`]: a [`RevocationBus`](wsauth::cluster::RevocationBus) over Redis
//!   pub/sub that hands every other node's revocations to this node's
//!   [`LiveSessions`](wsauth::LiveSessions), re-subscribing after a
//!   reconnect and reporting [`BusState::Behind`](wsauth::cluster::BusState) while
//!   it is not subscribed;
//! - [`RedisChannelBus`]: channel messages published on one node delivered on
//!   every other, over a fixed set of sharded pub/sub channels.
//!
//! Every key and channel starts with a [`Prefix`], so several deployments
//! (or tests) can share one Redis.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use wsauth_redis::{Prefix, RedisRevocationStore, RedisTicketStore};
//!
//! let redis = wsauth_redis::connect("redis://127.0.0.1:6379").await?;
//! let prefix = Prefix::new("myapp:")?;
//! let revocations = Arc::new(RedisRevocationStore::new(redis.clone(), prefix.clone()));
//! let tickets = Arc::new(RedisTicketStore::new(redis, prefix));
//! let key = wsauth::Key::generate(wsauth::Algorithm::HS256)?;
//! let tokens = wsauth::TokenAuthority::new(wsauth::KeySet::new(key));
//! let auth = wsauth::WsAuth::builder(tokens).revocation(revocations).tickets(tickets).build();
//! # Ok(()) }
//! ```

mod attempts;
mod batch;
mod bus;
mod channels;
mod keys;
mod presence;
mod revocation;
mod tickets;

pub use attempts::RedisAttemptLimiter;
pub use bus::{EventHandler, RedisBus};
pub use channels::{RedisChannelBus, SHARDS};
pub use keys::{InvalidPrefix, Prefix};
pub use presence::{DEAD_AFTER, HEARTBEAT};
pub use revocation::{MarkScope, RedisRevocationStore};
pub use tickets::RedisTicketStore;

pub use redis;
use redis::aio::ConnectionManager;
use wsauth::StoreError;

/// Opens a connection manager (it reconnects by itself) to the Redis at `url`.
pub async fn connect(url: &str) -> Result<ConnectionManager, StoreError> {
    let client = redis::Client::open(url).map_err(store_error)?;
    ConnectionManager::new(client).await.map_err(store_error)
}

pub(crate) fn store_error(e: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}
