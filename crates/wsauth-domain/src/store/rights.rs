//! Channel rights of local accounts: roles and per-user grants, and the
//! trait the databases implement ([`RightsStore`]). Each change records an
//! entry of kind [`EventKind::Rights`](super::EventKind::Rights) in the
//! event log in its own transaction, so every process re-checks the
//! subject's subscriptions (`inbound.rs`). Rows are checked and parsed
//! above this layer (`rights.rs`); here they are text.

use async_trait::async_trait;

use super::StoreResult;

/// One stored grant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    /// Its id, unique in the database.
    pub id: String,
    /// The channel pattern, as written.
    pub pattern: String,
    /// The actions' names, comma-separated (`subscribe,publish`).
    pub actions: String,
}

/// A grant to add to an account.
#[derive(Debug, Clone, Copy)]
pub struct NewGrant<'a> {
    /// The account, by its exact username.
    pub username: &'a str,
    /// The new grant's id.
    pub id: &'a str,
    /// The channel pattern.
    pub pattern: &'a str,
    /// The actions' names, comma-separated.
    pub actions: &'a str,
    /// Refuse the grant when the account already holds this many.
    pub max: i64,
}

/// What a change to an account's rights came to. Anything but
/// [`RightsOutcome::Done`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightsOutcome {
    /// Written, with its entry in the event log.
    Done,
    /// No account has exactly this username.
    NoAccount,
    /// The account holds no grant of this id.
    NoGrant,
    /// The account already holds [`NewGrant::max`] grants.
    TooMany,
}

/// Roles and grants of local accounts, by exact username.
#[async_trait]
pub trait RightsStore: Send + Sync + 'static {
    /// The account's roles, sorted; `None` when there is no such account.
    async fn roles(&self, username: &str) -> StoreResult<Option<Vec<String>>>;
    /// Replaces the account's roles with `roles` (sorted, each once).
    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<RightsOutcome>;
    /// The account's grants in the order they were added; `None` when there
    /// is no such account.
    async fn grants(&self, username: &str) -> StoreResult<Option<Vec<GrantRow>>>;
    /// Adds a grant, unless the account holds [`NewGrant::max`] already.
    async fn add_grant(&self, grant: NewGrant<'_>) -> StoreResult<RightsOutcome>;
    /// Deletes the account's grant `id`.
    async fn delete_grant(&self, username: &str, id: &str) -> StoreResult<RightsOutcome>;
}
