//! What `database_url` names: a SQLite file or a PostgreSQL database. The
//! setting and its default (the SQLite file in `data_dir`) are in
//! `config.rs` (`Config::database`).

use std::path::PathBuf;

/// Where the stores live (`database_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its connection URL.
    Postgres(String),
}

impl Database {
    /// The SQLite file in `data_dir` used when `database_url` is unset.
    pub const DEFAULT_FILE: &'static str = "wsauth.db";

    /// Reads a `database_url`: `sqlite://PATH` (`sqlite:PATH` too) or
    /// `postgres://...` / `postgresql://...`.
    pub fn parse(url: &str) -> Result<Self, UnknownDatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(path) if !path.is_empty() && !path.contains('?') && path != ":memory:" => {
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
            _ => Err(UnknownDatabaseUrl),
        }
    }
}

/// A `database_url` in none of the accepted forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "database_url must be sqlite://PATH (a database file) or postgres://... (postgresql:// works too)"
)]
pub struct UnknownDatabaseUrl;
