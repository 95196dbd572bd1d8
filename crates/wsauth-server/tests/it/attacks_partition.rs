//! A partial partition: node A alone loses Redis (a TCP forwarder in front
//! of Redis that the test cuts), node B still reaches it. A logout and a
//! logout-all answered 200 on A must reach B all the same: B refuses the
//! tokens (on `/auth/me` and on a new `/ws`) and closes its sockets bound
//! to them with 4003, within a second of the answer plus one poll of the
//! revocation log, and keeps refusing them after A reaches Redis again.
//! Real processes on one PostgreSQL database.

use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::binary::{Running, terminate};
use crate::redis_servers::TestRedis;
use crate::restarts::{self, Client};
use crate::support::*;
use crate::tcp_forwarder::TcpForwarder;

/// Longer than the promise (1 s plus one 250 ms poll) by a margin for a
/// loaded machine; main before the revocation log never got there at all.
const PATIENCE: Duration = Duration::from_secs(5);

fn node(dir: &std::path::Path, database: &TestDatabase, redis_url: &str, prefix: &str) -> Running {
    restarts::start(
        dir,
        &[
            ("WSAUTH_DATABASE_URL", database.url.as_str()),
            ("WSAUTH_REDIS_URL", redis_url),
            ("WSAUTH_REDIS_PREFIX", prefix),
        ],
    )
}

fn redis_address(redis: &TestRedis) -> SocketAddr {
    let rest = redis.url.trim_start_matches("redis://");
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.parse().expect("the test Redis URL names an IP address and port")
}

async fn me(client: &Client, token: &str) -> u16 {
    let r = client.http.get(format!("{}/auth/me", client.url)).bearer_auth(token).send().await;
    r.expect("GET /auth/me").status().as_u16()
}

/// Waits for the socket's close and returns its code and how long it took
/// from `since`.
async fn closed_within(ws: &mut Ws, since: Instant) -> (u16, Duration) {
    let code = tokio::time::timeout(PATIENCE, next_close(ws))
        .await
        .expect("the other node never closed the socket of a revoked token")
        .0;
    (code, since.elapsed())
}

/// B refuses `token` everywhere: `/auth/me` answers 401 and `/ws` 401
/// `token_revoked`.
async fn refused_on(client: &Client, token: &str) {
    assert_eq!(me(client, token).await, 401, "/auth/me with a revoked token");
    assert_eq!(client.handshake(token).await, (401, "token_revoked".to_owned()));
}

