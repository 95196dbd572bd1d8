//! Presence across the nodes, in Redis, kept by [`RedisChannelBus`].
//!
//! - `<prefix>pres:<channel>`: a hash of `<sub>\x1f<node>` to that subject's
//!   subscribed sockets on that node: what `presence` lists (summed by
//!   subject).
//! - `<prefix>presn:<channel>`: a hash of `<sub>` to the number of nodes
//!   where it is present: a subject's first node makes a `join`, its last
//!   node a `leave`, decided atomically by one script.
//! - `<prefix>presnode:<node>`: the set of `<channel>\x1f<sub>` a node holds,
//!   and `<prefix>nodes:presence`, each node's last heartbeat (Redis's own
//!   clock). A node that has not beaten for [`DEAD_AFTER`] is dead: the
//!   first node to notice removes what it held, and its subjects that are
//!   present nowhere else leave (within [`DEAD_AFTER`] plus one
//!   [`HEARTBEAT`]). Channel names and subjects cannot hold `\x1f`.
//!
//! The scripts build keys from the prefix: this needs one Redis, not a
//! Redis Cluster.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::channels::{Channel, ChannelPresence, Channels, PresenceChange, Present, Unavailable};

use crate::channels::{Envelope, Outgoing, RedisChannelBus};

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a node may be silent before its members leave.
pub const DEAD_AFTER: Duration = Duration::from_secs(20);

/// `KEYS`: the channel's hash, its node counts, this node's set. `ARGV`:
/// sub, node, connections, channel. Returns 1 for a join, -1 for a leave.
const HERE: &str = r"
local field = ARGV[1] .. '\31' .. ARGV[2]
local held = ARGV[4] .. '\31' .. ARGV[1]
if tonumber(ARGV[3]) > 0 then
  if redis.call('HSET', KEYS[1], field, ARGV[3]) == 1 then
    redis.call('SADD', KEYS[3], held)
    if redis.call('HINCRBY', KEYS[2], ARGV[1], 1) == 1 then return 1 end
  end
  return 0
end
if redis.call('HDEL', KEYS[1], field) == 1 then
  redis.call('SREM', KEYS[3], held)
  if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[1])
    return -1
  end
end
return 0";

/// `KEYS[1]`: the heartbeats. `ARGV`: this node. Records it alive now.
const BEAT: &str = r"
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])
return 1";

/// `KEYS[1]`: the heartbeats. `ARGV`: dead after (ms), the prefix. Removes
/// every dead node's presence; returns the leaves, channel and sub in turn.
const SWEEP: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local leaves = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))) do
  local set = ARGV[2] .. 'presnode:' .. node
  for _, held in ipairs(redis.call('SMEMBERS', set)) do
    local at = string.find(held, '\31', 1, true)
    local channel, sub = string.sub(held, 1, at - 1), string.sub(held, at + 1)
    if redis.call('HDEL', ARGV[2] .. 'pres:' .. channel, sub .. '\31' .. node) == 1 then
      local counts = ARGV[2] .. 'presn:' .. channel
      if redis.call('HINCRBY', counts, sub, -1) <= 0 then
        redis.call('HDEL', counts, sub)
        table.insert(leaves, channel)
        table.insert(leaves, sub)
      end
    end
  end
  redis.call('DEL', set)
  redis.call('ZREM', KEYS[1], node)
end
return leaves";

impl RedisChannelBus {
    fn heartbeats(&self) -> String {
        self.prefix.key("nodes", "presence")
    }

