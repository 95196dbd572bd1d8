//! The Redis backends against a real Redis: the shared one on
//! 127.0.0.1:6379 (`WSAUTH_TEST_REDIS_URL` overrides), each test under a
//! key prefix of its own, and, for the bus's reconnect, a `redis-server`
//! each such test starts on a free port and stops.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::cluster::{Admission, AttemptLimiter, BusState, RevocationBus};
use wsauth::{
    Claims, ClientKey, Clock, LiveConfig, LiveSessions, ManualClock, RevocationEvent,
    RevocationStore, SystemClock, TicketAdmission, TicketStore,
};
use wsauth_redis::{
    MarkScope, Prefix, RedisAttemptLimiter, RedisBus, RedisRevocationStore, RedisTicketStore,
};
use wsauth_testkit::OwnRedis;

fn redis_url() -> String {
    std::env::var("WSAUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn fresh_prefix() -> Prefix {
    Prefix::new(format!("wsauth-test-{}:", uuid::Uuid::new_v4())).expect("prefix")
}

async fn conn() -> redis::aio::ConnectionManager {
    wsauth_redis::connect(&redis_url())
        .await
        .unwrap_or_else(|e| panic!("Redis is needed at {} for these tests: {e}", redis_url()))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
        as i64
}

fn claims(sub: &str, jti: &str, iat: i64, sid: Option<&str>) -> Claims {
    Claims { sid: sid.map(Into::into), ..wsauth_testkit::claims(sub, jti, iat, iat + 600) }
}

/// Concurrent checks share `MGET`s: each still gets its own answer, in
/// whatever order they were batched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_batched_together_each_get_their_own_answer() {
    let prefix = fresh_prefix();
    let store = Arc::new(RedisRevocationStore::new(conn().await, prefix));
    let t = now();
    for i in (0..500).step_by(3) {
        store.revoke_token(&format!("t{i}"), t + 600).await.expect("revoke");
    }
    store.revoke_subject_before("marked", t + 1).await.expect("mark");
    let checks = (0..500).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let sub = if i % 7 == 0 { "marked" } else { "fine" };
            let answer = store.is_revoked(&claims(sub, &format!("t{i}"), t, None)).await;
            (i, answer.expect("check"))
        })
    });
    for check in futures_util::future::join_all(checks).await {
        let (i, revoked) = check.expect("task");
        assert_eq!(revoked, i % 3 == 0 || i % 7 == 0, "check {i}");
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_every_node_and_its_entry_expires_with_it() {
    let prefix = fresh_prefix();
    let node_a = RedisRevocationStore::new(conn().await, prefix.clone());
    let node_b = RedisRevocationStore::new(conn().await, prefix.clone());
    let t = now();
    let victim = claims("alice", "victim", t, None);
    let other = claims("alice", "other", t, None);
    assert!(!node_b.is_revoked(&victim).await.expect("check"));
    node_a.revoke_token("victim", t + 1).await.expect("revoke");
    assert!(node_b.is_revoked(&victim).await.expect("check"));
    assert!(!node_b.is_revoked(&other).await.expect("check"));
    // The entry lives until one second after exp, then Redis drops it.
    let mut c = conn().await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{}jti:victim", prefix.as_str()))
        .query_async(&mut c)
        .await
        .expect("ttl");
    assert!((1..=2).contains(&ttl), "ttl {ttl}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{}jti:victim", prefix.as_str()))
        .query_async(&mut c)
        .await
        .expect("exists");
    assert!(!exists, "the entry outlived its token");
    // A token already expired needs no entry at all.
    node_a.revoke_token("old", t - 10).await.expect("revoke");
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{}jti:old", prefix.as_str()))
        .query_async(&mut c)
        .await
        .expect("exists");
    assert!(!exists);
}

#[tokio::test]
async fn a_mark_only_moves_forward_and_its_scope_decides_what_it_covers() {
    let prefix = fresh_prefix();
    let all = RedisRevocationStore::new(conn().await, prefix.clone());
    let sessionless = RedisRevocationStore::new(conn().await, prefix.clone())
        .with_mark_scope(MarkScope::TokensWithoutSession);
    let t = now();
    all.revoke_subject_before("bob", t).await.expect("mark");
    all.revoke_subject_before("bob", t - 100).await.expect("an older mark");
    let before = claims("bob", "a", t - 1, None);
    let after = claims("bob", "b", t, None);
    assert!(all.is_revoked(&before).await.expect("check"), "a mark moved back");
    assert!(!all.is_revoked(&after).await.expect("check"));
    assert!(!all.is_revoked(&claims("carol", "c", t - 1, None)).await.expect("check"));
    // A token with a session: covered by the mark, unless the scope says
    // sessions are judged alone; then only its session's revocation counts.
    let in_session = claims("bob", "d", t - 1, Some("s1"));
    assert!(all.is_revoked(&in_session).await.expect("check"));
    assert!(!sessionless.is_revoked(&in_session).await.expect("check"));
    sessionless.revoke_session("s1", t + 600).await.expect("revoke session");
    assert!(sessionless.is_revoked(&in_session).await.expect("check"));
    assert!(sessionless.is_revoked(&before).await.expect("check"), "sessionless tokens");
    assert!(!sessionless.is_revoked(&claims("bob", "e", t - 1, Some("s2"))).await.expect("check"));
    forget(&prefix).await;
}

