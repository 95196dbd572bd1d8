//! The stores on SQLite (the default: `wsauth.db` in the data directory):
//! opened (and created, 0600), migrated on start (`migrations/`). Every
//! write transaction starts with `BEGIN IMMEDIATE`, so SQLite's single
//! writer orders them.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;

mod accounts;
mod admin;
mod families;
mod revoked;
mod rights;

/// Every store trait on one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection of its own for following the revocation log (and
    /// reloading what its entries name), so that writers waiting out a lock
    /// with every pooled connection never keep the log unread.
    reader: SqlitePool,
    /// This process's name in the events it records.
    origin: Arc<str>,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it (0600) if needed, and
    /// runs the migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        create_private(path)?;
        crate::files::private_database(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let reader = SqlitePoolOptions::new().max_connections(1).connect_lazy_with(options.clone());
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(|conn, _| Box::pin(settled(conn)))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        sqlx::migrate!("./migrations").run(&pool).await.context("database migration failed")?;
        tracing::debug!(path = %path.display(), "database ready (sqlite)");
        Ok(Self { pool, reader, origin: super::new_origin() })
    }
}

#[async_trait]
impl Backend for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    /// Commits a one-row write: a database that cannot be written (locked
    /// by another writer, unreadable, its disk full) is not ready.
    async fn ping(&self) -> Result<(), String> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| e.to_string())?;
        sqlx::query("UPDATE readiness SET checked_at = checked_at + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }
}

/// Whether a connection may go back to the pool. A failed write (disk full,
/// an I/O error) can make SQLite roll the whole transaction back by itself;
/// sqlx still counts that transaction as open, its own `ROLLBACK` then
/// fails, and the connection would refuse every later `BEGIN`. Such a
/// connection is closed instead (the pool opens a fresh one), so writes
/// work again as soon as the disk does, without a restart.
async fn settled(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction's rollback is queued on the connection: let it
    // run, then look again.
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// Creates an empty database file readable by its owner only (SQLite gives
/// its WAL and shared-memory files the same mode), unless it exists.
fn create_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a transaction SQLite rolled back itself (here: the
    /// database hit its page limit) left its connection in the pool unable
    /// to begin another, so writes kept failing after the disk had room.
    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_itself_does_not_poison_the_pool() {
        let dir = tempfile::tempdir().expect("dir");
        let pool = SqliteStore::open(&dir.path().join("wsauth.db")).await.expect("open").pool;
        {
            let mut conn = pool.acquire().await.expect("acquire");
            let (pages,): (i64,) =
                sqlx::query_as("PRAGMA page_count").fetch_one(&mut *conn).await.expect("pages");
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
                .execute(&mut *conn)
                .await
                .expect("limit");
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
            let huge = "x".repeat(1 << 20);
            let full = sqlx::query(
                "INSERT INTO users (username, password_hash, created_at) VALUES ('big', ?, 0)",
            )
            .bind(huge)
            .execute(&mut *tx)
            .await;
            assert!(full.is_err(), "the page limit did not bite");
        }
        for _ in 0..8 {
            let tx = pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .expect("a connection of the pool cannot begin");
            tx.rollback().await.expect("rollback");
        }
    }
}
