//! Users: what a login reads, what an operator lists, and the trait the
//! databases implement ([`AccountStore`]).

use async_trait::async_trait;

use super::StoreResult;

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

/// A `LIKE` pattern matching names that start with `prefix` literally
/// (`\\` escapes).
pub(super) fn like_prefix(prefix: &str) -> String {
    format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
