//! The store traits on both databases, one test body each: what must hold
//! whichever backend is configured (case-insensitive usernames under a race,
//! an admin change as one transaction, revocations across a restart, a
//! login's family refused once an operator changed its account).
//! Rotation, exact retries, reuse and the logout-all race run on both
//! through the server in `attacks_refresh.rs`.

use std::sync::Arc;
use wsauth::{Claims, ManualClock, RevocationStore, SharedClock};
use wsauth_domain::admin::{Admin, Change};
use wsauth_domain::mirror::StoredRevocations;
use wsauth_domain::store::{
    Bucket, FamilyInsertion, Generation, Insertion, NewAccount, NewFamily, RevokedToken, Stores,
};

use crate::support::*;

async fn add_account(stores: &Stores, username: &str) -> Insertion {
    let account = NewAccount { username, password_hash: "not-a-real-hash", created_at: 0 };
    stores.accounts.insert(account).await.expect("insert account")
}

/// The generation of `username`'s account, created if need be.
async fn generation_of(stores: &Stores, username: &str) -> Generation {
    add_account(stores, username).await;
    let found = stores.accounts.find_exact(username).await.expect("find");
    found.expect("the account").generation
}

async fn add_family(stores: &Stores, id: &str, sub: &str) {
    let generation = generation_of(stores, sub).await;
    assert_eq!(insert_family(stores, id, sub, generation).await, FamilyInsertion::Inserted);
}

async fn insert_family(
    stores: &Stores,
    id: &str,
    sub: &str,
    generation: Generation,
) -> FamilyInsertion {
    let family = NewFamily {
        id: id.to_owned(),
        sub: sub.to_owned(),
        generation,
        created_at: 1000,
        expires_at: 5000,
        current_refresh: format!("{id}-refresh"),
        bucket: Bucket { tokens: 10.0, at_ms: 1_000_000 },
    };
    stores.families.insert(family).await.expect("insert family")
}

/// Access-token claims issued at 1000, expiring at 5000.
fn claims(sub: &str, jti: &str, sid: Option<&str>) -> Claims {
    Claims { sid: sid.map(Into::into), ..wsauth_testkit::claims(sub, jti, 1000, 5000) }
}

#[tokio::test]
async fn two_registrations_differing_only_by_case_race_and_exactly_one_wins() {
    for database in TestDatabase::both().await {
        let stores = database.open().await;
        for round in 0..20 {
            let lower = format!("carol{round}");
            let upper = lower.to_uppercase();
            let racer = |name: String| {
                let stores = stores.clone();
                tokio::spawn(async move { add_account(&stores, &name).await })
            };
            let (a, b) = (racer(lower.clone()), racer(upper.clone()));
            let outcomes = [a.await.expect("task"), b.await.expect("task")];
            let winners = outcomes.iter().filter(|o| **o == Insertion::Inserted).count();
            assert_eq!(winners, 1, "{:?} round {round}: {outcomes:?}", database.backend);
            let found = stores.accounts.find_folded(&lower).await.expect("find");
            assert_eq!(found.len(), 1, "{:?}: one account for {lower}", database.backend);
        }
        assert!(stores.accounts.case_duplicates().await.expect("duplicates").is_empty());
    }
}

