//! Channel roles and grants of local accounts on both databases: what is
//! stored is what is read back, the bounds hold, each change is one
//! transaction with its `rights` entry in the event log, an account's
//! delete takes its rights with it, and the hub's profiles read them.

use wsauth::channels::{Action, Actions, Profiles, Unavailable};
use wsauth_domain::DomainError;
use wsauth_domain::admin::{Admin, Change};
use wsauth_domain::profiles::StoredProfiles;
use wsauth_domain::rights::{MAX_GRANTS, MAX_ROLES, Rights};
use wsauth_domain::store::{NewAccount, Stores};

use crate::support::*;

async fn add_account(stores: &Stores, username: &str) {
    let account = NewAccount { username, password_hash: "not-a-real-hash", created_at: 0 };
    stores.accounts.insert(account).await.expect("insert account");
}

fn rights_of(stores: &Stores) -> Rights {
    Rights::new(Admin::new(stores.accounts.clone(), stores.admin.clone()), stores.rights.clone())
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The `(sub, kind)` of every entry of the event log.
async fn entries(stores: &Stores) -> Vec<(String, String)> {
    let events = stores.admin.events_after(0, 10_000).await.expect("events");
    events.into_iter().map(|e| (e.sub, e.kind)).collect()
}

#[tokio::test]
async fn roles_and_grants_round_trip_and_each_change_is_logged() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        add_account(&stores, "alice").await;
        add_account(&stores, "bob").await;

        // Named as the other operator actions name an account.
        let set =
            rights.set_roles("ALICE", &names(&["mod", "member", "mod"])).await.expect("roles");
        assert_eq!(set.username, "alice", "{backend:?}");
        assert_eq!(set.roles, ["member", "mod"], "{backend:?}: sorted, each once");
        assert_eq!(rights.roles("alice").await.expect("roles").roles, ["member", "mod"]);
        assert!(rights.roles("bob").await.expect("roles").roles.is_empty(), "{backend:?}");
        rights.set_roles("alice", &names(&["member"])).await.expect("replace");
        assert_eq!(rights.roles("alice").await.expect("roles").roles, ["member"], "{backend:?}");

        let first = rights
            .add_grant("alice", "room:*", &names(&["subscribe", "presence"]))
            .await
            .expect("grant");
        let second =
            rights.add_grant("alice", "user:{sub}:>", &names(&["publish"])).await.expect("grant");
        assert_ne!(first.id, second.id);
        let listed = rights.grants("alice").await.expect("grants").grants;
        let seen: Vec<(&str, &str, Actions)> = listed
            .iter()
            .map(|g| (g.id.as_str(), g.grant.pattern.as_str(), g.grant.actions))
            .collect();
        let both: Actions = [Action::Subscribe, Action::Presence].into_iter().collect();
        assert_eq!(
            seen,
            [
                (first.id.as_str(), "room:*", both),
                (second.id.as_str(), "user:{sub}:>", Action::Publish.into())
            ],
            "{backend:?}: in the order added"
        );
        assert!(rights.grants("bob").await.expect("grants").grants.is_empty());
        // A grant is deleted through its own account only.
        assert!(matches!(
            rights.delete_grant("bob", &first.id).await,
            Err(DomainError::GrantNotFound)
        ));
        assert_eq!(rights.delete_grant("alice", &first.id).await.expect("delete"), "alice");
        assert!(matches!(
            rights.delete_grant("alice", &first.id).await,
            Err(DomainError::GrantNotFound)
        ));
        assert_eq!(rights.grants("alice").await.expect("grants").grants.len(), 1, "{backend:?}");

        let kinds = entries(&stores).await;
        let expected: Vec<(String, String)> =
            (0..5).map(|_| ("alice".to_owned(), "rights".to_owned())).collect();
        assert_eq!(kinds, expected, "{backend:?}: one entry per change, none for a refusal");

        for missing in [
            rights.roles("nobody").await.err(),
            rights.set_roles("nobody", &[]).await.err(),
            rights.grants("nobody").await.err(),
            rights.add_grant("nobody", "room:1", &names(&["subscribe"])).await.err(),
            rights.delete_grant("nobody", "x").await.err(),
        ] {
            assert!(matches!(missing, Some(DomainError::UserNotFound)), "{backend:?}: {missing:?}");
        }
    }
}

