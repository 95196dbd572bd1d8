//! Storage: one trait per kind of record, one implementation per database.
//!
//! [`AccountStore`] (users), [`FamilyStore`] (token families and their
//! rotation), [`RevocationLog`] (revoked tokens and subject marks) and
//! [`AdminLog`] (operator changes, and the revocation log every process
//! follows: `log.rs`) are
//! implemented by [`sqlite::SqliteStore`] and [`postgres::PostgresStore`].
//! [`Stores::open`] opens the one a [`Database`] names and hands it out as [`Stores`];
//! nothing above this module knows which database it talks to.
//!
//! Each method is one transaction. The ones that decide something from what
//! they read hold it under the database's lock until they write:
//! [`FamilyStore::rotate`] takes the family's row (SQLite's write lock,
//! PostgreSQL's `FOR UPDATE` row lock), hands it to a synchronous [`Decide`]
//! closure and writes the [`Decision`]; [`FamilyStore::insert`] reads the
//! account's [`Generation`] (SQLite's write lock, PostgreSQL's `FOR SHARE`)
//! and stores the login's family only if it is the one the login read.

use async_trait::async_trait;
use std::sync::Arc;

use crate::backend::Backend;

mod database;
mod log;
pub mod postgres;
pub mod sqlite;

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

/// A token id and the time (Unix seconds) after which it expires anyway.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevokedToken {
    /// The token's `jti`.
    pub jti: String,
    /// Its `exp`.
    pub exp: i64,
}

/// A family id and the expiry of its last token (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FamilyExpiry {
    /// The family (the tokens' `sid`).
    pub id: String,
    /// The latest `exp` of any of its tokens.
    pub expires_at: i64,
}

/// A revoked family with its subject, as a snapshot of every revocation
/// lists it (so that sockets of it can be found by subject).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubjectFamily {
    /// The family (the tokens' `sid`).
    pub id: String,
    /// Its subject.
    pub sub: String,
    /// The latest `exp` of any of its tokens.
    pub expires_at: i64,
}

// ---------------------------------------------------------------- accounts

/// A new account, its password already hashed.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    /// The username as given (kept as the account's `sub`).
    pub username: &'a str,
    /// The Argon2id hash.
    pub password_hash: &'a str,
    /// Unix seconds.
    pub created_at: i64,
}

/// Whether an account was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// Created.
    Inserted,
    /// An account with this name in some letter case exists.
    Taken,
}

/// An account's generation: a random value that every operator change
/// ending the account's logins (a new password, a disable, a revoke)
/// replaces in its own transaction. A new account gets a fresh one, so no
/// two accounts, even of one name one after the other, share it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct Generation(String);

impl Generation {
    /// A new, random generation (128 bits).
    pub fn fresh() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// What login needs of an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    /// The username as registered.
    pub username: String,
    /// The Argon2id hash.
    pub password_hash: String,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Its generation, read with the hash.
    pub generation: Generation,
}

/// An account as an operator sees it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct UserInfo {
    /// The username as registered (the tokens' `sub`).
    pub username: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether the account is disabled.
    pub disabled: bool,
}

/// One page of accounts whose username starts with `prefix` (ASCII letter
/// case ignored), after `after`, by username.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    /// The prefix, matched literally (`%` and `_` are not wildcards).
    pub prefix: &'a str,
    /// Only usernames sorting after this one (byte order).
    pub after: &'a str,
    /// At most this many.
    pub limit: i64,
}

