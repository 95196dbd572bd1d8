//! One-time tickets in Redis: issued on one node, redeemed on any, exactly
//! once. A ticket is a key (its SHA-256 digest, never the ticket itself)
//! holding the claims it stands for (and the last second their signing key
//! is trusted, which is not a claim), expiring with it; `GETDEL` takes it, so
//! of several redemptions racing on different nodes one gets the claims.
//! Each subject's outstanding tickets are a sorted set (digest by expiry):
//! a Lua script drops the expired ones, counts, and stores, atomically, so
//! the cap holds across nodes.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use serde_json::{Map, Value};
use wsauth::{
    Claims, SharedClock, StoreError, StoredTicket, SystemClock, TicketAdmission, TicketDigest,
    TicketStore,
};

use crate::{Prefix, store_error};

/// A [`TicketStore`] in Redis.
#[derive(Clone)]
pub struct RedisTicketStore {
    conn: ConnectionManager,
    prefix: Prefix,
    clock: SharedClock,
}

impl std::fmt::Debug for RedisTicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTicketStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// `KEYS[1]` the subject's set, `KEYS[2]` the ticket; `ARGV`: now (ms),
/// expiry (ms), the cap, the digest, the payload. Returns 1 when stored.
const INSERT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], ARGV[5], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
end
return 1";

impl RedisTicketStore {
    /// Tickets under `prefix`, judged by the system clock.
    pub fn new(conn: ConnectionManager, prefix: Prefix) -> Self {
        Self { conn, prefix, clock: std::sync::Arc::new(SystemClock) }
    }

    /// Decides which tickets have expired by `clock` (tests inject one).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

fn hex(digest: &TicketDigest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl TicketStore for RedisTicketStore {
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
        max_per_subject: usize,
    ) -> Result<TicketAdmission, StoreError> {
        let now = self.clock.now_millis();
        // `key_valid_until` is not a claim, so the claims' JSON leaves it
        // out; it travels beside them, or a ticket's socket would outlive
        // a retiring key.
        let payload = serde_json::json!({
            "claims": claims,
            "key_valid_until": claims.key_valid_until,
            "expires_at": expires_at,
        })
        .to_string();
        let digest = hex(&digest);
        let mut conn = self.conn.clone();
        let stored: i64 = redis::Script::new(INSERT)
            .key(self.prefix.key("tickets", &claims.sub))
            .key(self.prefix.key("ticket", &digest))
            .arg(now)
            .arg(expires_at)
            .arg(max_per_subject)
            .arg(&digest)
            .arg(payload)
            .invoke_async(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(if stored == 1 { TicketAdmission::Stored } else { TicketAdmission::SubjectFull })
    }

    async fn take(&self, digest: &TicketDigest) -> Result<Option<StoredTicket>, StoreError> {
        let digest = hex(digest);
        let mut conn = self.conn.clone();
        let payload: Option<String> = redis::cmd("GETDEL")
            .arg(self.prefix.key("ticket", &digest))
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        let Some(payload) = payload else { return Ok(None) };
        let ticket = decode(&payload)?;
        // The ticket is gone already; its place under the cap is freed here
        // or, failing that, when it expires.
        let _: Result<i64, _> = redis::cmd("ZREM")
            .arg(self.prefix.key("tickets", &ticket.claims.sub))
            .arg(&digest)
            .query_async(&mut conn)
            .await;
        Ok(Some(ticket))
    }
}

fn decode(payload: &str) -> Result<StoredTicket, StoreError> {
    let bad = || StoreError("redis: a stored ticket is not readable".into());
    let mut stored: Map<String, Value> = serde_json::from_str(payload).map_err(|_| bad())?;
    let expires_at = stored.get("expires_at").and_then(Value::as_i64).ok_or_else(bad)?;
    let Some(Value::Object(claims)) = stored.remove("claims") else { return Err(bad()) };
    let mut claims = Claims::from_json_object(claims).map_err(|_| bad())?;
    claims.key_valid_until = match stored.get("key_valid_until") {
        None | Some(Value::Null) => None,
        Some(until) => Some(until.as_i64().ok_or_else(bad)?),
    };
    Ok(StoredTicket { claims, expires_at })
}
