//! Revocations as stored: revoked tokens, families and subject marks, and
//! the trait the databases implement ([`RevocationLog`]).

use async_trait::async_trait;

use super::StoreResult;

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
