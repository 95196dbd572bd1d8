//! Operator actions on accounts: list, inspect, revoke, disable, enable,
//! delete, set a password. Each runs in one transaction that also records an
//! event, so running servers that did not make the change (the `wsauth user`
//! commands run in another process) reload the subject within a second
//! (`watch.rs`). The caller applies the change to its own process.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::sync::Arc;

use crate::error::DomainError;
use crate::store::{
    AccountEdit, AccountState, AccountStore, AdminChange, AdminLog, FamilyExpiry, PageQuery,
    UserInfo,
};

/// A page of accounts.
#[derive(Debug, Clone, Serialize)]
pub struct UserPage {
    /// The accounts, by username.
    pub users: Vec<UserInfo>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// What an action did, for the caller to apply to its own process.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// The subject.
    pub sub: String,
    /// Families revoked, with their expiry.
    pub families: Vec<FamilyExpiry>,
    /// The subject mark set (tokens without a family issued before it are refused).
    pub before: i64,
}

/// What happened to an account, as recorded for other processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Every token revoked, every socket closed.
    Revoke,
    /// Blocked, and revoked.
    Disable,
    /// Unblocked.
    Enable,
    /// Deleted, and revoked.
    Delete,
    /// A new password, and revoked.
    Password,
}

impl Action {
    /// The stable name stored with the event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Delete => "delete",
            Self::Password => "password",
        }
    }

    /// Whether live sockets of the subject must close.
    pub fn closes_sockets(self) -> bool {
        self != Self::Enable
    }
}

/// A change to one account.
#[derive(Debug, Clone)]
pub enum Change {
    /// Revoke every token.
    Revoke,
    /// Block, and revoke.
    Disable,
    /// Unblock.
    Enable,
    /// Delete, and revoke; the revocations stay.
    Delete,
    /// A new password hash, and revoke.
    Password(String),
}

impl Change {
    /// What it is recorded as.
    pub fn action(&self) -> Action {
        match self {
            Self::Revoke => Action::Revoke,
            Self::Disable => Action::Disable,
            Self::Enable => Action::Enable,
            Self::Delete => Action::Delete,
            Self::Password(_) => Action::Password,
        }
    }

    /// What happens to the account's row.
    fn edit(self) -> AccountEdit {
        match self {
            Self::Revoke => AccountEdit::Keep,
            Self::Disable => AccountEdit::SetState(AccountState::Disabled),
            Self::Enable => AccountEdit::SetState(AccountState::Active),
            Self::Delete => AccountEdit::Delete,
            Self::Password(hash) => AccountEdit::SetPassword(hash),
        }
    }
}

/// The most accounts one page holds.
pub const MAX_PAGE: i64 = 500;

/// Operator actions on one database.
#[derive(Clone)]
pub struct Admin {
    accounts: Arc<dyn AccountStore>,
    log: Arc<dyn AdminLog>,
}

impl Admin {
    /// Actions on these stores, recorded as made by this process.
    pub fn new(accounts: Arc<dyn AccountStore>, log: Arc<dyn AdminLog>) -> Self {
        Self { accounts, log }
    }

    /// Where changes and their events are recorded.
    pub fn log(&self) -> &Arc<dyn AdminLog> {
        &self.log
    }

    /// This process's name in recorded events.
    pub fn origin(&self) -> &str {
        self.log.origin()
    }

    /// Accounts whose username starts with `prefix`, by username, after the
    /// position `cursor` names; `limit` (1 to [`MAX_PAGE`]) at most.
    pub async fn list(
        &self,
        prefix: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<UserPage, DomainError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(DomainError::InvalidPageSize);
        }
        let after = match cursor {
            Some(c) => decode_cursor(c)?,
            None => String::new(),
        };
        let query = PageQuery { prefix, after: &after, limit: limit + 1 };
        let mut users = self.accounts.page(query).await?;
        let more = users.len() as i64 > limit;
        users.truncate(limit as usize);
        let next_cursor =
            more.then(|| users.last().map(|u| URL_SAFE_NO_PAD.encode(&u.username))).flatten();
        Ok(UserPage { users, next_cursor })
    }

    /// One account, by its exact username or, failing that, the one account
    /// that matches without regard to case.
    pub async fn get(&self, username: &str) -> Result<UserInfo, DomainError> {
        let found = self.accounts.lookup(username).await?;
        match found.as_slice() {
            [exact, ..] if exact.username == username => Ok(exact.clone()),
            [only] => Ok(only.clone()),
            _ => Err(DomainError::UserNotFound),
        }
    }

    /// Applies `change` to the account and, unless it only unblocks,
    /// revokes every token of it, with the event, in one transaction.
    pub async fn apply(
        &self,
        username: &str,
        change: Change,
        now: i64,
    ) -> Result<Revoked, DomainError> {
        let sub = self.get(username).await?.username;
        let action = change.action();
        let before = now.saturating_add(1);
        let revoke_before = action.closes_sockets().then_some(before);
        let families = self
            .log
            .apply(AdminChange {
                sub: &sub,
                edit: change.edit(),
                revoke_before,
                kind: action.as_str(),
            })
            .await?;
        Ok(Revoked { sub, families, before })
    }
}

impl Admin {
    /// Revokes every token of a trusted issuer's subject (its subject key,
    /// [`wsauth::issuers::subject_key`]) issued up to now: a subject mark and the
    /// event, in one transaction. There is no account to change.
    pub async fn revoke_external(&self, key: &str, now: i64) -> Result<Revoked, DomainError> {
        let before = now.saturating_add(1);
        let families = self
            .log
            .apply(AdminChange {
                sub: key,
                edit: AccountEdit::Keep,
                revoke_before: Some(before),
                kind: Action::Revoke.as_str(),
            })
            .await?;
        Ok(Revoked { sub: key.to_owned(), families, before })
    }
}

fn decode_cursor(cursor: &str) -> Result<String, DomainError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(DomainError::InvalidCursor)
}