/// Users.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates the account unless one exists whose name differs at most in
    /// letter case; of two concurrent registrations differing only by case,
    /// exactly one is inserted.
    async fn insert(&self, account: NewAccount<'_>) -> StoreResult<Insertion>;
    /// The account with exactly this username.
    async fn find_exact(&self, username: &str) -> StoreResult<Option<Credentials>>;
    /// Up to two accounts whose username equals this one without regard to case.
    async fn find_folded(&self, username: &str) -> StoreResult<Vec<Credentials>>;
    /// Usernames that differ from another account's only by letter case.
    async fn case_duplicates(&self) -> StoreResult<Vec<String>>;
    /// A page of accounts.
    async fn page(&self, query: PageQuery<'_>) -> StoreResult<Vec<UserInfo>>;
    /// Up to two accounts named `username` exactly or without regard to
    /// case, the exact one first.
    async fn lookup(&self, username: &str) -> StoreResult<Vec<UserInfo>>;
}

/// A new name for this process in the events it records.
fn new_origin() -> Arc<str> {
    uuid::Uuid::new_v4().to_string().into()
}

/// A `LIKE` pattern matching names that start with `prefix` literally
/// (`\\` escapes).
fn like_prefix(prefix: &str) -> String {
    format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

// ---------------------------------------------------------------- families

/// A family's row when a login creates it.
#[derive(Debug, Clone)]
pub struct NewFamily {
    /// The family id (every token's `sid`).
    pub id: String,
    /// The subject: the account's username as registered.
    pub sub: String,
    /// The account's generation when the login read its password hash; the
    /// family is stored only while the account still has it.
    pub generation: Generation,
    /// Unix seconds.
    pub created_at: i64,
    /// The latest `exp` of its tokens.
    pub expires_at: i64,
    /// The refresh token that may rotate next.
    pub current_refresh: String,
    /// The refresh bucket, full.
    pub bucket: Bucket,
}

/// A family's refresh allowance (token bucket).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Refreshes left.
    pub tokens: f64,
    /// When it was last taken from, Unix milliseconds.
    pub at_ms: i64,
}

/// A family's row as a rotation reads it, under the lock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FamilyRow {
    /// The family id.
    pub id: String,
    /// The subject.
    pub sub: String,
    /// Whether the family is revoked.
    pub revoked: bool,
    /// The refresh token that may rotate next.
    pub current_refresh: String,
    /// The one rotated last.
    pub previous_refresh: Option<String>,
    /// When that rotation happened, Unix milliseconds.
    pub rotated_at_ms: Option<i64>,
    /// The claims of the pair that rotation issued (JSON).
    pub successor: Option<String>,
    /// Refreshes left in the bucket.
    pub bucket_tokens: f64,
    /// When the bucket was last taken from, Unix milliseconds.
    pub bucket_at_ms: i64,
}

/// The row a rotation leaves.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The new refresh token's `jti`.
    pub current_refresh: String,
    /// The presented one's.
    pub previous_refresh: String,
    /// Unix milliseconds.
    pub rotated_at_ms: i64,
    /// The new pair's claims (JSON).
    pub successor: String,
    /// The new pair's latest `exp` (the family keeps the later one).
    pub expires_at: i64,
    /// The bucket after this refresh.
    pub bucket: Bucket,
}

/// What a rotation writes, decided from the locked row.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Rotate: the family's row moves on.
    Rotate(Rotation),
    /// An exact retry within the grace window: only the bucket changes.
    Retry(Bucket),
    /// Reuse: revoke the family.
    Revoke,
    /// Nothing to write (revoked, not ours, rate limited).
    Refuse,
}

/// Decides from the locked row; runs synchronously inside the transaction,
/// so nothing else can change the row meanwhile.
pub type Decide<'a> = Box<dyn FnOnce(&FamilyRow) -> Decision + Send + 'a>;

/// What revoking one family touched: its id and expiry, and the tokens
/// issued before families had rows (they carry no `sid`), now revoked by `jti`.
#[derive(Debug, Clone)]
pub struct RevokedFamily {
    /// The family.
    pub family: FamilyExpiry,
    /// Its tokens from before families had rows.
    pub legacy_tokens: Vec<RevokedToken>,
}

/// Whether a login's family was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyInsertion {
    /// Stored: the account still had the generation the login read.
    Inserted,
    /// Not stored: the account is gone, or an operator changed it since the
    /// login read it (a new password, a revoke).
    AccountChanged,
    /// Not stored: the account is disabled.
    AccountDisabled,
}

/// An account's row as a login's family insert reads it, under the lock
/// that orders it against operator changes.
#[derive(Debug, Clone, sqlx::FromRow)]
struct AccountNow {
    generation: Generation,
    disabled: bool,
}

impl FamilyInsertion {
    /// Judges a login from its account's row as it is now (`None`: deleted)
    /// and the generation the login read with the password hash.
    fn judge(now: Option<AccountNow>, read: &Generation) -> Self {
        match now {
            None => Self::AccountChanged,
            Some(AccountNow { disabled: true, .. }) => Self::AccountDisabled,
            Some(AccountNow { generation, .. }) if generation != *read => Self::AccountChanged,
            Some(_) => Self::Inserted,
        }
    }
}