#[tokio::test]
async fn a_blocked_subject_is_refused_whatever_the_token_until_unblocked() {
    let prefix = fresh_prefix();
    let store = RedisRevocationStore::new(conn().await, prefix.clone());
    let later = claims("dave", "x", now() + 1000, Some("s"));
    store.block_subject("dave").await.expect("block");
    assert!(store.is_revoked(&later).await.expect("check"));
    store.unblock_subject("dave").await.expect("unblock");
    assert!(!store.is_revoked(&later).await.expect("check"));
    forget(&prefix).await;
}

#[tokio::test]
async fn a_ticket_raced_on_several_nodes_is_redeemed_exactly_once() {
    let prefix = fresh_prefix();
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(Arc::new(RedisTicketStore::new(conn().await, prefix.clone())));
    }
    for round in 0..10 {
        let digest = [round as u8; 32];
        let expires = SystemClock.now_millis() + 30_000;
        let issued = nodes[0]
            .insert(digest, claims("erin", &format!("t{round}"), now(), None), expires, 16)
            .await
            .expect("insert");
        assert_eq!(issued, TicketAdmission::Stored);
        let races = (0..16).map(|i| {
            let node = Arc::clone(&nodes[i % nodes.len()]);
            tokio::spawn(async move { node.take(&digest).await.expect("take") })
        });
        let mut winners = 0;
        for race in futures_util::future::join_all(races).await {
            if let Some(taken) = race.expect("task") {
                assert_eq!(taken.claims.sub, "erin");
                assert_eq!(taken.expires_at, expires);
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

/// What a ticket stands for comes back whole from either store: the
/// signing key's window (not a claim) and a trusted issuer's namespaced
/// `jti` included.
#[tokio::test]
async fn a_ticket_keeps_its_key_window_and_its_issuers_jti() {
    let redis: Arc<dyn TicketStore> = Arc::new(RedisTicketStore::new(conn().await, fresh_prefix()));
    let memory: Arc<dyn TicketStore> = Arc::new(wsauth::MemoryTicketStore::new());
    for store in [redis, memory] {
        let mut retiring = claims("hugo", "r", now(), None);
        retiring.key_valid_until = Some(now() + 60);
        let mut external = claims("https://idp.example#hugo", "https://idp.example#e", now(), None);
        external.iss = Some("https://idp.example".into());
        for (n, stored) in [retiring, external].into_iter().enumerate() {
            let digest = [n as u8; 32];
            let expires = SystemClock.now_millis() + 30_000;
            store.insert(digest, stored.clone(), expires, 4).await.expect("insert");
            let taken = store.take(&digest).await.expect("take").expect("ticket");
            assert_eq!(taken.claims, stored);
        }
    }
}

#[tokio::test]
async fn the_per_subject_cap_holds_across_nodes_and_expired_tickets_free_their_place() {
    let prefix = fresh_prefix();
    let clock = Arc::new(ManualClock::new(now()));
    let a = Arc::new(RedisTicketStore::new(conn().await, prefix.clone()).with_clock(clock.clone()));
    let b = Arc::new(RedisTicketStore::new(conn().await, prefix.clone()).with_clock(clock.clone()));
    let expires = clock.now_millis() + 60_000;
    let inserts = (0..12u8).map(|i| {
        let node = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        tokio::spawn(async move {
            node.insert([i; 32], claims("frank", &format!("j{i}"), now(), None), expires, 4).await
        })
    });
    let stored = futures_util::future::join_all(inserts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(TicketAdmission::Stored))))
        .count();
    assert_eq!(stored, 4, "the cap of 4 did not hold across two nodes");
    // Another subject has a cap of its own.
    let other = a.insert([99; 32], claims("grace", "g", now(), None), expires, 4).await;
    assert_eq!(other.expect("insert"), TicketAdmission::Stored);
    // Once the clock passes their expiry, the four no longer count.
    clock.advance_secs(61);
    let later = clock.now_millis() + 60_000;
    let again = b.insert([50; 32], claims("frank", "k", now(), None), later, 4).await;
    assert_eq!(again.expect("insert"), TicketAdmission::Stored);
}

#[tokio::test]
async fn an_attempt_budget_is_shared_by_every_node() {
    let prefix = fresh_prefix();
    let nodes: Vec<RedisAttemptLimiter> = futures_util::future::join_all((0..3).map(|_| async {
        RedisAttemptLimiter::new(conn().await, prefix.clone(), "password", 0.1, 5.0)
    }))
    .await;
    let attacker = ClientKey::from(std::net::IpAddr::from([127, 0, 0, 9]));
    let other = ClientKey::from(std::net::IpAddr::from([127, 0, 0, 10]));
    let mut admitted = 0;
    let mut refused = Vec::new();
    for i in 0..15 {
        match nodes[i % 3].admit(&attacker).await.expect("admit") {
            Admission::Admitted => admitted += 1,
            Admission::RetryAfter(secs) => refused.push(secs),
            _ => unreachable!(),
        }
    }
    assert_eq!(admitted, 5, "three nodes gave more than one budget");
    assert!(refused.iter().all(|s| (1..=10).contains(s)), "{refused:?}");
    assert_eq!(nodes[1].admit(&other).await.expect("admit"), Admission::Admitted);
    let off = RedisAttemptLimiter::new(conn().await, prefix.clone(), "password", 0.0, 0.0);
    assert_eq!(off.admit(&attacker).await.expect("admit"), Admission::Admitted);
    // The bucket goes once it would have refilled.
    let mut c = conn().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}attempts:password:127.0.0.9", prefix.as_str()))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 0 && ttl <= 51_000, "ttl {ttl}");
    forget(&prefix).await;
}

