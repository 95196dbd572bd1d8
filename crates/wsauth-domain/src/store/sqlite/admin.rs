//! Operator changes and their events on SQLite: the account edit, the
//! subject's revocation and the event in one `BEGIN IMMEDIATE` transaction.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::families::revoke_subject_rows;
use crate::store::{
    AccountEdit, AccountState, AdminChange, AdminEvent, AdminLog, FamilyExpiry, Generation,
    LogEntry, StoreResult,
};

#[async_trait]
impl AdminLog for SqliteStore {
    async fn apply(&self, change: AdminChange<'_>) -> StoreResult<Vec<FamilyExpiry>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let statement = match change.edit {
            AccountEdit::Keep => None,
            AccountEdit::SetState(state) => Some(
                sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
                    .bind(state == AccountState::Disabled),
            ),
            AccountEdit::Delete => Some(sqlx::query("DELETE FROM users WHERE username = ?")),
            AccountEdit::SetPassword(hash) => Some(
                sqlx::query("UPDATE users SET password_hash = ? WHERE username = ?").bind(hash),
            ),
        };
        if let Some(statement) = statement {
            statement.bind(change.sub).execute(&mut *tx).await?;
        }
        if change.revoke_before.is_some() {
            // Ends the logins in flight: one that read the old generation
            // stores no family after this commits.
            sqlx::query("UPDATE users SET generation = ? WHERE username = ?")
                .bind(Generation::fresh())
                .bind(change.sub)
                .execute(&mut *tx)
                .await?;
        }
        let families = match change.revoke_before {
            Some(before) => revoke_subject_rows(&mut tx, change.sub, before).await?,
            None => Vec::new(),
        };
        record(&mut tx, &self.origin, &[LogEntry::subject(change.sub, change.kind)]).await?;
        tx.commit().await?;
        Ok(families)
    }

    async fn purge_events(&self, retention: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM admin_events WHERE at < CAST(strftime('%s', 'now') AS INTEGER) - ?",
        )
        .bind(retention)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    fn origin(&self) -> &str {
        &self.origin
    }

    async fn latest_event(&self) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as("SELECT coalesce(max(id), 0) FROM admin_events")
            .fetch_one(&self.reader)
            .await?;
        Ok(id)
    }

    async fn events_after(&self, id: i64, limit: i64) -> StoreResult<Vec<AdminEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, sub, kind, origin, jti FROM admin_events WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }
}

/// Adds `entries` to the event log inside the caller's transaction, which
/// holds SQLite's write lock, so ids are given (and committed) in order.
pub(super) async fn record(
    tx: &mut SqliteConnection,
    origin: &str,
    entries: &[LogEntry<'_>],
) -> StoreResult<()> {
    for entry in entries {
        sqlx::query(
            "INSERT INTO admin_events (sub, kind, origin, at, jti)
             VALUES (?, ?, ?, CAST(strftime('%s', 'now') AS INTEGER), ?)",
        )
        .bind(entry.sub)
        .bind(entry.kind)
        .bind(origin)
        .bind(entry.jti)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
