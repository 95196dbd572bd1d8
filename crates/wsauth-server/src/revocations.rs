//! Revocations in SQLite, mirrored in memory so that a handshake never waits
//! on the database. This process is the only writer of its database, so the
//! mirror is exact; writes go to the database first, then to the mirror.

use async_trait::async_trait;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::sync::RwLock;
use wsauth::{Claims, RevocationStore, SharedClock, StoreError};

/// A [`RevocationStore`] that survives restarts.
pub struct SqliteRevocationStore {
    pool: SqlitePool,
    clock: SharedClock,
    tokens: RwLock<HashMap<String, i64>>,
    subjects: RwLock<HashMap<String, i64>>,
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
        let subjects: Vec<(String, i64)> = sqlx::query_as("SELECT sub, before FROM subject_marks")
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
        Ok(Self {
            pool,
            clock,
            tokens: RwLock::new(tokens.into_iter().collect()),
            subjects: RwLock::new(subjects.into_iter().collect()),
        })
    }

    /// Revokes several tokens in one transaction.
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
        let mut map = self.tokens.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (jti, exp) in tokens {
            map.insert(jti.clone(), *exp);
        }
        Ok(())
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let done = sqlx::query("DELETE FROM revoked_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, exp| *exp >= now);
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
        let mut map = self.subjects.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mark = map.entry(sub.to_owned()).or_insert(before);
        *mark = (*mark).max(before);
        Ok(())
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        let by_jti = self
            .tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&claims.jti);
        if by_jti {
            return Ok(true);
        }
        let subjects = self.subjects.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(subjects.get(&claims.sub).is_some_and(|before| claims.iat < *before))
    }
}
