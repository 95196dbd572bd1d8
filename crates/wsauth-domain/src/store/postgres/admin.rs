//! Operator changes and their events on PostgreSQL: the account edit, the
//! subject's revocation and the event in one transaction.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::PostgresStore;
use super::families::revoke_subject_rows;
use crate::store::{
    AccountEdit, AccountState, AdminChange, AdminEvent, AdminLog, FamilyExpiry, Generation,
    LogEntry, StoreResult,
};

#[async_trait]
impl AdminLog for PostgresStore {
    async fn apply(&self, change: AdminChange<'_>) -> StoreResult<Vec<FamilyExpiry>> {
        let mut tx = self.pool.begin().await?;
        let statement = match change.edit {
            AccountEdit::Keep => None,
            AccountEdit::SetState(state) => Some(
                sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
                    .bind(state == AccountState::Disabled),
            ),
            AccountEdit::Delete => Some(sqlx::query("DELETE FROM users WHERE username = $1")),
            AccountEdit::SetPassword(hash) => Some(
                sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2").bind(hash),
            ),
        };
        if let Some(statement) = statement {
            statement.bind(change.sub).execute(&mut *tx).await?;
        }
        if change.revoke_before.is_some() {
            // Ends the logins in flight: one that read the old generation
            // stores no family after this commits. The row's lock, which a
            // login's `FOR SHARE` waits for, is taken before any family is
            // revoked.
            sqlx::query("UPDATE users SET generation = $1 WHERE username = $2")
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
            "DELETE FROM admin_events WHERE at < EXTRACT(EPOCH FROM now())::BIGINT - $1",
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
            "SELECT id, sub, kind, origin, jti FROM admin_events WHERE id > $1 ORDER BY id
             LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }
}

/// Adds `entries` to the event log inside the caller's transaction, as its
/// last writes. Event ids must become visible in increasing order, or a
/// follower that already read a later id would never see an earlier one
/// that committed after it. The lock (taken last, held to the commit) makes
/// the id order the commit order; readers are not blocked. Every other lock
/// of the transaction is taken before it, so two writers cannot deadlock on
/// it.
pub(super) async fn record(
    tx: &mut PgConnection,
    origin: &str,
    entries: &[LogEntry<'_>],
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query("LOCK TABLE admin_events IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    for entry in entries {
        sqlx::query(
            "INSERT INTO admin_events (sub, kind, origin, at, jti)
             VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::BIGINT, $4)",
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
