//! Channel rights of local accounts, as an operator sets them: roles, and
//! per-user grants of actions on the channels a pattern matches. Every
//! input is checked here, against the bounds below, before the store sees
//! it; each change is one transaction with its entry in the event log, so
//! every process re-checks the account's live subscriptions (`inbound.rs`).
//! The caller re-checks its own process's at once.
//!
//! An account is named as the other operator actions name it: its exact
//! username or, failing that, the one account matching without regard to
//! case ([`Admin::get`]).

use std::sync::Arc;
use wsauth::channels::{Action, Actions, Grant, Pattern};

use crate::admin::Admin;
use crate::error::DomainError;
use crate::store::{GrantRow, NewGrant, RightsOutcome, RightsStore};

pub(crate) mod bounds;
pub use bounds::{MAX_GRANT_ID_LEN, MAX_GRANTS, MAX_ROLE_LEN, MAX_ROLES};

/// An account's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRoles {
    /// The account's username as registered.
    pub username: String,
    /// Its roles, sorted, each once.
    pub roles: Vec<String>,
}

/// One grant as stored, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// The id that names it for deletion.
    pub id: String,
    /// The pattern and the actions.
    pub grant: Grant,
}

/// An account's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGrants {
    /// The account's username as registered.
    pub username: String,
    /// Its grants, in the order they were added.
    pub grants: Vec<StoredGrant>,
}

/// A grant added to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAdded {
    /// The account's username as registered.
    pub username: String,
    /// The new grant's id.
    pub id: String,
}

/// Roles and grants of local accounts on one database.
#[derive(Clone)]
pub struct Rights {
    admin: Admin,
    store: Arc<dyn RightsStore>,
}

impl Rights {
    /// Rights in `store`, of the accounts `admin` finds.
    pub fn new(admin: Admin, store: Arc<dyn RightsStore>) -> Self {
        Self { admin, store }
    }

    /// The account's roles.
    pub async fn roles(&self, username: &str) -> Result<AccountRoles, DomainError> {
        let username = self.admin.get(username).await?.username;
        let roles = self.store.roles(&username).await?.ok_or(DomainError::UserNotFound)?;
        Ok(AccountRoles { username, roles })
    }

    /// Replaces the account's roles (an empty list removes them all).
    pub async fn set_roles(
        &self,
        username: &str,
        roles: &[String],
    ) -> Result<AccountRoles, DomainError> {
        let roles = checked_roles(roles)?;
        let username = self.admin.get(username).await?.username;
        done(self.store.set_roles(&username, &roles).await?)?;
        Ok(AccountRoles { username, roles })
    }

    /// The account's grants.
    pub async fn grants(&self, username: &str) -> Result<AccountGrants, DomainError> {
        let username = self.admin.get(username).await?.username;
        let rows = self.store.grants(&username).await?.ok_or(DomainError::UserNotFound)?;
        let grants = rows.into_iter().filter_map(stored_grant).collect();
        Ok(AccountGrants { username, grants })
    }

    /// Grants the account `actions` (their names) on the channels `pattern`
    /// matches.
    pub async fn add_grant(
        &self,
        username: &str,
        pattern: &str,
        actions: &[String],
    ) -> Result<GrantAdded, DomainError> {
        let pattern =
            Pattern::parse(pattern).map_err(|e| DomainError::InvalidPattern(e.reason()))?;
        let actions = parse_actions(actions)?;
        let username = self.admin.get(username).await?.username;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let grant = NewGrant {
            username: &username,
            id: &id,
            pattern: pattern.as_str(),
            actions: &actions_text(actions),
            max: MAX_GRANTS as i64,
        };
        done(self.store.add_grant(grant).await?)?;
        Ok(GrantAdded { username, id })
    }

    /// Deletes the account's grant `id`; returns the account's username as
    /// registered.
    pub async fn delete_grant(&self, username: &str, id: &str) -> Result<String, DomainError> {
        let username = self.admin.get(username).await?.username;
        if id.len() > MAX_GRANT_ID_LEN {
            return Err(DomainError::GrantNotFound);
        }
        done(self.store.delete_grant(&username, id).await?)?;
        Ok(username)
    }
}