#[tokio::test]
async fn an_admin_change_is_one_transaction() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let admin = Admin::new(stores.accounts.clone(), stores.admin.clone());
        for name in ["dora", "erin"] {
            add_account(&stores, name).await;
            add_family(&stores, &format!("family-{name}"), name).await;
        }
        // Whole: the family revoked, the mark set, the event recorded.
        let done = admin.apply("ERIN", Change::Disable, 1000).await.expect("disable erin");
        assert_eq!(done.sub, "erin");
        assert_eq!(done.families.len(), 1, "{backend:?}");
        let events = stores.admin.events_after(0, 10).await.expect("events");
        assert_eq!(events.len(), 1, "{backend:?}");
        assert_eq!((events[0].sub.as_str(), events[0].kind.as_str()), ("erin", "disable"));
        assert!(admin.get("erin").await.expect("erin").disabled);
        // Nothing: the event cannot be written, so the account edit and the
        // revocation are rolled back with it.
        database.execute("DROP TABLE admin_events").await;
        assert!(admin.apply("dora", Change::Disable, 1000).await.is_err(), "{backend:?}");
        assert!(!admin.get("dora").await.expect("dora").disabled, "{backend:?}: half applied");
        let stored = stores.revocations.snapshot(0).await.expect("snapshot");
        let families: Vec<_> = stored.families.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(families, ["family-erin"], "{backend:?}: dora's family was revoked");
        let marked: Vec<_> = stored.subjects.iter().map(|m| m.sub.as_str()).collect();
        assert_eq!(marked, ["erin"], "{backend:?}: dora was marked");
        assert_eq!(stored.disabled, ["erin"], "{backend:?}");
    }
}

#[tokio::test]
async fn revocations_survive_reopening_the_store() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let clock: SharedClock = Arc::new(ManualClock::new(1000));
        {
            let stores = database.open().await;
            let revocations = StoredRevocations::load(stores.revocations.clone(), clock.clone())
                .await
                .expect("load");
            add_family(&stores, "logged-out", "frank").await;
            add_family(&stores, "everywhere", "hank").await;
            add_family(&stores, "kept", "ivan").await;
            stores.families.revoke("logged-out").await.expect("logout");
            stores.families.revoke_subject("hank", 1001).await.expect("logout-all");
            let foreign = RevokedToken { jti: "foreign".into(), exp: 5000 };
            revocations.revoke_many(&[foreign]).await.expect("revoke a jti");
            revocations.revoke_subject_before("gina", 1001).await.expect("mark");
        }
        let stores = database.open().await;
        let revocations =
            StoredRevocations::load(stores.revocations.clone(), clock).await.expect("reload");
        let revoked = [
            claims("frank", "a", Some("logged-out")),
            claims("hank", "b", Some("everywhere")),
            claims("hank", "c", None),
            claims("zoe", "foreign", None),
            claims("gina", "d", None),
        ];
        for claims in &revoked {
            assert!(revocations.is_revoked(claims).await.expect("check"), "{backend:?} {claims:?}");
        }
        let kept = claims("ivan", "e", Some("kept"));
        assert!(!revocations.is_revoked(&kept).await.expect("check"), "{backend:?}");
    }
}

/// Every revocation is recorded in the event log by the transaction that
/// commits it, so every other process learns it (`watch.rs`); one that
/// cannot be recorded is not committed either.
#[tokio::test]
async fn every_revocation_is_recorded_in_the_event_log_by_its_transaction() {
    use wsauth_domain::store::{Decision, FamilyRow};
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        for (id, sub) in [("f-logout", "kim"), ("f-reuse", "lee"), ("f-all", "max")] {
            add_family(&stores, id, sub).await;
        }
        stores.families.revoke("f-logout").await.expect("logout");
        let reuse: Box<dyn FnOnce(&FamilyRow) -> Decision + Send> = Box::new(|_| Decision::Revoke);
        stores.families.rotate("f-reuse", reuse).await.expect("reuse");
        stores.families.revoke_subject("max", 1001).await.expect("logout-all");
        let token = RevokedToken { jti: "by-id".into(), exp: 5000 };
        stores.revocations.revoke_tokens(&[token]).await.expect("token");
        let mark = wsauth_domain::store::SubjectMark { sub: "ned".into(), before: 1001 };
        stores.revocations.mark_subject(&mark).await.expect("mark");
        let entries = stores.admin.events_after(0, 100).await.expect("entries");
        let seen: Vec<_> =
            entries.iter().map(|e| (e.sub.as_str(), e.kind.as_str(), e.jti.as_deref())).collect();
        assert_eq!(
            seen,
            [
                ("kim", "logout", None),
                ("lee", "reuse", None),
                ("max", "logout_all", None),
                ("", "token", Some("by-id")),
                ("ned", "mark", None),
            ],
            "{backend:?}"
        );
        assert!(entries.windows(2).all(|w| w[0].id < w[1].id), "{backend:?}: ids in order");
        assert!(entries.iter().all(|e| e.origin == stores.admin.origin()), "{backend:?}");
        // Kept for the retention, then purged.
        assert_eq!(stores.admin.purge_events(3600).await.expect("purge"), 0, "{backend:?}");
        database.execute("UPDATE admin_events SET at = at - 7200 WHERE kind = 'logout'").await;
        assert_eq!(stores.admin.purge_events(3600).await.expect("purge"), 1, "{backend:?}");

        // Without the log, a logout commits nothing.
        add_family(&stores, "f-unlogged", "oli").await;
        database.execute("DROP TABLE admin_events").await;
        assert!(stores.families.revoke("f-unlogged").await.is_err(), "{backend:?}");
        let stored = stores.revocations.snapshot(0).await.expect("snapshot");
        assert!(
            stored.families.iter().all(|f| f.id != "f-unlogged"),
            "{backend:?}: a logout committed without its entry"
        );
    }
}

