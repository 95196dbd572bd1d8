//! The stores on PostgreSQL (`database_url = "postgres://..."`), migrated on
//! start (`migrations-postgres/`). Several servers may share one database:
//! each transaction runs at READ COMMITTED, and the statements that decide
//! from what they read take row locks (`SELECT ... FOR UPDATE`), so they
//! are ordered against every write to the same rows (docs/design/tokens-and-rotation.md,
//! "A revocation beats every rotation").

use anyhow::Context;
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;

mod accounts;
mod admin;
mod connect;
mod families;
mod revoked;
mod rights;

/// How long a statement waits for a lock, milliseconds.
const LOCK_TIMEOUT_MS: u32 = 5000;

/// Every store trait on one PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// One connection of its own for following the revocation log (and
    /// reloading what its entries name), so that writers waiting out a lock
    /// with every pooled connection never keep the log unread.
    reader: PgPool,
    /// This process's name in the events it records.
    origin: Arc<str>,
}

impl PostgresStore {
    /// Connects to `url` and runs the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options: PgConnectOptions =
            url.parse().context("database_url is not a valid PostgreSQL URL")?;
        // As SQLite's busy timeout: a row or table lock held elsewhere for
        // longer fails the transaction (a 503, nothing written) instead of
        // holding the request.
        let options = options.options([("lock_timeout", LOCK_TIMEOUT_MS)]);
        connect::probe(&options).await?;
        let reader = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .with_context(|| {
                format!("cannot connect to PostgreSQL at {}", connect::describe(&options))
            })?;
        sqlx::migrate!("./migrations-postgres")
            .run(&pool)
            .await
            .context("database migration failed")?;
        tracing::debug!("database ready (postgres)");
        Ok(Self { pool, reader, origin: super::new_origin() })
    }
}

#[async_trait]
impl Backend for PostgresStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    /// Commits a one-row write: a database that cannot be written (its
    /// disk full, read-only, a replica) is not ready.
    async fn ping(&self) -> Result<(), String> {
        sqlx::query("UPDATE readiness SET checked_at = checked_at + 1 WHERE id = 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