/// Token families.
#[async_trait]
pub trait FamilyStore: Send + Sync + 'static {
    /// Stores a new family if its account (`sub`) still exists with the
    /// generation the login read and is not disabled: the check and the
    /// insert are one transaction, ordered against every operator change to
    /// the account ([`AdminLog::apply`]).
    async fn insert(&self, family: NewFamily) -> StoreResult<FamilyInsertion>;
    /// Locks the family's row, asks `decide` and writes its decision, in one
    /// transaction. `decide` is not called when there is no such family.
    /// Returns what was revoked when the decision was [`Decision::Revoke`].
    async fn rotate(&self, family: &str, decide: Decide<'_>) -> StoreResult<Option<RevokedFamily>>;
    /// Revokes one family (logout).
    async fn revoke(&self, family: &str) -> StoreResult<RevokedFamily>;
    /// Revokes every family of `sub` and marks the subject (tokens without a
    /// family issued before `before` are refused), in one transaction.
    async fn revoke_subject(&self, sub: &str, before: i64) -> StoreResult<Vec<FamilyExpiry>>;
    /// The family of a token issued before families had rows, by `jti`.
    async fn legacy_family(&self, jti: &str) -> StoreResult<Option<String>>;
    /// Forgets families and legacy tokens expired before `now`; returns the
    /// families forgotten.
    async fn purge(&self, now: i64) -> StoreResult<u64>;
}

// ------------------------------------------------------------- revocations

/// Every revocation still in force, to load the in-memory mirror from.
#[derive(Debug, Clone, Default)]
pub struct RevocationSnapshot {
    /// Revoked tokens.
    pub tokens: Vec<RevokedToken>,
    /// Revoked families, with their subjects.
    pub families: Vec<SubjectFamily>,
    /// Subject marks: `(sub, before)`.
    pub subjects: Vec<SubjectMark>,
    /// Disabled accounts.
    pub disabled: Vec<String>,
}

/// "Log out everywhere": tokens of `sub` without a family issued before
/// `before` are revoked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubjectMark {
    /// The subject.
    pub sub: String,
    /// Unix seconds.
    pub before: i64,
}

/// Whether an account is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Usable (or no such account).
    Active,
    /// Disabled by an operator.
    Disabled,
}

/// Everything stored about one subject's revocations.
#[derive(Debug, Clone)]
pub struct SubjectRevocations {
    /// Its revoked families still in force.
    pub families: Vec<FamilyExpiry>,
    /// Its mark, if any.
    pub mark: Option<i64>,
    /// Whether its account is disabled.
    pub account: AccountState,
}

/// Revoked tokens and subject marks.
#[async_trait]
pub trait RevocationLog: Send + Sync + 'static {
    /// Revokes these tokens by `jti`, in one transaction.
    async fn revoke_tokens(&self, tokens: &[RevokedToken]) -> StoreResult<()>;
    /// Marks the subject (keeps the later mark).
    async fn mark_subject(&self, mark: &SubjectMark) -> StoreResult<()>;
    /// Every revocation in force at `now`.
    async fn snapshot(&self, now: i64) -> StoreResult<RevocationSnapshot>;
    /// What is stored about `sub`, in force at `now`.
    async fn subject(&self, sub: &str, now: i64) -> StoreResult<SubjectRevocations>;
    /// The revoked token with this `jti`, if it is still in force at `now`.
    async fn token(&self, jti: &str, now: i64) -> StoreResult<Option<RevokedToken>>;
    /// Forgets revoked tokens expired before `now`.
    async fn purge(&self, now: i64) -> StoreResult<u64>;
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
    /// For readiness.
    pub backend: Arc<dyn Backend>,
}

impl Stores {
    /// Every trait served by one backend.
    pub fn of<T>(store: T) -> Self
    where
        T: AccountStore + FamilyStore + RevocationLog + AdminLog + Backend,
    {
        let store = Arc::new(store);
        Self {
            accounts: store.clone(),
            families: store.clone(),
            revocations: store.clone(),
            admin: store.clone(),
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
