//! Revocations in Redis, shared by every node: a revoked token (`jti`) or
//! session (`sid`) is a key that expires when the token would have; a
//! subject's mark ("log out everywhere": tokens issued before it are
//! refused) only ever moves forward; a blocked subject is refused outright.
//! A check is one round trip: its four facts in an `MGET` shared with the
//! other checks waiting at that moment (`batch.rs`).

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::sync::{Arc, OnceLock};
use wsauth::{Claims, RevocationStore, SharedClock, StoreError, SystemClock};

use crate::batch::MgetBatcher;
use crate::{Prefix, store_error};

/// Which tokens a subject's mark refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarkScope {
    /// Every token of the subject with an `iat` before the mark.
    #[default]
    AllTokens,
    /// Only tokens without a session (`sid`); tokens with one are judged by
    /// their session alone, so a login right after "log out everywhere",
    /// even within the same second, keeps working. For issuers that revoke
    /// every session of the subject along with the mark.
    TokensWithoutSession,
}

/// A [`RevocationStore`] in Redis.
#[derive(Clone)]
pub struct RedisRevocationStore {
    conn: ConnectionManager,
    prefix: Prefix,
    scope: MarkScope,
    clock: SharedClock,
    /// Started at the first check (so `new` needs no runtime), shared by clones.
    checks: Arc<OnceLock<MgetBatcher>>,
}

impl std::fmt::Debug for RedisRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("prefix", &self.prefix)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Raises a mark, never lowers it: `KEYS[1]` the mark, `ARGV[1]` the time.
const RAISE_MARK: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '-9223372036854775808')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1";

impl RedisRevocationStore {
    /// Revocations under `prefix`, marks covering every token, entries
    /// expiring by the system clock.
    pub fn new(conn: ConnectionManager, prefix: Prefix) -> Self {
        Self {
            conn,
            prefix,
            scope: MarkScope::default(),
            clock: Arc::new(SystemClock),
            checks: Arc::default(),
        }
    }

    /// Sets which tokens a subject's mark refuses.
    pub fn with_mark_scope(mut self, scope: MarkScope) -> Self {
        self.scope = scope;
        self
    }

    /// Decides when entries may go by `clock` (tests inject one).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Revokes every token of the session `sid`; the entry may go after
    /// `expires_at` (Unix seconds), the expiry of the session's last token.
    pub async fn revoke_session(&self, sid: &str, expires_at: i64) -> Result<(), StoreError> {
        self.set_until(self.prefix.key("sid", sid), expires_at).await
    }

    /// Blocks a subject: every token of it is refused until
    /// [`unblock_subject`](Self::unblock_subject), whenever it was issued.
    pub async fn block_subject(&self, sub: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.prefix.key("blocked", sub))
            .arg(1)
            .query_async::<()>(&mut conn)
            .await
            .map_err(store_error)
    }

    /// Lifts a block; revocations and marks stay.
    pub async fn unblock_subject(&self, sub: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.prefix.key("blocked", sub))
            .query_async::<()>(&mut conn)
            .await
            .map_err(store_error)
    }

    /// Stores `key` until one second after `until` (Unix seconds); nothing
    /// to store when that has passed already.
    async fn set_until(&self, key: String, until: i64) -> Result<(), StoreError> {
        let expire_at = until.saturating_add(1);
        if expire_at <= self.clock.now() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("EXAT")
            .arg(expire_at)
            .query_async::<()>(&mut conn)
            .await
            .map_err(store_error)
    }
}

#[async_trait]
impl RevocationStore for RedisRevocationStore {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.set_until(self.prefix.key("jti", jti), exp).await
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::Script::new(RAISE_MARK)
            .key(self.prefix.key("mark", sub))
            .arg(before)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        let sid = claims.sid.as_deref().unwrap_or_default();
        let keys = [
            self.prefix.key("jti", &claims.jti),
            self.prefix.key("sid", sid),
            self.prefix.key("blocked", &claims.sub),
            self.prefix.key("mark", &claims.sub),
        ];
        let batcher = self.checks.get_or_init(|| MgetBatcher::start(self.conn.clone()));
        let [jti, session, blocked, mark] = batcher.get(keys).await?;
        let (jti, session, blocked) = (jti.is_some(), session.is_some(), blocked.is_some());
        let marked = mark.is_some_and(|before| claims.iat < before);
        Ok(jti
            || blocked
            || match (&claims.sid, self.scope) {
                (Some(_), MarkScope::TokensWithoutSession) => session,
                (Some(_), MarkScope::AllTokens) => session || marked,
                (None, _) => marked,
            })
    }
}
