//! Channel roles and grants on PostgreSQL: each change, its account check
//! and its event in one transaction. The change first locks the account's
//! row (`FOR UPDATE`), so two changes to one account, or a change and the
//! account's delete, run one after the other and the grant count a change
//! reads is the one it writes against; the event log's lock comes last
//! (`admin.rs`).

use async_trait::async_trait;
use sqlx::PgConnection;

use super::PostgresStore;
use super::admin::record;
use crate::store::StoreResult;
use crate::store::{EventKind, GrantRow, LogEntry, NewGrant, RightsOutcome, RightsStore};

#[async_trait]
impl RightsStore for PostgresStore {
    async fn roles(&self, username: &str) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username, Lock::None).await? {
            return Ok(None);
        }
        let roles: Vec<(String,)> =
            sqlx::query_as("SELECT role FROM account_roles WHERE username = $1 ORDER BY role")
                .bind(username)
                .fetch_all(&mut *tx)
                .await?;
        Ok(Some(roles.into_iter().map(|(r,)| r).collect()))
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<RightsOutcome> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username, Lock::ForUpdate).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        sqlx::query("DELETE FROM account_roles WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO account_roles (username, role) SELECT $1, unnest($2::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(username)
        .bind(roles)
        .execute(&mut *tx)
        .await?;
        record(&mut tx, &self.origin, &[LogEntry::subject(username, EventKind::Rights.as_str())])
            .await?;
        tx.commit().await?;
        Ok(RightsOutcome::Done)
    }

    async fn grants(&self, username: &str) -> StoreResult<Option<Vec<GrantRow>>> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username, Lock::None).await? {
            return Ok(None);
        }
        let grants = sqlx::query_as(
            "SELECT id, pattern, actions FROM channel_grants WHERE username = $1 ORDER BY seq",
        )
        .bind(username)
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some(grants))
    }

    async fn add_grant(&self, grant: NewGrant<'_>) -> StoreResult<RightsOutcome> {
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, grant.username, Lock::ForUpdate).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        let (held,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM channel_grants WHERE username = $1")
                .bind(grant.username)
                .fetch_one(&mut *tx)
                .await?;
        if held >= grant.max {
            return Ok(RightsOutcome::TooMany);
        }
        sqlx::query(
            "INSERT INTO channel_grants (id, username, pattern, actions) VALUES ($1, $2, $3, $4)",
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
        let mut tx = self.pool.begin().await?;
        if !account_exists(&mut tx, username, Lock::ForUpdate).await? {
            return Ok(RightsOutcome::NoAccount);
        }
        let deleted = sqlx::query("DELETE FROM channel_grants WHERE username = $1 AND id = $2")
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

/// How an account's row is read.
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// A plain read.
    None,
    /// Locked until the transaction ends.
    ForUpdate,
}

/// Whether an account has exactly this username.
async fn account_exists(tx: &mut PgConnection, username: &str, lock: Lock) -> StoreResult<bool> {
    let statement = match lock {
        Lock::None => "SELECT 1 FROM users WHERE username = $1",
        Lock::ForUpdate => "SELECT 1 FROM users WHERE username = $1 FOR UPDATE",
    };
    let found: Option<(i32,)> =
        sqlx::query_as(statement).bind(username).fetch_optional(&mut *tx).await?;
    Ok(found.is_some())
}
