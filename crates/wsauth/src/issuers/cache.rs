//! One trusted issuer's keys, cached: fetched on first use, kept for the
//! publisher's `max-age` within configured bounds, fetched again when they
//! go stale or a token names an unknown `kid`, but never more often than
//! once per re-fetch interval, so a flood of tokens with random `kid`s
//! costs the provider at most one request per interval. A failed fetch
//! leaves the last keys in use until their grace runs out.

use std::sync::{Arc, Mutex, PoisonError};

use super::KeyCachePolicy;
use super::jwk::KeyTable;
use super::source::KeySource;
use crate::AuthError;
use crate::clock::SharedClock;
use crate::keys::{Algorithm, Key};

/// The cached keys of one issuer and when to fetch again.
#[derive(Debug)]
pub(crate) struct IssuerKeys {
    /// The issuer, for log lines.
    issuer: String,
    source: Arc<dyn KeySource>,
    policy: KeyCachePolicy,
    allowed: Vec<Algorithm>,
    state: Mutex<CacheState>,
    /// Held while a fetch is in flight; a request that needs its outcome
    /// waits here instead of fetching again.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct CacheState {
    keys: Option<KeyTable>,
    /// Unix seconds until which the keys are fresh.
    fresh_until: i64,
    /// Unix seconds until which the keys may be used at all.
    usable_until: i64,
    /// Unix seconds of the last fetch started, successful or not.
    last_attempt: Option<i64>,
    /// Counts finished fetches, so a waiter sees whether one ran meanwhile.
    generation: u64,
}

impl CacheState {
    fn usable(&self, now: i64) -> Option<&KeyTable> {
        self.keys.as_ref().filter(|_| now < self.usable_until)
    }
}

/// What the cache knows about a `kid` without fetching.
enum Lookup {
    /// Found among fresh keys.
    Fresh(Key),
    /// Found among keys past `max-age` but within their grace.
    Stale(Key),
    /// Not found (or no usable keys).
    Missing,
}