fn registry() -> LiveSessions {
    LiveSessions::new(Arc::new(SystemClock), 0, LiveConfig::default())
}

#[tokio::test]
async fn a_revocation_published_on_one_node_ends_the_sockets_of_the_others() {
    let prefix = fresh_prefix();
    let shutdown = CancellationToken::new();
    let (live_a, live_b, live_c) = (registry(), registry(), registry());
    let a = RedisBus::start(&redis_url(), &prefix, live_a.clone(), shutdown.clone()).await;
    let b = RedisBus::start(&redis_url(), &prefix, live_b.clone(), shutdown.clone()).await;
    let c = RedisBus::start(&redis_url(), &prefix, live_c.clone(), shutdown.clone()).await;
    let (a, b, c) = (a.expect("bus"), b.expect("bus"), c.expect("bus"));
    for bus in [&a, &b, &c] {
        assert!(bus.wait_current(Duration::from_secs(5)).await, "not subscribed");
    }
    let t = now();
    let on_b = live_b.register(&claims("heidi", "h1", t, Some("s1"))).expect("register");
    let on_c = live_c.register(&claims("heidi", "h2", t, Some("s2"))).expect("register");
    let bystander = live_c.register(&claims("ivan", "i1", t, None)).expect("register");
    a.publish(&RevocationEvent::everything_of("heidi")).await.expect("publish");
    eventually(|| on_b.is_ended() && on_c.is_ended()).await;
    assert!(!bystander.is_ended(), "another subject's socket was ended");
    // Another deployment's prefix does not hear it.
    let other_live = registry();
    let other =
        RedisBus::start(&redis_url(), &fresh_prefix(), other_live.clone(), shutdown.clone())
            .await
            .expect("bus");
    assert!(other.wait_current(Duration::from_secs(5)).await);
    let elsewhere = other_live.register(&claims("ivan", "i2", t, None)).expect("register");
    b.publish(&RevocationEvent::Tokens(vec!["i1".into(), "i2".into()])).await.expect("publish");
    eventually(|| bystander.is_ended()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!elsewhere.is_ended(), "an event crossed deployments");
    shutdown.cancel();
}

#[tokio::test]
async fn the_bus_reports_behind_while_redis_is_down_and_subscribes_again_when_it_returns() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let prefix = fresh_prefix();
    let shutdown = CancellationToken::new();
    let (live_a, live_b) = (registry(), registry());
    let a = RedisBus::start(&url, &prefix, live_a, shutdown.clone()).await.expect("bus");
    let b = RedisBus::start(&url, &prefix, live_b.clone(), shutdown.clone()).await.expect("bus");
    assert!(a.wait_current(Duration::from_secs(5)).await);
    assert!(b.wait_current(Duration::from_secs(5)).await);

    redis.stop();
    eventually(|| b.state() == BusState::Behind).await;
    assert!(a.publish(&RevocationEvent::everything_of("judy")).await.is_err());

    redis.restart();
    assert!(b.wait_current(Duration::from_secs(5)).await, "not subscribed again within 5 s");
    assert!(a.wait_current(Duration::from_secs(5)).await);
    let socket = live_b.register(&claims("judy", "j1", now(), None)).expect("register");
    // The connection manager reconnects on its own; the first command after
    // the restart may still meet the old connection.
    let mut published = false;
    for _ in 0..50 {
        if a.publish(&RevocationEvent::everything_of("judy")).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "publishing did not resume");
    eventually(|| socket.is_ended()).await;
    shutdown.cancel();
}

/// Deletes every key under `prefix` (marks and blocks do not expire).
async fn forget(prefix: &Prefix) {
    let mut c = conn().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", prefix.as_str()))
        .query_async(&mut c)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut c).await.expect("del");
    }
}

async fn eventually(mut condition: impl FnMut() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 5 s");
}
