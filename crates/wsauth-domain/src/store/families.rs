//! Token families: a login's row, its rotation decided under the lock,
//! and the trait the databases implement ([`FamilyStore`]).

use async_trait::async_trait;

use super::{FamilyExpiry, Generation, RevokedToken, StoreResult};

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
pub(super) struct AccountNow {
    pub(super) generation: Generation,
    pub(super) disabled: bool,
}

impl FamilyInsertion {
    /// Judges a login from its account's row as it is now (`None`: deleted)
    /// and the generation the login read with the password hash.
    pub(super) fn judge(now: Option<AccountNow>, read: &Generation) -> Self {
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
