//! Fresh databases for tests: a SQLite file in a temporary directory, or a
//! PostgreSQL database of its own (`CREATE DATABASE wsauth_t_<random>`),
//! dropped when the test ends, so tests run in parallel. PostgreSQL must be
//! running (`./test.sh` starts it; `./test.sh services` does only that); the server to use
//! is `WSAUTH_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`).

use sqlx::Connection;
use wsauth_domain::store::Database;
use wsauth_domain::store::Stores;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own; its `url` goes in `database_url`.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn admin_url() -> String {
    std::env::var("WSAUTH_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

async fn admin_connection() -> sqlx::PgConnection {
    let url = admin_url();
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url} ({e}). These tests need it: \
             run ./test.sh services (./test.sh does), or point WSAUTH_TEST_POSTGRES \
             at a server where this user may create databases."
        )
    })
}

impl TestDatabase {
    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("wsauth.db").display());
        Self { backend: Backend::Sqlite, url, postgres_name: None, _dir: Some(dir) }
    }

    /// A fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        let name = format!("wsauth_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let base = admin_url();
        let server = base.rsplit_once('/').map_or(base.as_str(), |(server, _)| server);
        let url = format!("{server}/{name}");
        Self { backend: Backend::Postgres, url, postgres_name: Some(name), _dir: None }
    }

    /// One of each: the same test body runs on both.
    pub async fn both() -> [Self; 2] {
        [Self::sqlite(), Self::postgres().await]
    }

    /// The stores, opened (and migrated) the way the server opens them.
    pub async fn open(&self) -> Stores {
        let database = Database::parse(&self.url).expect("database url");
        Stores::open(&database).await.expect("open the stores")
    }

    /// Runs one statement directly (to break the schema on purpose).
    pub async fn execute(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
                sqlx::query(statement).execute(&mut conn).await.expect("execute");
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
                sqlx::query(statement).execute(&mut conn).await.expect("execute");
            }
        }
    }
}

impl TestDatabase {
    /// PostgreSQL stops answering this database: new connections are
    /// refused (`ALLOW_CONNECTIONS false`, which binds superusers too) and
    /// every open one is terminated, as if its server had gone away.
    pub async fn refuse_connections(&self) {
        let name = self.postgres_name.as_deref().expect("a PostgreSQL database");
        let mut admin = admin_connection().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")))
            .execute(&mut admin)
            .await
            .expect("refuse connections");
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut admin)
            .await
            .expect("terminate connections");
    }

    /// PostgreSQL answers this database again.
    pub async fn accept_connections(&self) {
        let name = self.postgres_name.as_deref().expect("a PostgreSQL database");
        let mut admin = admin_connection().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")))
            .execute(&mut admin)
            .await
            .expect("accept connections");
    }
}

/// Another client holding the lock every write needs (SQLite's write lock;
/// on PostgreSQL, the families table), until dropped or released.
pub enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl TestDatabase {
    /// Takes the lock that rotations and revocations need, from another
    /// connection.
    pub async fn hold_write_lock(&self) -> WriteLock {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.expect("lock");
                WriteLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
                sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
                sqlx::query("LOCK TABLE families IN EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .expect("lock");
                WriteLock::Postgres(conn)
            }
        }
    }
}

impl TestDatabase {
    /// Begins a write transaction from another client (on SQLite with the
    /// write lock) and runs `statement` in it, holding what it locked.
    pub async fn hold_write_lock_with(&self, statement: &str) -> WriteLock {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.expect("lock");
                sqlx::query(statement).execute(&mut conn).await.expect("statement");
                WriteLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
                sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
                sqlx::query(statement).execute(&mut conn).await.expect("statement");
                WriteLock::Postgres(conn)
            }
        }
    }
}

impl WriteLock {
    /// Commits what the holder wrote.
    pub async fn commit(self) {
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");
            }
            Self::Postgres(mut conn) => {
                sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");
            }
        }
    }

    pub async fn release(self) {
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.expect("unlock");
            }
            Self::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.expect("unlock");
            }
        }
    }
}

impl Drop for TestDatabase {
    /// Drops the PostgreSQL database, best effort (on a thread of its own:
    /// `Drop` cannot wait for async work on the test's runtime).
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else { return };
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await else { return };
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
            });
        });
        let _ = dropped.join();
    }
}
