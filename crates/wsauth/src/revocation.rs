//! Revocation: one token by its `jti` until its `exp`, or everything a subject
//! was issued before a time ("log out everywhere").

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Claims, Clock, SharedClock, SystemClock};

/// A backing store failed. Authentication fails closed on it.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// Where revocations live. Implementations must be safe to call concurrently;
/// a failure makes authentication fail closed.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Revokes the token with this `jti`; the entry may be forgotten after `exp`.
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError>;

    /// Revokes every token of `sub` whose `iat` is earlier than `before` (Unix seconds).
    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError>;

    /// Whether these claims are revoked, by `jti` or by their subject's mark.
    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError>;
}

/// An in-memory revocation store for one process. Expired entries are purged
/// as new ones arrive, so its size is bounded by the tokens still alive.
#[derive(Default)]
pub struct MemoryRevocationStore {
    inner: Mutex<MemoryState>,
    clock: Option<SharedClock>,
}

impl std::fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRevocationStore").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct MemoryState {
    tokens: HashMap<String, i64>,
    subjects: HashMap<String, i64>,
    purge_at: usize,
}

impl MemoryRevocationStore {
    /// An empty store that decides which entries have expired by the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that decides which entries have expired by `clock`
    /// (the same clock the tokens are verified with).
    pub fn with_clock(clock: SharedClock) -> Self {
        Self { clock: Some(clock), ..Self::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.tokens.insert(jti.to_owned(), exp);
        if state.tokens.len() >= state.purge_at {
            let now = self.clock.as_ref().map_or_else(|| SystemClock.now(), |c| c.now());
            state.tokens.retain(|_, exp| *exp >= now);
            state.purge_at = (state.tokens.len() * 2).max(1024);
        }
        Ok(())
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        let mut state = self.lock();
        let mark = state.subjects.entry(sub.to_owned()).or_insert(before);
        *mark = (*mark).max(before);
        Ok(())
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        let state = self.lock();
        Ok(state.tokens.contains_key(&claims.jti)
            || state.subjects.get(&claims.sub).is_some_and(|before| claims.iat < *before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::sync::Arc;

    fn claims(jti: &str) -> Claims {
        crate::test_claims::claims("alice", jti, 1000, 2000)
    }

    #[tokio::test]
    async fn purging_decides_expiry_by_the_injected_clock() {
        // By the store's clock these tokens are alive (exp 2000 > now 1000),
        // though long expired by the wall clock: a purge must keep them.
        let store = MemoryRevocationStore::with_clock(Arc::new(ManualClock::new(1000)));
        store.revoke_token("victim", 2000).await.unwrap();
        for i in 0..2048 {
            store.revoke_token(&format!("other-{i}"), 2000).await.unwrap();
        }
        assert!(store.is_revoked(&claims("victim")).await.unwrap());
        assert!(!store.is_revoked(&claims("innocent")).await.unwrap());
    }
}
