//! Operator changes and the revocation log: every committed revocation and
//! account change, recorded by the transaction that commits it, for every
//! process to follow (`watch.rs`).

use async_trait::async_trait;

use super::{AccountState, FamilyExpiry, RevokedFamily, StoreResult};

/// What an operator does to an account.
#[derive(Debug, Clone)]
pub enum AccountEdit {
    /// Leave the row alone (revoke only).
    Keep,
    /// Set or lift the block.
    SetState(AccountState),
    /// A new password hash.
    SetPassword(String),
    /// Remove the account.
    Delete,
}

/// An operator's change to one account, recorded as an event.
#[derive(Debug, Clone)]
pub struct AdminChange<'a> {
    /// The account (its exact username).
    pub sub: &'a str,
    /// What happens to its row.
    pub edit: AccountEdit,
    /// Revoke every token of it too, with a mark at this second.
    pub revoke_before: Option<i64>,
    /// The event's kind (`Action::as_str`).
    pub kind: &'a str,
}

/// A committed change as the event log records it, for every other
/// process to apply: each revocation and account change is recorded in the
/// transaction that commits it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminEvent {
    /// Increasing, in commit order.
    pub id: i64,
    /// The subject to reload (empty for a token revoked by id alone).
    pub sub: String,
    /// What happened: an operator's action (`Action::as_str`) or one of
    /// [`EventKind`]'s.
    pub kind: String,
    /// The process that made it.
    pub origin: String,
    /// The token revoked by its id alone ([`EventKind::Token`]).
    pub jti: Option<String>,
}

/// What the stores record in the event log besides operators' actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// One family revoked by a logout.
    Logout,
    /// One family revoked because a refresh token was presented again.
    Reuse,
    /// Every family of a subject revoked, and its mark raised.
    LogoutAll,
    /// A subject's mark raised alone.
    Mark,
    /// A token revoked by its id.
    Token,
    /// A local account's channel roles or grants changed: its live
    /// subscriptions are checked again. (Processes that predate channels
    /// reload the subject's revocations, which changes nothing.)
    Rights,
}

impl EventKind {
    /// The stable name stored with the event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Reuse => "reuse",
            Self::LogoutAll => "logout_all",
            Self::Mark => "mark",
            Self::Token => "token",
            Self::Rights => "rights",
        }
    }
}

/// One entry a transaction adds to the event log, as its last write.
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    /// The subject (empty for a token revoked by id alone).
    pub sub: &'a str,
    /// What happened.
    pub kind: &'a str,
    /// The token revoked by its id alone.
    pub jti: Option<&'a str>,
}

impl<'a> LogEntry<'a> {
    /// A change to what `sub` may do.
    pub fn subject(sub: &'a str, kind: &'a str) -> Self {
        Self { sub, kind, jti: None }
    }

    /// A token revoked by its id.
    pub fn token(jti: &'a str) -> Self {
        Self { sub: "", kind: EventKind::Token.as_str(), jti: Some(jti) }
    }

    /// A family revoked (`kind`), with the tokens of it from before families
    /// had rows, revoked by id.
    pub fn family(sub: &'a str, kind: EventKind, revoked: &'a RevokedFamily) -> Vec<Self> {
        let mut entries = vec![Self::subject(sub, kind.as_str())];
        entries.extend(revoked.legacy_tokens.iter().map(|token| Self::token(&token.jti)));
        entries
    }
}

/// Operator changes, and the event log every committed change goes into.
#[async_trait]
pub trait AdminLog: Send + Sync + 'static {
    /// This process's name in the events it records (a new one each time
    /// the database is opened).
    fn origin(&self) -> &str;
    /// The account edit, the subject's revocation and the event, in one
    /// transaction; a change that revokes also gives the account a new
    /// [`Generation`] (before the revocation, under the account row's lock),
    /// so no login in flight stores a family afterwards. Returns the
    /// families revoked.
    async fn apply(&self, change: AdminChange<'_>) -> StoreResult<Vec<FamilyExpiry>>;
    /// The id of the latest event (0 when there is none).
    async fn latest_event(&self) -> StoreResult<i64>;
    /// Up to `limit` events after `id`, oldest first.
    async fn events_after(&self, id: i64, limit: i64) -> StoreResult<Vec<AdminEvent>>;
    /// Forgets events recorded more than `retention` seconds ago by the
    /// database's clock (which stamps them); returns how many.
    async fn purge_events(&self, retention: i64) -> StoreResult<u64>;
}
