//! Three nodes on one PostgreSQL database and one Redis prefix, each a real
//! `Application` on port 0: accounts, tickets and the password attempt
//! budget are shared; a cluster without a configured key does not start.

use serde_json::json;

use crate::redis_servers::TestRedis;
use crate::support::*;

/// Three nodes of one cluster on one clock (tokens one node issues are
/// never "not yet valid" on another); `edit` applies to each.
pub async fn three_nodes(
    database: &TestDatabase,
    redis: &TestRedis,
    edit: impl Fn(&mut wsauth_server::Config),
) -> [TestServer; 3] {
    let clock = wsauth::ManualClock::starting_now();
    let node = || cluster_node(database, redis, &clock, &edit);
    [node().await, node().await, node().await]
}

/// One node of the cluster on `clock`, its configuration edited by `edit`.
async fn cluster_node(
    database: &TestDatabase,
    redis: &TestRedis,
    clock: &wsauth::ManualClock,
    edit: impl Fn(&mut wsauth_server::Config),
) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path().join("data"));
    cfg.database_url = Some(database.url.clone());
    redis.join(&mut cfg);
    edit(&mut cfg);
    TestServer::start_with(cfg, Some(dir), clock.clone()).await
}

/// A key kept for verification only, until `valid_until`.
fn verifying_only(secret: &str, valid_until: i64) -> wsauth_server::config::PreviousKey {
    wsauth_server::config::PreviousKey {
        hmac_secret: Some(secret.into()),
        private_key_file: None,
        algorithm: None,
        valid_until,
    }
}

/// The rotation of docs/deployment.md, caught halfway: one node has only
/// learned the new key (phase one: it verifies with it), the other already
/// signs with it and keeps the old one for verification (phase two). Each
/// accepts the other's tokens, sockets and refreshes, so a rolling restart
/// refuses no one.
#[tokio::test]
async fn keys_rotate_node_by_node_and_no_token_is_refused_midway() {
    const NEW: &str = "the-next-secret-of-this-cluster-0123456789ab";
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let clock = wsauth::ManualClock::starting_now();
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        + 30 * 86_400;
    let learned = cluster_node(&database, &redis, &clock, |c| {
        c.previous_keys = vec![verifying_only(NEW, until)];
    })
    .await;
    let rotated = cluster_node(&database, &redis, &clock, |c| {
        c.hmac_secret = Some(NEW.into());
        c.previous_keys = vec![verifying_only(SECRET, until)];
    })
    .await;

    let (old_access, old_refresh) = learned.login("olga").await;
    let (new_access, new_refresh) = rotated.login("nils").await;
    assert_ne!(segment(&old_access, 0)["kid"], segment(&new_access, 0)["kid"]);
    for (node, token) in [(&rotated, &old_access), (&learned, &new_access)] {
        node.ws_welcome(token).await;
        assert_eq!(node.post_bearer("/auth/ws-ticket", token).await.status(), 200);
    }
    for (node, refresh) in [(&rotated, &old_refresh), (&learned, &new_refresh)] {
        let r = node.post_bearer("/auth/refresh", refresh).await;
        assert_eq!(r.status(), 200, "a refresh token signed by the other key");
    }
}

#[tokio::test]
async fn a_cluster_without_a_configured_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path().join("data"));
    cfg.hmac_secret = None;
    TestRedis::shared().join(&mut cfg);
    let Err(refused) = wsauth_server::Application::build(cfg).await else {
        panic!("a cluster without a configured key started")
    };
    let message = format!("{refused:#}");
    assert!(message.contains("redis_url"), "{message}");
    assert!(message.contains("hmac_secret") && message.contains("private_key_file"), "{message}");
}

#[tokio::test]
async fn an_account_made_on_one_node_logs_in_on_another_and_redis_is_ready() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let [a, b, _c] = three_nodes(&database, &redis, |_| {}).await;
    a.register("quinn").await;
    let r = b.post("/auth/login", json!({"username": "quinn", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200, "login on node B");

    let ready = b.http.get(b.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let body = ready.text().await.expect("body");
    assert!(body.contains("\"redis\""), "{body}");
    let metrics = b.http.get(b.url("/metrics")).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("body");
    assert!(metrics.contains("wsauth_backend_up{backend=\"redis\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_ticket_issued_on_one_node_opens_exactly_one_socket_when_raced_on_two() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let [a, b, c] = three_nodes(&database, &redis, |_| {}).await;
    let (access, _) = a.login("rosa").await;
    for _ in 0..5 {
        let ticket = a.ticket(&access).await;
        let path = format!("/ws?ticket={ticket}");
        let (on_b, on_c) = tokio::join!(b.ws(&path, &[]), c.ws(&path, &[]));
        let (opened, refused): (Vec<_>, Vec<_>) = [on_b, on_c].into_iter().partition(Result::is_ok);
        assert_eq!(opened.len(), 1, "exactly one redemption wins");
        for result in refused {
            let Err(rejection) = result else { unreachable!("partitioned") };
            rejection.assert_401("invalid_ticket");
        }
    }
}

/// Four login attempts from one address, then a fifth: 401s, then 429.
async fn spend_four_then_refused(nodes: &[&TestServer]) {
    let attempt = json!({"username": "nobody", "password": "wrong password"});
    for i in 0..4 {
        let node = nodes[i % nodes.len()];
        let r = node.post("/auth/login", attempt.clone()).await;
        assert_eq!(r.status(), 401, "attempt {i} is within the burst");
    }
    let r = nodes[4 % nodes.len()].post("/auth/login", attempt).await;
    assert_eq!(r.status(), 429, "the fifth attempt is over the shared budget");
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn password_attempts_spread_over_three_nodes_meet_one_budget() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let small = |c: &mut wsauth_server::Config| {
        c.limits.password_rate = 0.01;
        c.limits.password_burst = 4.0;
    };
    let [a, b, c] = three_nodes(&database, &redis, small).await;
    // No node sees more than two of them; together they spend the budget.
    spend_four_then_refused(&[&a, &b, &c]).await;

    // The same attempts on one node alone (another prefix) meet the same limit.
    let alone = TestServer::start_on(&database, |c| {
        TestRedis::shared().join(c);
        small(c);
    })
    .await;
    spend_four_then_refused(&[&alone]).await;
}

/// A ticket carries its token's key window through Redis: a socket opened
/// with a ticket for a token of a retiring key closes when the key retires,
/// not at the token's `exp`.
#[tokio::test]
async fn a_redis_ticket_of_a_retiring_key_closes_its_socket_when_the_key_retires() {
    const NEW: &str = "the-next-secret-of-this-cluster-0123456789ab";
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let clock = wsauth::ManualClock::starting_now();
    let old = cluster_node(&database, &redis, &clock, |_| {}).await;
    let until = old.now() + 600;
    let rotated = cluster_node(&database, &redis, &clock, |c| {
        c.hmac_secret = Some(NEW.into());
        c.previous_keys = vec![verifying_only(SECRET, until)];
    })
    .await;
    let (access, _) = old.login("tess").await;
    assert!(segment(&access, 1)["exp"].as_i64().is_some_and(|exp| exp > until + 1));
    let (_direct, welcome) = rotated.ws_welcome(&access).await;
    assert_eq!(welcome["deadline"], until + 1, "a direct socket ends with its key");
    let ticket = rotated.ticket(&access).await;
    let (mut ws, _) = rotated.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("ticket");
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["credential"], "ticket");
    assert_eq!(welcome["deadline"], until + 1, "a ticket's socket ends with its key too");
    clock.set_secs(until + 1);
    assert_eq!(next_close(&mut ws).await.0, 4001);
}