#[tokio::test]
async fn bad_rights_are_refused_and_an_account_holds_a_bounded_number() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        add_account(&stores, "carol").await;
        for bad in ["", "with space", "slash/ed", &"r".repeat(65)] {
            let refused = rights.set_roles("carol", &names(&[bad])).await;
            assert!(matches!(refused, Err(DomainError::InvalidRole)), "{backend:?} {bad:?}");
        }
        let many: Vec<String> = (0..=MAX_ROLES).map(|i| format!("role{i}")).collect();
        assert!(matches!(rights.set_roles("carol", &many).await, Err(DomainError::TooManyRoles)));
        rights.set_roles("carol", &many[..MAX_ROLES]).await.expect("32 roles");
        for bad in ["room:>:x", "", "room::1", "a b"] {
            let refused = rights.add_grant("carol", bad, &names(&["subscribe"])).await;
            assert!(matches!(refused, Err(DomainError::InvalidPattern(_))), "{backend:?} {bad:?}");
        }
        for bad in [&[][..], &["read"], &["subscribe", "write"]] {
            let refused = rights.add_grant("carol", "room:1", &names(bad)).await;
            assert!(matches!(refused, Err(DomainError::InvalidActions(_))), "{backend:?} {bad:?}");
        }
        for i in 0..MAX_GRANTS {
            rights
                .add_grant("carol", &format!("room:{i}"), &names(&["subscribe"]))
                .await
                .expect("grant");
        }
        let full = rights.add_grant("carol", "room:x", &names(&["subscribe"])).await;
        assert!(matches!(full, Err(DomainError::TooManyGrants)), "{backend:?}");
        assert_eq!(rights.grants("carol").await.expect("grants").grants.len(), MAX_GRANTS);
        // One entry per change that was written: the roles once, the grants.
        assert_eq!(entries(&stores).await.len(), 1 + MAX_GRANTS, "{backend:?}");
    }
}

#[tokio::test]
async fn a_rights_change_whose_entry_cannot_be_written_commits_nothing() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        add_account(&stores, "dora").await;
        rights.set_roles("dora", &names(&["member"])).await.expect("roles");
        let grant =
            rights.add_grant("dora", "room:1", &names(&["subscribe"])).await.expect("grant");
        database.execute("DROP TABLE admin_events").await;
        assert!(rights.set_roles("dora", &names(&["other"])).await.is_err(), "{backend:?}");
        assert!(rights.add_grant("dora", "room:2", &names(&["subscribe"])).await.is_err());
        assert!(rights.delete_grant("dora", &grant.id).await.is_err(), "{backend:?}");
        assert_eq!(rights.roles("dora").await.expect("roles").roles, ["member"], "{backend:?}");
        let held = rights.grants("dora").await.expect("grants").grants;
        let ids: Vec<&str> = held.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, [grant.id.as_str()], "{backend:?}: half applied");
    }
}

#[tokio::test]
async fn deleting_an_account_deletes_its_rights() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        let admin = Admin::new(stores.accounts.clone(), stores.admin.clone());
        add_account(&stores, "erin").await;
        rights.set_roles("erin", &names(&["member"])).await.expect("roles");
        rights.add_grant("erin", "room:*", &names(&["subscribe"])).await.expect("grant");
        admin.apply("erin", Change::Delete, 1000).await.expect("delete");
        assert!(stores.rights.roles("erin").await.expect("read").is_none(), "{backend:?}");
        // A new account of the same name starts with nothing.
        add_account(&stores, "erin").await;
        assert!(rights.roles("erin").await.expect("roles").roles.is_empty(), "{backend:?}");
        assert!(rights.grants("erin").await.expect("grants").grants.is_empty(), "{backend:?}");
    }
}

#[tokio::test]
async fn profiles_hold_a_local_accounts_rights_and_nothing_for_anyone_else() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        let profiles = StoredProfiles::new(stores.rights.clone());
        add_account(&stores, "fay").await;
        add_account(&stores, "FAY2").await;
        rights.set_roles("fay", &names(&["member"])).await.expect("roles");
        rights.add_grant("fay", "room:*", &names(&["subscribe"])).await.expect("grant");
        let profile = profiles.profile("fay").await.expect("profile");
        assert_eq!(profile.roles, ["member"], "{backend:?}");
        assert_eq!(profile.grants.len(), 1);
        assert_eq!(profile.grants[0].pattern.as_str(), "room:*");
        // The claims' subject is the exact username: no case folding.
        for other in ["FAY", "nobody", "https://idp.example#fay", "fay2"] {
            let empty = profiles.profile(other).await.expect("profile");
            assert!(empty.roles.is_empty() && empty.grants.is_empty(), "{backend:?} {other}");
        }
        // A database that cannot answer is not an empty profile.
        database.execute("DROP TABLE account_roles").await;
        assert_eq!(profiles.profile("fay").await, Err(Unavailable), "{backend:?}");
    }
}

#[tokio::test]
async fn grants_added_at_once_never_pass_the_bound() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let rights = rights_of(&stores);
        add_account(&stores, "gus").await;
        for i in 0..MAX_GRANTS - 6 {
            rights
                .add_grant("gus", &format!("room:{i}"), &names(&["subscribe"]))
                .await
                .expect("grant");
        }
        let racers: Vec<_> = (0..20)
            .map(|i| {
                let rights = rights.clone();
                tokio::spawn(async move {
                    rights.add_grant("gus", &format!("race:{i}"), &names(&["publish"])).await
                })
            })
            .collect();
        let mut added = 0;
        for racer in racers {
            match racer.await.expect("task") {
                Ok(_) => added += 1,
                Err(DomainError::TooManyGrants) => {}
                Err(e) => panic!("{backend:?}: {e}"),
            }
        }
        assert_eq!(added, 6, "{backend:?}");
        assert_eq!(rights.grants("gus").await.expect("grants").grants.len(), MAX_GRANTS);
    }
}