// Several threads: starting a node blocks its thread until the node listens,
// and the forwarder it reaches Redis through must keep running meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_a_node_cut_off_from_redis_reaches_every_other_node() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let forwarder = TcpForwarder::start(redis_address(&redis)).await;
    let through = format!("redis://127.0.0.1:{}", forwarder.port());
    let dir = tempfile::tempdir().expect("dir");
    let mut a = node(&dir.path().join("a"), &database, &through, &redis.prefix);
    let mut b = node(&dir.path().join("b"), &database, &redis.url, &redis.prefix);
    let (on_a, on_b) = (Client::new(&a), Client::new(&b));

    let (one_session, _) = on_a.login("ursula").await;
    let (other_session, _) = on_a.login("ursula").await;
    let (everywhere, _) = on_a.login("victor").await;
    let b_ws = |token: &str| format!("{}/ws?token={token}", b.ws_url());
    let (mut one_socket, _) = connect(&b_ws(&one_session), &[]).await.expect("socket on B");
    let (mut other_socket, _) = connect(&b_ws(&other_session), &[]).await.expect("socket on B");
    let (mut everywhere_socket, _) = connect(&b_ws(&everywhere), &[]).await.expect("socket on B");
    for ws in [&mut one_socket, &mut other_socket, &mut everywhere_socket] {
        assert_eq!(next_json(ws).await["type"], "welcome");
    }

    forwarder.cut();
    // A knows it lost Redis: it refuses handshakes (it cannot see what the
    // others revoke)...
    let (status, code) = on_a.handshake(&other_session).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));
    // ...and still answers a logout: the database commits it.
    assert_eq!(on_a.post_bearer("/auth/logout", &one_session).await.status(), 200);
    let answered = Instant::now();
    let (code, took) = closed_within(&mut one_socket, answered).await;
    assert_eq!(code, 4003, "a logout closes the other node's socket with 4003");
    eprintln!("logout on a partitioned node: B closed the socket {took:?} after the answer");
    refused_on(&on_b, &one_session).await;
    // The logout revoked one session only.
    send_json(&mut other_socket, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut other_socket).await["type"], "echo");
    assert_eq!(me(&on_b, &other_session).await, 200);

    assert_eq!(on_a.post_bearer("/auth/logout-all", &everywhere).await.status(), 200);
    let answered = Instant::now();
    let (code, took) = closed_within(&mut everywhere_socket, answered).await;
    assert_eq!(code, 4003, "a logout-all closes the other node's socket with 4003");
    eprintln!("logout-all on a partitioned node: B closed the socket {took:?} after the answer");
    refused_on(&on_b, &everywhere).await;

    forwarder.heal();
    // Once A reaches Redis again it serves again, and neither node ever
    // accepts the revoked tokens.
    let healed = Instant::now();
    loop {
        match on_a.handshake(&other_session).await {
            (101, _) => break,
            (503, _) => assert!(healed.elapsed() < PATIENCE, "A not serving after healing"),
            other => panic!("A refused a valid token after healing: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for client in [&on_a, &on_b] {
        refused_on(client, &one_session).await;
        refused_on(client, &everywhere).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    refused_on(&on_b, &one_session).await;
    refused_on(&on_b, &everywhere).await;
    terminate(&mut a.child);
    terminate(&mut b.child);
}

/// A node that cannot read the revocation log cannot know what the others
/// revoked: once its last read is over a second old it refuses handshakes
/// (503 `unavailable`) and `/auth/me`, and delivers no channel message
/// (a socket's publish gets `unavailable`, a backend's 503), on either
/// database, and it serves again once it can read the log.
#[tokio::test]
async fn a_node_that_cannot_read_the_revocation_log_refuses_within_a_second() {
    const PUBLISH_KEY: &str = "publish-key-that-is-long-enough-0123456789";
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let server = TestServer::start_on(&database, |c| {
            c.channels.rules = vec![
                serde_json::from_value(
                    serde_json::json!({"pattern": "room:*", "actions": ["subscribe", "publish"]}),
                )
                .expect("rule"),
            ];
            c.publish_api_key = Some(PUBLISH_KEY.to_owned());
        })
        .await;
        let (token, _) = server.login("pia").await;
        let (mut subscribed, _) = server.ws_welcome(&token).await;
        let subscribe = serde_json::json!({"type": "subscribe", "channel": "room:1"});
        send_json(&mut subscribed, subscribe).await;
        assert_eq!(next_json(&mut subscribed).await["type"], "subscribed");
        let publish = serde_json::json!({"type": "publish", "channel": "room:1", "data": 1});
        database.execute("ALTER TABLE admin_events RENAME TO admin_events_away").await;
        let cut = Instant::now();
        let refused = loop {
            match server.ws(&format!("/ws?token={token}"), &[]).await {
                Ok(_) => assert!(cut.elapsed() < PATIENCE, "{backend:?}: still serving"),
                Err(refused) => break refused,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        refused.assert(503, "unavailable");
        eprintln!("{backend:?}: refusing {:?} after the log became unreadable", cut.elapsed());
        let me = server.http.get(server.url("/auth/me")).bearer_auth(&token).send().await;
        assert_eq!(me.expect("me").status(), 503, "{backend:?}");
        send_json(&mut subscribed, publish.clone()).await;
        let answer = next_json(&mut subscribed).await;
        assert_eq!(answer["error"], "unavailable", "{backend:?}: {answer}");
        let by_backend = server
            .http
            .post(server.url("/api/publish"))
            .bearer_auth(PUBLISH_KEY)
            .json(&serde_json::json!({"channel": "room:1", "data": 2}))
            .send()
            .await;
        assert_eq!(by_backend.expect("publish").status(), 503, "{backend:?}");

        database.execute("ALTER TABLE admin_events_away RENAME TO admin_events").await;
        let healed = Instant::now();
        while server.ws(&format!("/ws?token={token}"), &[]).await.is_err() {
            assert!(healed.elapsed() < PATIENCE, "{backend:?}: not serving again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        send_json(&mut subscribed, publish).await;
        assert_eq!(next_json(&mut subscribed).await["type"], "published", "{backend:?}");
        let message = next_json(&mut subscribed).await;
        assert_eq!(message["data"], 1, "delivered again once current: {message}");
    }
}
