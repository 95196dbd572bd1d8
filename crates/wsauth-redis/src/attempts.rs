//! A token bucket per client in Redis, shared by every node: a Lua script
//! refills, takes and stores atomically, on Redis's own clock, so nodes
//! whose clocks differ still share one budget. A bucket's key expires once
//! it would have refilled, so idle clients cost nothing.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use wsauth::cluster::{Admission, AttemptLimiter};
use wsauth::{ClientKey, StoreError};

use crate::{Prefix, store_error};

/// An [`AttemptLimiter`] in Redis: `rate` attempts per second per client,
/// bursts of `burst`, across every node under one prefix.
#[derive(Clone)]
pub struct RedisAttemptLimiter {
    conn: ConnectionManager,
    prefix: Prefix,
    /// The budget's name in its keys (`password`, ...).
    name: &'static str,
    rate: f64,
    burst: f64,
}

impl std::fmt::Debug for RedisAttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAttemptLimiter")
            .field("prefix", &self.prefix)
            .field("name", &self.name)
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// `KEYS[1]` the bucket; `ARGV`: rate per second, burst. Returns
/// `{admitted, milliseconds to wait}`.
const TAKE: &str = r"
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local admitted, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  admitted = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {admitted, wait}";

impl RedisAttemptLimiter {
    /// The budget `name` under `prefix`: `rate` per second per client,
    /// bursts of `burst`; a rate of zero switches it off.
    pub fn new(
        conn: ConnectionManager,
        prefix: Prefix,
        name: &'static str,
        rate: f64,
        burst: f64,
    ) -> Self {
        Self { conn, prefix, name, rate, burst: burst.max(1.0) }
    }
}

#[async_trait]
impl AttemptLimiter for RedisAttemptLimiter {
    async fn admit(&self, client: &ClientKey) -> Result<Admission, StoreError> {
        if self.rate <= 0.0 {
            return Ok(Admission::Admitted);
        }
        let mut conn = self.conn.clone();
        let (admitted, wait_ms): (i64, i64) = redis::Script::new(TAKE)
            .key(self.prefix.key(&format!("attempts:{}", self.name), &client.to_string()))
            .arg(self.rate)
            .arg(self.burst)
            .invoke_async(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(if admitted == 1 {
            Admission::Admitted
        } else {
            let secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
            Admission::RetryAfter(secs)
        })
    }
}