impl IssuerKeys {
    pub(crate) fn new(
        issuer: String,
        source: Arc<dyn KeySource>,
        policy: KeyCachePolicy,
        allowed: Vec<Algorithm>,
    ) -> Self {
        Self {
            issuer,
            source,
            policy,
            allowed,
            state: Mutex::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key `kid` for `alg`: `invalid_token` when the issuer's usable
    /// keys do not hold it, `unavailable` when there are no usable keys
    /// (never fetched, or every fetch failed past the grace).
    pub(crate) async fn key(
        &self,
        kid: &str,
        alg: Algorithm,
        clock: &SharedClock,
    ) -> Result<Key, AuthError> {
        let (lookup, generation) = self.lookup(kid, alg, clock.now());
        match lookup {
            Lookup::Fresh(key) => return Ok(key),
            Lookup::Stale(key) => {
                // Refresh if no one else is (then answer from what that
                // fetch left); while another request refreshes, the stale
                // key serves.
                let Ok(guard) = self.fetching.try_lock() else { return Ok(key) };
                self.fetch_if_due(clock, generation).await;
                drop(guard);
            }
            Lookup::Missing => {
                let guard = self.fetching.lock().await;
                self.fetch_if_due(clock, generation).await;
                drop(guard);
            }
        }
        let now = clock.now();
        let state = self.lock();
        match state.usable(now) {
            Some(table) => {
                table.find(kid, alg).cloned().ok_or(AuthError::InvalidToken("Unknown key id"))
            }
            None => Err(AuthError::Unavailable),
        }
    }

    fn lookup(&self, kid: &str, alg: Algorithm, now: i64) -> (Lookup, u64) {
        let state = self.lock();
        let found = state.usable(now).and_then(|table| table.find(kid, alg)).cloned();
        let lookup = match found {
            Some(key) if now < state.fresh_until => Lookup::Fresh(key),
            Some(key) => Lookup::Stale(key),
            None => Lookup::Missing,
        };
        (lookup, state.generation)
    }

    /// Fetches unless another fetch finished since `seen` or the last one
    /// started less than the re-fetch interval ago. Called with `fetching` held.
    async fn fetch_if_due(&self, clock: &SharedClock, seen: u64) {
        {
            let mut state = self.lock();
            let now = clock.now();
            let due = state
                .last_attempt
                .is_none_or(|last| now.saturating_sub(last) >= self.policy.refetch_interval_secs);
            if state.generation != seen || !due {
                return;
            }
            state.last_attempt = Some(now);
        }
        let outcome = self.source.fetch().await.and_then(|fetched| {
            KeyTable::parse(&fetched.body, &self.allowed).map(|table| (table, fetched.max_age))
        });
        let now = clock.now();
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        match outcome {
            Ok((table, max_age)) => {
                let ttl = self.policy.cache_secs(max_age);
                tracing::debug!(issuer = %self.issuer, keys = table.len(), ttl, "trusted issuer's keys fetched");
                state.keys = Some(table);
                state.fresh_until = now.saturating_add(ttl);
                state.usable_until = state.fresh_until.saturating_add(self.policy.stale_secs);
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "fetching a trusted issuer's keys failed");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuers::source::{FetchError, FetchedJwks};
    use crate::{KeySet, ManualClock};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counting {
        body: Mutex<Option<Vec<u8>>>,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl KeySource for Counting {
        async fn fetch(&self) -> Result<FetchedJwks, FetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let body = self.body.lock().unwrap().clone();
            body.map(|body| FetchedJwks { body, max_age: Some(600) }).ok_or(FetchError::Status(503))
        }
    }

    fn setup() -> (Arc<Counting>, IssuerKeys, Arc<ManualClock>, String) {
        let key = Key::generate(Algorithm::EdDSA).unwrap().with_kid("k1");
        let body = serde_json::to_vec(&KeySet::new(key).jwks()).unwrap();
        let source = Arc::new(Counting { body: Mutex::new(Some(body)), calls: 0.into() });
        let policy = KeyCachePolicy {
            min_cache_secs: 60,
            max_cache_secs: 3600,
            refetch_interval_secs: 30,
            stale_secs: 100,
        };
        let keys = IssuerKeys::new("test".into(), source.clone(), policy, vec![Algorithm::EdDSA]);
        (source, keys, Arc::new(ManualClock::new(1_000_000)), "k1".into())
    }

    #[tokio::test]
    async fn unknown_kids_fetch_at_most_once_per_interval() {
        let (source, keys, clock, kid) = setup();
        let shared: SharedClock = clock.clone();
        assert!(keys.key(&kid, Algorithm::EdDSA, &shared).await.is_ok());
        for n in 0..100 {
            let e = keys.key(&format!("random-{n}"), Algorithm::EdDSA, &shared).await;
            assert_eq!(e.err(), Some(AuthError::InvalidToken("Unknown key id")));
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        clock.advance_secs(30);
        let _ = keys.key("random-x", Algorithm::EdDSA, &shared).await;
        let _ = keys.key("random-y", Algorithm::EdDSA, &shared).await;
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn stale_keys_serve_within_their_grace_then_fail_closed() {
        let (source, keys, clock, kid) = setup();
        let shared: SharedClock = clock.clone();
        assert!(keys.key(&kid, Algorithm::EdDSA, &shared).await.is_ok());
        *source.body.lock().unwrap() = None;
        clock.advance_secs(600 + 50);
        assert!(keys.key(&kid, Algorithm::EdDSA, &shared).await.is_ok(), "stale key serves");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2, "a stale set is fetched again");
        clock.advance_secs(60);
        assert_eq!(
            keys.key(&kid, Algorithm::EdDSA, &shared).await.err(),
            Some(AuthError::Unavailable)
        );
    }

    #[tokio::test]
    async fn a_key_gone_from_the_refetched_set_stops_verifying_at_once() {
        let (source, keys, clock, kid) = setup();
        let shared: SharedClock = clock.clone();
        assert!(keys.key(&kid, Algorithm::EdDSA, &shared).await.is_ok());
        let other = Key::generate(Algorithm::EdDSA).unwrap().with_kid("k2");
        *source.body.lock().unwrap() =
            Some(serde_json::to_vec(&KeySet::new(other).jwks()).unwrap());
        clock.advance_secs(600);
        let gone = keys.key(&kid, Algorithm::EdDSA, &shared).await;
        assert_eq!(gone.err(), Some(AuthError::InvalidToken("Unknown key id")));
        assert!(keys.key("k2", Algorithm::EdDSA, &shared).await.is_ok());
    }

    #[tokio::test]
    async fn no_keys_at_all_is_unavailable() {
        let (source, keys, clock, kid) = setup();
        *source.body.lock().unwrap() = None;
        let shared: SharedClock = clock.clone();
        assert_eq!(
            keys.key(&kid, Algorithm::EdDSA, &shared).await.err(),
            Some(AuthError::Unavailable)
        );
    }
}
