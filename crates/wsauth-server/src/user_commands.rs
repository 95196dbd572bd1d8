//! `wsauth user ...`: accounts from the command line, on the deployment that
//! `--config` / `--data-dir` / `--database-url` select. Each command prints what it did; running
//! servers on the same database apply it within a second (`watch.rs`).

use anyhow::Context;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};
use wsauth_domain::DomainError;
use wsauth_domain::accounts::{Accounts, HashingLimits};
use wsauth_domain::admin::{Admin, Change};
use wsauth_server::Config;

#[derive(Subcommand)]
pub(crate) enum UserAction {
    /// Add an account; the password is read from a prompt, or from stdin.
    Add {
        /// The username.
        name: String,
    },
    /// List accounts (username, created, disabled).
    List {
        /// Only usernames starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Revoke every token of an account and close its sockets; with
    /// `--issuer`, of a subject of that trusted issuer instead.
    Revoke {
        /// The username (or, with --issuer, the issuer's subject).
        name: String,
        /// A trusted issuer (`[[trusted_issuers]]`) whose subject this is.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Block an account: no login, refresh, socket or ticket; revokes at once.
    Disable {
        /// The username.
        name: String,
    },
    /// Lift the block.
    Enable {
        /// The username.
        name: String,
    },
    /// Delete an account; its revocations stay.
    Delete {
        /// The username.
        name: String,
    },
    /// Set a new password (prompt, or stdin) and revoke every session.
    Passwd {
        /// The username.
        name: String,
    },
    #[command(flatten)]
    Rights(crate::user_rights::RightsAction),
}

pub(crate) async fn run(config: Config, action: UserAction) -> anyhow::Result<()> {
    let stores = wsauth_server::app::open_stores(&config).await?;
    let now = wsauth::Clock::now(&wsauth::SystemClock);
    let accounts = Accounts::new(stores.accounts.clone(), HashingLimits::single());
    let admin = Admin::new(stores.accounts, stores.admin);
    let rights = wsauth_domain::rights::Rights::new(admin.clone(), stores.rights);
    match action {
        UserAction::Rights(action) => crate::user_rights::run(rights, action).await?,
        UserAction::Add { name } => {
            let password = read_password(&name)?;
            accounts.create(&name, &password, now).await.map_err(|e| about(&name, e))?;
            println!("added user {name}");
        }
        UserAction::List { prefix } => {
            let mut cursor = None;
            loop {
                let page = admin
                    .list(&prefix, 500, cursor.as_deref())
                    .await
                    .map_err(|e| about(&prefix, e))?;
                for user in &page.users {
                    let state = if user.disabled { "disabled" } else { "active" };
                    println!("{}\t{}\t{state}", user.username, user.created_at);
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        UserAction::Revoke { name, issuer: Some(issuer) } => {
            if !config.trusted_issuers.iter().any(|t| t.issuer == issuer) {
                anyhow::bail!("{issuer:?} is not a configured trusted issuer");
            }
            let key = wsauth::issuers::subject_key(&issuer, &name);
            admin.revoke_external(&key, now).await.map_err(|e| about(&name, e))?;
            println!("revoked every token of {name} at {issuer}");
        }
        UserAction::Revoke { name, issuer: None } => {
            let done =
                admin.apply(&name, Change::Revoke, now).await.map_err(|e| about(&name, e))?;
            println!("revoked every token of {} ({} sessions)", done.sub, done.families.len());
        }
        UserAction::Disable { name } => {
            let done =
                admin.apply(&name, Change::Disable, now).await.map_err(|e| about(&name, e))?;
            println!("disabled {} and revoked every token", done.sub);
        }
        UserAction::Enable { name } => {
            let done =
                admin.apply(&name, Change::Enable, now).await.map_err(|e| about(&name, e))?;
            println!("enabled {}", done.sub);
        }
        UserAction::Delete { name } => {
            let done =
                admin.apply(&name, Change::Delete, now).await.map_err(|e| about(&name, e))?;
            println!("deleted {} (its revocations stay)", done.sub);
        }
        UserAction::Passwd { name } => {
            let user = admin.get(&name).await.map_err(|e| about(&name, e))?;
            let hash = accounts
                .hash_new_password(&read_password(&user.username)?)
                .await
                .map_err(|e| about(&name, e))?;
            let done = admin
                .apply(&user.username, Change::Password(hash), now)
                .await
                .map_err(|e| about(&name, e))?;
            println!("set a new password for {} and revoked every session", done.sub);
        }
    }
    Ok(())
}

/// What a command on the account `name` failed with, naming the account:
/// an operator who mistyped a name reads which name was not found.
fn about(name: &str, e: DomainError) -> anyhow::Error {
    match e {
        DomainError::UserNotFound => anyhow::anyhow!(
            "no account named `{name}` (`wsauth user list` shows the accounts there are)"
        ),
        DomainError::UsernameTaken => anyhow::anyhow!("an account named `{name}` already exists"),
        DomainError::InvalidUsername => anyhow::anyhow!("the username `{name}` is refused: {e}"),
        DomainError::WeakPassword => anyhow::anyhow!("the password for `{name}` is refused: {e}"),
        e => anyhow::anyhow!("{e}"),
    }
}

/// A password from a prompt (twice) on a terminal, or one line of stdin.
fn read_password(name: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
