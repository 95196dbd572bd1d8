//! Rate limiting: token buckets, per connection for messages and per client
//! address for handshakes and password attempts ([`AddressLimiter`] is the
//! in-process [`AttemptLimiter`](crate::cluster::AttemptLimiter)).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::ClientKey;

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A rate of zero (or less) never limits.
    #[must_use]
    pub fn new(rate: f64, burst: f64) -> Self {
        Self { rate, burst: burst.max(1.0), tokens: burst.max(1.0), last: Instant::now() }
    }

    /// Takes one token if there is one (without reading the clock when
    /// the rate is off).
    pub fn try_take(&mut self) -> bool {
        self.rate <= 0.0 || self.try_take_at(Instant::now())
    }

    fn try_take_at(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whole seconds until the next token.
    fn retry_after(&self) -> u64 {
        if self.rate <= 0.0 {
            return 0;
        }
        // Saturating float-to-int conversion: a tiny rate gives a long wait, never a panic.
        ((1.0 - self.tokens).max(0.0) / self.rate).ceil() as u64
    }

    fn is_full_at(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }
}

/// Attempts per client address (handshakes, password logins), keyed by
/// [`ClientKey`] (an IPv6 client by its /64). Addresses whose bucket has
/// refilled are forgotten, so memory stays bounded by the addresses active in
/// the last `burst / rate` seconds (and by a hard cap).
#[derive(Debug)]
pub struct AddressLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, TokenBucket>>,
}

/// The most client addresses remembered at once; past it the limiter
/// forgets refilled buckets, then refuses unknown addresses until it can.
const MAX_TRACKED: usize = 100_000;

impl AddressLimiter {
    /// `rate` handshakes per second per address, bursts of `burst`. A rate of
    /// zero switches the limit off.
    #[must_use]
    pub fn new(rate: f64, burst: f64) -> Self {
        Self { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Admits an attempt from `client` (an address or its [`ClientKey`]), or
    /// says how many seconds to wait.
    pub fn check(&self, client: impl Into<ClientKey>) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let addr = client.into();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&addr) {
            buckets.retain(|_, b| !b.is_full_at(now));
            if buckets.len() >= MAX_TRACKED {
                return Err(1);
            }
        }
        let bucket = buckets.entry(addr).or_insert_with(|| TokenBucket::new(self.rate, self.burst));
        if bucket.try_take_at(now) { Ok(()) } else { Err(bucket.retry_after().max(1)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10.0, 3.0);
        assert!(b.try_take_at(start) && b.try_take_at(start) && b.try_take_at(start));
        assert!(!b.try_take_at(start));
        assert!(b.try_take_at(start + Duration::from_millis(100)));
        assert!(!b.try_take_at(start + Duration::from_millis(100)));
    }

    #[test]
    fn limiter_is_per_address_and_says_when_to_retry() {
        let l = AddressLimiter::new(1.0, 2.0);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        assert_eq!(l.check(a), Err(1));
        assert!(l.check(b).is_ok());
        assert!(AddressLimiter::new(0.0, 0.0).check(a).is_ok());
    }

    #[test]
    fn limiter_keys_ipv6_by_its_64() {
        let l = AddressLimiter::new(1.0, 1.0);
        let first: IpAddr = "2001:db8:0:7::1".parse().expect("ip");
        let rotated: IpAddr = "2001:db8:0:7:dead:beef::2".parse().expect("ip");
        let other_net: IpAddr = "2001:db8:0:8::1".parse().expect("ip");
        assert!(l.check(first).is_ok());
        assert_eq!(l.check(rotated), Err(1));
        assert!(l.check(other_net).is_ok());
    }
}
