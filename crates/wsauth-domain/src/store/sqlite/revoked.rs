//! Revoked tokens and subject marks on SQLite.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::admin::record;
use crate::store::{
    AccountState, EventKind, FamilyExpiry, LogEntry, RevocationLog, RevocationSnapshot,
    RevokedToken, StoreResult, SubjectMark, SubjectRevocations,
};

#[async_trait]
impl RevocationLog for SqliteStore {
    async fn revoke_tokens(&self, tokens: &[RevokedToken]) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_tokens(&mut tx, tokens).await?;
        let entries: Vec<LogEntry<'_>> =
            tokens.iter().map(|token| LogEntry::token(&token.jti)).collect();
        record(&mut tx, &self.origin, &entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_subject(&self, mark: &SubjectMark) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        mark_subject(&mut tx, &mark.sub, mark.before).await?;
        let entry = LogEntry::subject(&mark.sub, EventKind::Mark.as_str());
        record(&mut tx, &self.origin, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn snapshot(&self, now: i64) -> StoreResult<RevocationSnapshot> {
        let tokens = sqlx::query_as("SELECT jti, exp FROM revoked_tokens WHERE exp >= ?")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let families = sqlx::query_as(
            "SELECT id, sub, expires_at FROM families WHERE revoked = 1 AND expires_at >= ?",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let subjects =
            sqlx::query_as("SELECT sub, before FROM subject_marks").fetch_all(&self.pool).await?;
        let disabled: Vec<(String,)> =
            sqlx::query_as("SELECT username FROM users WHERE disabled = 1")
                .fetch_all(&self.pool)
                .await?;
        let disabled = disabled.into_iter().map(|(u,)| u).collect();
        Ok(RevocationSnapshot { tokens, families, subjects, disabled })
    }

    async fn subject(&self, sub: &str, now: i64) -> StoreResult<SubjectRevocations> {
        let families: Vec<FamilyExpiry> = sqlx::query_as(
            "SELECT id, expires_at FROM families WHERE sub = ? AND revoked = 1 AND expires_at >= ?",
        )
        .bind(sub)
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        let mark: Option<(i64,)> = sqlx::query_as("SELECT before FROM subject_marks WHERE sub = ?")
            .bind(sub)
            .fetch_optional(&self.reader)
            .await?;
        let disabled: Option<(bool,)> =
            sqlx::query_as("SELECT disabled FROM users WHERE username = ?")
                .bind(sub)
                .fetch_optional(&self.reader)
                .await?;
        let account = if disabled.is_some_and(|(d,)| d) {
            AccountState::Disabled
        } else {
            AccountState::Active
        };
        Ok(SubjectRevocations { families, mark: mark.map(|(m,)| m), account })
    }

    async fn token(&self, jti: &str, now: i64) -> StoreResult<Option<RevokedToken>> {
        Ok(sqlx::query_as("SELECT jti, exp FROM revoked_tokens WHERE jti = ? AND exp >= ?")
            .bind(jti)
            .bind(now)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn purge(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM revoked_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Revokes tokens by `jti` inside the caller's transaction.
pub(super) async fn insert_tokens(
    tx: &mut SqliteConnection,
    tokens: &[RevokedToken],
) -> StoreResult<()> {
    for token in tokens {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, exp) VALUES (?, ?)")
            .bind(&token.jti)
            .bind(token.exp)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Sets the subject's mark, keeping the later one.
pub(super) async fn mark_subject(
    conn: &mut SqliteConnection,
    sub: &str,
    before: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO subject_marks (sub, before) VALUES (?, ?)
         ON CONFLICT (sub) DO UPDATE SET before = max(before, excluded.before)",
    )
    .bind(sub)
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
