//! The first connection to PostgreSQL, made on its own before the pool so
//! that a failure says where it tried and why (connection refused,
//! authentication failed, no such database) instead of the pool's "timed
//! out", and so that a slow answer is logged while it is awaited.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::time::Duration;

/// How long the first connection may take before start fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long it may take before the wait is logged.
const QUIET_WAIT: Duration = Duration::from_secs(1);

/// Where `options` point, without the password: `user@host:port/database`.
pub(super) fn describe(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or(options.get_username());
    format!("{}@{}:{}/{database}", options.get_username(), options.get_host(), options.get_port())
}

/// Opens and closes one connection; the error names the address and the
/// cause, once.
pub(super) async fn probe(options: &PgConnectOptions) -> anyhow::Result<()> {
    let place = describe(options);
    tracing::debug!(database = %place, "connecting to PostgreSQL");
    let attempt = options.connect();
    tokio::pin!(attempt);
    let connected = tokio::select! {
        connected = &mut attempt => connected,
        () = tokio::time::sleep(QUIET_WAIT) => {
            tracing::info!(
                database = %place,
                "waiting for PostgreSQL at {place} (up to {} s)",
                CONNECT_TIMEOUT.as_secs()
            );
            match tokio::time::timeout(CONNECT_TIMEOUT - QUIET_WAIT, attempt).await {
                Ok(connected) => connected,
                Err(_) => anyhow::bail!(
                    "cannot connect to PostgreSQL at {place} (database_url): no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            }
        }
    };
    let connection: PgConnection = connected.map_err(|e| {
        anyhow::anyhow!("cannot connect to PostgreSQL at {place} (database_url): {}", cause(&e))
    })?;
    let _ = connection.close().await;
    Ok(())
}

/// The underlying reason, in one line: PostgreSQL's own message for an
/// error it sent (not its source file and line), the system's for a
/// socket or TLS failure.
fn cause(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(e) => e.message().to_owned(),
        sqlx::Error::Io(e) => e.to_string(),
        sqlx::Error::Tls(e) => format!("TLS: {e}"),
        other => other.to_string(),
    }
}