    /// Records a subject's socket count here; a join or leave it makes is
    /// told to every node (this one too).
    pub(crate) async fn record_here(
        &self,
        conn: &mut ConnectionManager,
        channels: &Channels,
        channel: &Channel,
        sub: &str,
        connections: u32,
    ) {
        let changed: Result<i64, _> = redis::Script::new(HERE)
            .key(self.prefix.key("pres", channel.as_str()))
            .key(self.prefix.key("presn", channel.as_str()))
            .key(self.prefix.key("presnode", &self.node))
            .arg(sub)
            .arg(&*self.node)
            .arg(connections)
            .arg(channel.as_str())
            .invoke_async(conn)
            .await;
        let change = match changed {
            Ok(1) => PresenceChange::Join,
            Ok(-1) => PresenceChange::Leave,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot record presence; it is corrected when this node is seen dead or the subject moves again");
                return;
            }
        };
        self.tell(conn, channels, channel, change, sub).await;
    }

    /// Tells this node's sockets and the other nodes of a join or leave.
    async fn tell(
        &self,
        conn: &mut ConnectionManager,
        channels: &Channels,
        channel: &Channel,
        change: PresenceChange,
        sub: &str,
    ) {
        channels.announce(channel, change, sub);
        let envelope = Envelope {
            node: &self.node,
            channel: channel.as_str(),
            from: None,
            data: None,
            presence: Some(change.as_str()),
            sub: Some(sub),
        };
        let Ok(payload) = serde_json::to_string(&envelope) else { return };
        let published: Result<i64, _> = redis::cmd("PUBLISH")
            .arg(self.shard(channel.as_str()))
            .arg(payload)
            .query_async(conn)
            .await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "a presence change did not reach the other nodes");
        }
    }

    /// Beats every [`HEARTBEAT`], and removes the presence of nodes that
    /// stopped beating.
    pub(crate) async fn keep_presence(self, channels: Channels, shutdown: CancellationToken) {
        let mut conn = self.conn.clone();
        let mut every = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let beat: Result<i64, _> = redis::Script::new(BEAT)
                .key(self.heartbeats())
                .arg(&*self.node)
                .invoke_async(&mut conn)
                .await;
            if let Err(e) = beat {
                tracing::warn!(error = %e, "cannot record this node's presence heartbeat");
                continue;
            }
            let swept: Result<Vec<String>, _> = redis::Script::new(SWEEP)
                .key(self.heartbeats())
                .arg(u64::try_from(DEAD_AFTER.as_millis()).unwrap_or(u64::MAX))
                .arg(self.prefix.as_str())
                .invoke_async(&mut conn)
                .await;
            let Ok(leaves) = swept else { continue };
            for pair in leaves.chunks(2) {
                if let [channel, sub] = pair
                    && let Ok(channel) = Channel::parse(channel)
                {
                    self.tell(&mut conn, &channels, &channel, PresenceChange::Leave, sub).await;
                }
            }
        }
    }
}

#[async_trait]
impl ChannelPresence for RedisChannelBus {
    fn here(&self, channel: &Channel, sub: &str, connections: u32) {
        let update = Outgoing::Here { channel: channel.clone(), sub: sub.to_owned(), connections };
        if self.queue.try_send(update).is_err() {
            tracing::warn!(channel = %channel, "channel bus queue full; a presence change was not recorded");
        }
    }

    async fn members(
        &self,
        channel: &Channel,
        limit: usize,
    ) -> Result<(Vec<Present>, bool), Unavailable> {
        let mut conn = self.conn.clone();
        let fields: Vec<(String, u32)> = redis::cmd("HGETALL")
            .arg(self.prefix.key("pres", channel.as_str()))
            .query_async(&mut conn)
            .await
            .map_err(|_| Unavailable)?;
        let mut by_sub: BTreeMap<String, u32> = BTreeMap::new();
        for (field, connections) in fields {
            if let Some((sub, _node)) = field.split_once('\u{1f}') {
                *by_sub.entry(sub.to_owned()).or_default() += connections;
            }
        }
        let truncated = by_sub.len() > limit;
        let members = by_sub
            .into_iter()
            .take(limit)
            .map(|(sub, connections)| Present { sub, connections })
            .collect();
        Ok((members, truncated))
    }
}