/// A store's outcome as the operation's result.
fn done(outcome: RightsOutcome) -> Result<(), DomainError> {
    match outcome {
        RightsOutcome::Done => Ok(()),
        // Deleted between the lookup and the change.
        RightsOutcome::NoAccount => Err(DomainError::UserNotFound),
        RightsOutcome::NoGrant => Err(DomainError::GrantNotFound),
        RightsOutcome::TooMany => Err(DomainError::TooManyGrants),
    }
}

/// The roles, checked, sorted, each once.
fn checked_roles(roles: &[String]) -> Result<Vec<String>, DomainError> {
    if let Some(bad) = roles.iter().find(|r| !valid_role(r)) {
        tracing::debug!(len = bad.len(), "refused a role");
        return Err(DomainError::InvalidRole);
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.len() > MAX_ROLES {
        return Err(DomainError::TooManyRoles);
    }
    Ok(roles)
}

/// Whether `role` is 1 to [`MAX_ROLE_LEN`] bytes of `A-Z a-z 0-9 _ . : -`.
pub fn valid_role(role: &str) -> bool {
    (1..=MAX_ROLE_LEN).contains(&role.len())
        && role.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Actions by name: at least one, each of subscribe, publish, presence.
pub fn parse_actions(names: &[String]) -> Result<Actions, DomainError> {
    if names.is_empty() {
        return Err(DomainError::InvalidActions(
            "name at least one action (subscribe, publish or presence)".into(),
        ));
    }
    names
        .iter()
        .map(|name| name.parse::<Action>())
        .collect::<Result<Actions, String>>()
        .map_err(DomainError::InvalidActions)
}

/// How a set of actions is stored: their names, comma-separated.
fn actions_text(actions: Actions) -> String {
    actions.iter().map(Action::as_str).collect::<Vec<_>>().join(",")
}

/// A stored row as a grant; a row that does not parse (written by hand)
/// grants nothing and is logged.
pub(crate) fn stored_grant(row: GrantRow) -> Option<StoredGrant> {
    let pattern = Pattern::parse(&row.pattern).ok();
    let actions: Option<Actions> =
        row.actions.split(',').map(|name| name.parse::<Action>().ok()).collect();
    match (pattern, actions) {
        (Some(pattern), Some(actions)) if !actions.is_empty() => {
            Some(StoredGrant { id: row.id, grant: Grant { pattern, actions } })
        }
        _ => {
            tracing::error!(id = %row.id, "a stored channel grant does not parse; it grants nothing");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_bounded_sorted_and_kept_once() {
        let given: Vec<String> = ["mod", "admin:room", "mod"].map(String::from).to_vec();
        assert_eq!(checked_roles(&given).unwrap(), ["admin:room", "mod"]);
        for bad in ["", "has space", "é", &"r".repeat(MAX_ROLE_LEN + 1), "a/b"] {
            assert!(
                matches!(checked_roles(&[bad.to_owned()]), Err(DomainError::InvalidRole)),
                "{bad:?}"
            );
        }
        assert!(valid_role(&"r".repeat(MAX_ROLE_LEN)));
        let many: Vec<String> = (0..=MAX_ROLES).map(|i| format!("r{i}")).collect();
        assert!(matches!(checked_roles(&many), Err(DomainError::TooManyRoles)));
        assert_eq!(checked_roles(&many[..MAX_ROLES]).unwrap().len(), MAX_ROLES);
    }

    #[test]
    fn actions_are_named_and_stored_as_text() {
        let names = ["presence", "subscribe"].map(String::from);
        let actions = parse_actions(&names).unwrap();
        assert_eq!(actions_text(actions), "subscribe,presence");
        assert!(matches!(parse_actions(&[]), Err(DomainError::InvalidActions(_))));
        assert!(matches!(parse_actions(&["read".into()]), Err(DomainError::InvalidActions(_))));
        let row = GrantRow {
            id: "g".into(),
            pattern: "room:*".into(),
            actions: "subscribe,presence".into(),
        };
        assert_eq!(stored_grant(row).unwrap().grant.actions, actions);
        let broken =
            GrantRow { id: "g".into(), pattern: "room:>:x".into(), actions: "subscribe".into() };
        assert!(stored_grant(broken).is_none());
    }
}
