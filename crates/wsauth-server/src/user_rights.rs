//! `wsauth user roles|grant|grants|ungrant`: local accounts' channel rights
//! from the command line. Each change is written with its entry in the
//! event log, so running servers on the same database re-check the
//! account's subscriptions within a second (`watch.rs`).

use clap::Subcommand;
use wsauth_domain::DomainError;
use wsauth_domain::rights::Rights;

#[derive(Subcommand)]
pub(crate) enum RightsAction {
    /// Print an account's channel roles (one a line); with roles, replace
    /// them; with --clear, remove them all.
    Roles {
        /// The username.
        name: String,
        /// The new roles (letters, digits, '_', '.', ':', '-'; at most 32).
        roles: Vec<String>,
        /// Remove every role.
        #[arg(long, conflicts_with = "roles")]
        clear: bool,
    },
    /// Grant an account actions on the channels a pattern matches; prints
    /// the grant's id.
    Grant {
        /// The username.
        name: String,
        /// The channels (`room:42`, `room:*`, `user:{sub}:>`).
        pattern: String,
        /// subscribe, publish and/or presence.
        #[arg(required = true)]
        actions: Vec<String>,
    },
    /// List an account's grants (id, pattern, actions).
    Grants {
        /// The username.
        name: String,
    },
    /// Delete one of an account's grants.
    Ungrant {
        /// The username.
        name: String,
        /// The grant's id (`wsauth user grants NAME` lists them).
        id: String,
    },
}

pub(crate) async fn run(rights: Rights, action: RightsAction) -> anyhow::Result<()> {
    match action {
        RightsAction::Roles { name, roles, clear: false } if roles.is_empty() => {
            let found = rights.roles(&name).await.map_err(|e| explained(e, &name))?;
            for role in found.roles {
                println!("{role}");
            }
        }
        RightsAction::Roles { name, roles, .. } => {
            let set = rights.set_roles(&name, &roles).await.map_err(|e| explained(e, &name))?;
            match set.roles.as_slice() {
                [] => println!("removed every role of {}", set.username),
                roles => println!("set the roles of {}: {}", set.username, roles.join(", ")),
            }
        }
        RightsAction::Grant { name, pattern, actions } => {
            let added = rights
                .add_grant(&name, &pattern, &actions)
                .await
                .map_err(|e| explained(e, &name))?;
            println!("{}", added.id);
        }
        RightsAction::Grants { name } => {
            let found = rights.grants(&name).await.map_err(|e| explained(e, &name))?;
            for stored in found.grants {
                let actions: Vec<&str> = stored.grant.actions.iter().map(|a| a.as_str()).collect();
                println!("{}\t{}\t{}", stored.id, stored.grant.pattern.as_str(), actions.join(","));
            }
        }
        RightsAction::Ungrant { name, id } => {
            let username = rights.delete_grant(&name, &id).await.map_err(|e| match e {
                DomainError::GrantNotFound => anyhow::anyhow!(
                    "{name} has no grant {id:?} (`wsauth user grants {name}` lists them)"
                ),
                e => explained(e, &name),
            })?;
            println!("deleted grant {id} of {username}");
        }
    }
    Ok(())
}

/// The error, naming the account and what to do.
fn explained(error: DomainError, name: &str) -> anyhow::Error {
    match error {
        DomainError::UserNotFound => {
            // Said as `wsauth user disable` and the others say it.
            anyhow::anyhow!(
                "no account named `{name}` (`wsauth user list` shows the accounts there are)"
            )
        }
        DomainError::TooManyGrants => anyhow::anyhow!(
            "{name} holds {} grants already; delete one first (`wsauth user ungrant {name} ID`)",
            wsauth_domain::rights::MAX_GRANTS
        ),
        e => anyhow::anyhow!("{e}"),
    }
}