#[tokio::test]
async fn a_login_checked_before_an_operator_change_stores_no_family() {
    use FamilyInsertion::{AccountChanged, AccountDisabled, Inserted};
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let admin = Admin::new(stores.accounts.clone(), stores.admin.clone());
        let changes = [
            ("olga", Change::Password("another-hash".into()), AccountChanged),
            ("pete", Change::Revoke, AccountChanged),
            ("quin", Change::Disable, AccountDisabled),
            ("rosa", Change::Delete, AccountChanged),
        ];
        for (name, change, refused) in changes {
            let read = generation_of(&stores, name).await;
            admin.apply(name, change, 1000).await.expect("change");
            let stored = insert_family(&stores, &format!("{name}-late"), name, read.clone()).await;
            assert_eq!(stored, refused, "{backend:?} {name}");
            if name == "rosa" {
                // Someone else registers the freed name: the deleted
                // account's generation is not the new one's.
                let fresh = generation_of(&stores, name).await;
                assert_ne!(fresh, read, "{backend:?}");
                let stale = insert_family(&stores, "rosa-stale", name, read).await;
                assert_eq!(stale, AccountChanged, "{backend:?}");
                assert_eq!(insert_family(&stores, "rosa-new", name, fresh).await, Inserted);
            }
        }
        let gone = insert_family(&stores, "nobody", "nobody", Generation::fresh()).await;
        assert_eq!(gone, AccountChanged, "{backend:?}: a family for no account");
        let stored = stores.revocations.snapshot(0).await.expect("snapshot");
        let late = stored.families.iter().filter(|f| f.id.ends_with("-late")).count();
        assert_eq!(late, 0, "{backend:?}");
    }
}

/// An operator change still in its transaction holds the account's row
/// (SQLite: the write lock; PostgreSQL: the row lock of its `UPDATE`): a
/// login's insert waits for it, then reads what it committed.
#[tokio::test]
async fn a_login_waits_for_an_operator_change_in_flight_and_then_sees_it() {
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let stores = database.open().await;
        let read = generation_of(&stores, "sven").await;
        let change = "UPDATE users SET generation = 'changed' WHERE username = 'sven'";
        let lock = database.hold_write_lock_with(change).await;
        let login = {
            let stores = stores.clone();
            tokio::spawn(async move { insert_family(&stores, "sven-1", "sven", read).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!login.is_finished(), "{backend:?}: the insert did not wait for the change");
        lock.commit().await;
        let stored = login.await.expect("task");
        assert_eq!(stored, FamilyInsertion::AccountChanged, "{backend:?}");
    }
}
