//! Channel roles and grants on SQLite: each change, its account check and
//! its event in one `BEGIN IMMEDIATE` transaction (SQLite's write lock
//! orders them, so the grant count a change reads is the one it writes
//! against).

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::admin::record;
use crate::store::StoreResult;
use crate::store::{EventKind, GrantRow, LogEntry, NewGrant, RightsOutcome, RightsStore};

#[async_trait]
impl RightsStore for SqliteStore {
    async fn roles(&self, username: &str) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username).await? {
            return Ok(None);
        }
        let roles: Vec<(String,)> =
            sqlx::query_as("SELECT role FROM account_roles WHERE username = ? ORDER BY role")
                .bind(username)
                .fetch_all(&mut *tx)
                .await?;
        Ok(Some(roles.into_iter().map(|(r,)| r).collect()))
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<RightsOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !account_exists(&mut tx, username).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        sqlx::query("DELETE FROM account_roles WHERE username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        for role in roles {
            sqlx::query("INSERT OR IGNORE INTO account_roles (username, role) VALUES (?, ?)")
                .bind(username)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        record(&mut tx, &self.origin, &[LogEntry::subject(username, EventKind::Rights.as_str())])
            .await?;
        tx.commit().await?;
        Ok(RightsOutcome::Done)
    }

    async fn grants(&self, username: &str) -> StoreResult<Option<Vec<GrantRow>>> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username).await? {
            return Ok(None);
        }
        let grants = sqlx::query_as(
            "SELECT id, pattern, actions FROM channel_grants WHERE username = ? ORDER BY seq",
        )
        .bind(username)
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some(grants))
    }

    async fn add_grant(&self, grant: NewGrant<'_>) -> StoreResult<RightsOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !account_exists(&mut tx, grant.username).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        let (held,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM channel_grants WHERE username = ?")
                .bind(grant.username)
                .fetch_one(&mut *tx)
                .await?;
        if held >= grant.max {
            return Ok(RightsOutcome::TooMany);
        }
        sqlx::query(
            "INSERT INTO channel_grants (id, username, pattern, actions) VALUES (?, ?, ?, ?)",
        )
        .bind(grant.id)
        .bind(grant.username)
        .bind(grant.pattern)
        .bind(grant.actions)
        .execute(&mut *tx)
        .await?;
        let entry = LogEntry::subject(grant.username, EventKind::Rights.as_str());
        record(&mut tx, &self.origin, &[entry]).await?;
        tx.commit().await?;
        Ok(RightsOutcome::Done)
    }

    async fn delete_grant(&self, username: &str, id: &str) -> StoreResult<RightsOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !account_exists(&mut tx, username).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        let deleted = sqlx::query("DELETE FROM channel_grants WHERE username = ? AND id = ?")
            .bind(username)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(RightsOutcome::NoGrant);
        }
        record(&mut tx, &self.origin, &[LogEntry::subject(username, EventKind::Rights.as_str())])
            .await?;
        tx.commit().await?;
        Ok(RightsOutcome::Done)
    }
}

/// Whether an account has exactly this username.
async fn account_exists(tx: &mut SqliteConnection, username: &str) -> StoreResult<bool> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(found.is_some())
}
