//! Revocations in SQLite, mirrored in memory so that a handshake never waits
//! on the database. This process is the only writer of its database, so the
//! mirror is exact; writes go to the database first, then to the mirror.
//!
//! A token is revoked when its `jti` is, when its family (`sid`) is, or, for
//! a token this server did not issue (no `sid`), when its subject's mark
//! covers its `iat`. Tokens this server issued are judged by their family
//! alone, so a login right after "log out everywhere", even within the same
//! second, keeps working. A disabled account's subject is refused outright,
//! whatever the token.

use async_trait::async_trait;
use sqlx::SqlitePool;
use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};
use wsauth::{Claims, RevocationStore, SharedClock, StoreError};

/// A [`RevocationStore`] that survives restarts.
pub struct SqliteRevocationStore {
    pool: SqlitePool,
    clock: SharedClock,
    mirror: RwLock<Mirror>,
}

/// What is revoked, each entry with the time after which it can be forgotten.
#[derive(Default)]
struct Mirror {
    tokens: HashMap<String, i64>,
    families: HashMap<String, i64>,
    subjects: HashMap<String, i64>,
    disabled: HashSet<String>,
}

fn store_error(e: sqlx::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteRevocationStore {
    /// Loads the revocations still in force.
    pub async fn load(pool: SqlitePool, clock: SharedClock) -> Result<Self, StoreError> {
        let now = clock.now();
        let tokens: Vec<(String, i64)> =
            sqlx::query_as("SELECT jti, exp FROM revoked_tokens WHERE exp >= ?")
                .bind(now)
                .fetch_all(&pool)
                .await
                .map_err(store_error)?;
        let families: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, expires_at FROM families WHERE revoked = 1 AND expires_at >= ?",
        )
        .bind(now)
        .fetch_all(&pool)
        .await
        .map_err(store_error)?;
        let subjects: Vec<(String, i64)> = sqlx::query_as("SELECT sub, before FROM subject_marks")
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
        let disabled: Vec<(String,)> =
            sqlx::query_as("SELECT username FROM users WHERE disabled = 1")
                .fetch_all(&pool)
                .await
                .map_err(store_error)?;
        let mirror = Mirror {
            tokens: tokens.into_iter().collect(),
            families: families.into_iter().collect(),
            subjects: subjects.into_iter().collect(),
            disabled: disabled.into_iter().map(|(u,)| u).collect(),
        };
        Ok(Self { pool, clock, mirror: RwLock::new(mirror) })
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Mirror> {
        self.mirror.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Revokes several tokens by `jti` in one transaction.
    pub async fn revoke_many(&self, tokens: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        for (jti, exp) in tokens {
            sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, exp) VALUES (?, ?)")
                .bind(jti)
                .bind(exp)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        self.note_tokens(tokens);
        Ok(())
    }

    /// Mirrors token revocations already committed to the database.
    pub fn note_tokens(&self, tokens: &[(String, i64)]) {
        if tokens.is_empty() {
            return;
        }
        let mut mirror = self.write();
        for (jti, exp) in tokens {
            mirror.tokens.insert(jti.clone(), *exp);
        }
    }

    /// Mirrors family revocations already committed to the database
    /// (`(family id, expiry of its last token)`).
    pub fn note_families(&self, families: &[(String, i64)]) {
        let mut mirror = self.write();
        for (id, expires_at) in families {
            mirror.families.insert(id.clone(), *expires_at);
        }
    }

    /// Mirrors a subject mark already committed to the database.
    pub fn note_subject_mark(&self, sub: &str, before: i64) {
        let mut mirror = self.write();
        let mark = mirror.subjects.entry(sub.to_owned()).or_insert(before);
        *mark = (*mark).max(before);
    }

    /// Mirrors whether an account is disabled (already committed).
    pub fn note_disabled(&self, sub: &str, disabled: bool) {
        let mut mirror = self.write();
        if disabled {
            mirror.disabled.insert(sub.to_owned());
        } else {
            mirror.disabled.remove(sub);
        }
    }

    /// Reloads everything stored about `sub` (its revoked families, its mark,
    /// whether it is disabled): for changes another process committed.
    pub async fn reload_subject(&self, sub: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        let families: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, expires_at FROM families WHERE sub = ? AND revoked = 1 AND expires_at >= ?",
        )
        .bind(sub)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let mark: Option<(i64,)> = sqlx::query_as("SELECT before FROM subject_marks WHERE sub = ?")
            .bind(sub)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        let disabled: Option<(bool,)> =
            sqlx::query_as("SELECT disabled FROM users WHERE username = ?")
                .bind(sub)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        self.note_families(&families);
        if let Some((before,)) = mark {
            self.note_subject_mark(sub, before);
        }
        self.note_disabled(sub, disabled.is_some_and(|(d,)| d));
        Ok(())
    }

    /// Forgets revocations of tokens and families that have expired anyway.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let done = sqlx::query("DELETE FROM revoked_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        let mut mirror = self.write();
        mirror.tokens.retain(|_, exp| *exp >= now);
        mirror.families.retain(|_, expires_at| *expires_at >= now);
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl RevocationStore for SqliteRevocationStore {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.revoke_many(&[(jti.to_owned(), exp)]).await
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO subject_marks (sub, before) VALUES (?, ?)
             ON CONFLICT (sub) DO UPDATE SET before = max(before, excluded.before)",
        )
        .bind(sub)
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        self.note_subject_mark(sub, before);
        Ok(())
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        let mirror = self.mirror.read().unwrap_or_else(PoisonError::into_inner);
        if mirror.tokens.contains_key(&claims.jti) || mirror.disabled.contains(&claims.sub) {
            return Ok(true);
        }
        Ok(match &claims.sid {
            Some(family) => mirror.families.contains_key(family),
            None => mirror.subjects.get(&claims.sub).is_some_and(|before| claims.iat < *before),
        })
    }
}
