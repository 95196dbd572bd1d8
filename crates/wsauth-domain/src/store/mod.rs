//! Storage: one trait per kind of record, one implementation per database.
//!
//! [`AccountStore`] (users), [`FamilyStore`] (token families and their
//! rotation), [`RevocationLog`] (revoked tokens and subject marks) and
//! [`AdminLog`] (operator changes, and the revocation log every process
//! follows: `log.rs`) and [`RightsStore`] (local accounts' channel roles
//! and grants) are
//! implemented by [`sqlite::SqliteStore`] and [`postgres::PostgresStore`].
//! [`Stores::open`] opens the one a [`Database`] names and hands it out as [`Stores`];
//! nothing above this module knows which database it talks to.
//!
//! Each kind of record has its types and trait in a file of its own
//! (`accounts.rs`, `families.rs`, `revoked.rs`, `log.rs`, `rights.rs`) and its two
//! implementations in the files of the same name under `sqlite/` and
//! `postgres/` (where the event log is written by `admin.rs`). A new
//! store method is declared on its trait and written once per database
//! (docs/design/stores.md says why the two are not one).
//!
//! Each method is one transaction. The ones that decide something from what
//! they read hold it under the database's lock until they write:
//! [`FamilyStore::rotate`] takes the family's row (SQLite's write lock,
//! PostgreSQL's `FOR UPDATE` row lock), hands it to a synchronous [`Decide`]
//! closure and writes the [`Decision`]; [`FamilyStore::insert`] reads the
//! account's [`Generation`] (SQLite's write lock, PostgreSQL's `FOR SHARE`)
//! and stores the login's family only if it is the one the login read.

use std::sync::Arc;

use crate::backend::Backend;

mod accounts;
mod database;
mod families;
mod log;
pub mod postgres;
mod revoked;
mod rights;
pub mod sqlite;

use accounts::like_prefix;
pub use accounts::{
    AccountStore, Credentials, Generation, Insertion, NewAccount, PageQuery, UserInfo,
};
pub use families::{
    Bucket, Decide, Decision, FamilyInsertion, FamilyRow, FamilyStore, NewFamily, RevokedFamily,
    Rotation,
};
pub use revoked::{
    AccountState, FamilyExpiry, RevocationLog, RevocationSnapshot, RevokedToken, SubjectFamily,
    SubjectMark, SubjectRevocations,
};

pub use rights::{GrantRow, NewGrant, RightsOutcome, RightsStore};

pub use database::{Database, UnknownDatabaseUrl};
pub use log::{AccountEdit, AdminChange, AdminEvent, AdminLog, EventKind, LogEntry};

/// A database failure; the operation had no effect.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DatabaseError(#[from] sqlx::Error);

impl From<DatabaseError> for wsauth::StoreError {
    fn from(e: DatabaseError) -> Self {
        wsauth::StoreError(e.to_string())
    }
}

/// What the store's methods return.
pub type StoreResult<T> = Result<T, DatabaseError>;

/// A new name for this process in the events it records.
fn new_origin() -> Arc<str> {
    uuid::Uuid::new_v4().to_string().into()
}

// ------------------------------------------------------------------ opening

/// One database seen through every store trait.
#[derive(Clone)]
pub struct Stores {
    /// Users.
    pub accounts: Arc<dyn AccountStore>,
    /// Token families.
    pub families: Arc<dyn FamilyStore>,
    /// Revoked tokens and marks.
    pub revocations: Arc<dyn RevocationLog>,
    /// Operator changes.
    pub admin: Arc<dyn AdminLog>,
    /// Local accounts' channel roles and grants.
    pub rights: Arc<dyn RightsStore>,
    /// For readiness.
    pub backend: Arc<dyn Backend>,
}

impl Stores {
    /// Every trait served by one backend.
    pub fn of<T>(store: T) -> Self
    where
        T: AccountStore + FamilyStore + RevocationLog + AdminLog + RightsStore + Backend,
    {
        let store = Arc::new(store);
        Self {
            accounts: store.clone(),
            families: store.clone(),
            revocations: store.clone(),
            admin: store.clone(),
            rights: store.clone(),
            backend: store,
        }
    }

    /// This database, opened and migrated.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Self::of(sqlite::SqliteStore::open(path).await?),
            Database::Postgres(url) => Self::of(postgres::PostgresStore::open(url).await?),
        })
    }
}
