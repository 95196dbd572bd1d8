//! Channels across nodes on one database and one Redis: a message
//! published on any node reaches the channel's subscribers on every node,
//! in order per publisher, from sockets and from backends alike; presence
//! is the cluster's, and a dead node's members leave.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

use crate::binary::{exited_within, signal};
use crate::cluster::three_nodes;
use crate::redis_servers::TestRedis;
use crate::support::*;

const PUBLISH_KEY: &str = "publish-key-that-is-long-enough-0123456789";

fn rooms(c: &mut wsauth_server::Config) {
    c.channels.rules = vec![
        serde_json::from_value(
            json!({"pattern": "room:*", "actions": ["subscribe", "publish", "presence"]}),
        )
        .expect("rule"),
    ];
    c.publish_api_key = Some(PUBLISH_KEY.to_owned());
}

async fn subscribed(node: &TestServer, user: &str, channel: &str) -> Ws {
    let (access, _) = node.login(user).await;
    let (mut ws, _) = node.ws_welcome(&access).await;
    send_json(&mut ws, json!({"type": "subscribe", "channel": channel})).await;
    assert_eq!(next_json(&mut ws).await["type"], "subscribed");
    ws
}

async fn presence(ws: &mut Ws, channel: &str) -> Value {
    send_json(ws, json!({"type": "presence", "channel": channel})).await;
    let answer = next_json(ws).await;
    assert_eq!(answer["type"], "presence", "{answer}");
    answer["members"].clone()
}

/// Asks for presence until it is `expected` (changes reach Redis a moment
/// after the `subscribed` frame).
async fn presence_becomes(ws: &mut Ws, channel: &str, expected: Value) {
    let start = Instant::now();
    loop {
        let members = presence(ws, channel).await;
        if members == expected {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "presence stayed {members}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn presence_is_the_clusters_and_joins_and_leaves_reach_every_node() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let nodes = three_nodes(&database, &redis, rooms).await;
    let mut watcher = subscribed(&nodes[0], "watcher", "room:p").await;
    let mut ann_1 = subscribed(&nodes[1], "ann", "room:p").await;
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "join", "channel": "room:p", "sub": "ann"})
    );
    let ann_2 = subscribed(&nodes[2], "ann", "room:p").await;
    presence_becomes(
        &mut watcher,
        "room:p",
        json!([
            {"sub": "ann", "connections": 2}, {"sub": "watcher", "connections": 1}
        ]),
    )
    .await;
    send_json(&mut ann_1, json!({"type": "unsubscribe", "channel": "room:p"})).await;
    assert_eq!(next_json(&mut ann_1).await["type"], "unsubscribed");
    presence_becomes(
        &mut watcher,
        "room:p",
        json!([
            {"sub": "ann", "connections": 1}, {"sub": "watcher", "connections": 1}
        ]),
    )
    .await;
    drop(ann_2);
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "leave", "channel": "room:p", "sub": "ann"}),
        "no leave while ann was still on another node; one once she left the last"
    );
}

/// A node killed with SIGKILL cannot say its members left: the others
/// notice it stopped beating and they leave, within 30 s.
#[tokio::test]
async fn a_dead_nodes_members_leave_within_30_seconds() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("wsauth.toml");
    std::fs::write(
        &config,
        "[[channels.rules]]\npattern = \"room:*\"\nactions = [\"subscribe\", \"presence\"]\n",
    )
    .expect("config");
    let env = [
        ("WSAUTH_DATABASE_URL", database.url.as_str()),
        ("WSAUTH_REDIS_URL", redis.url.as_str()),
        ("WSAUTH_REDIS_PREFIX", redis.prefix.as_str()),
        ("WSAUTH_CONFIG", config.to_str().expect("utf-8")),
    ];
    let mut doomed = crate::restarts::start(&dir.path().join("a"), &env);
    let [watching, ..] = three_nodes(&database, &redis, rooms).await;
    let mut watcher = subscribed(&watching, "watcher", "room:d").await;
    let client = crate::restarts::Client::new(&doomed);
    let (access, _) = client.login("dora").await;
    let url = format!("{}/ws?token={access}", doomed.ws_url());
    let (mut dora, _) = connect(&url, &[]).await.expect("upgrade");
    assert_eq!(next_json(&mut dora).await["type"], "welcome");
    send_json(&mut dora, json!({"type": "subscribe", "channel": "room:d"})).await;
    assert_eq!(next_json(&mut dora).await["type"], "subscribed");
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "join", "channel": "room:d", "sub": "dora"})
    );
    signal(&doomed.child, "KILL");
    assert!(exited_within(&mut doomed.child, Duration::from_secs(10)).await.is_some());
    let killed = Instant::now();
    let leave = loop {
        // Reads up to the echo's answer: a leave, if any, comes before it.
        send_json(&mut watcher, json!({"type": "echo", "data": "tick"})).await;
        let mut left = None;
        loop {
            let frame = next_json(&mut watcher).await;
            match frame["type"].as_str() {
                Some("echo") => break,
                Some("leave") => left = Some(frame),
                _ => panic!("unexpected {frame}"),
            }
        }
        if let Some(leave) = left {
            break leave;
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "dora is still present");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(leave, json!({"type": "leave", "channel": "room:d", "sub": "dora"}));
    eprintln!("dora left {:?} after her node was killed", killed.elapsed());
    assert_eq!(
        presence(&mut watcher, "room:d").await,
        json!([{"sub": "watcher", "connections": 1}])
    );
}

#[tokio::test]
async fn a_publish_on_any_node_reaches_subscribers_on_every_node_in_order() {
    let database = TestDatabase::postgres().await;
    let redis = TestRedis::shared();
    let nodes = three_nodes(&database, &redis, rooms).await;
    let mut listeners = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let (access, _) = node.login(&format!("user{n}")).await;
        let (mut ws, _) = node.ws_welcome(&access).await;
        send_json(&mut ws, json!({"type": "subscribe", "id": "s", "channel": "room:x"})).await;
        assert_eq!(next_json(&mut ws).await["type"], "subscribed");
        listeners.push(ws);
    }
    let (access, _) = nodes[0].login("talker").await;
    let (mut talker, _) = nodes[0].ws_welcome(&access).await;
    for n in 0..20 {
        send_json(&mut talker, json!({"type": "publish", "channel": "room:x", "data": n})).await;
        assert_eq!(next_json(&mut talker).await["type"], "published");
    }
    let r = nodes[2]
        .http
        .post(nodes[2].url("/api/publish"))
        .bearer_auth(PUBLISH_KEY)
        .json(&json!({"channel": "room:x", "data": "from a backend"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    for ws in &mut listeners {
        // Joins of the other listeners may come between (they hold presence).
        let mut frames = Vec::new();
        while frames.len() < 21 {
            let frame = next_json(ws).await;
            if frame["type"] == "message" {
                frames.push(frame);
            }
        }
        // Order holds per publisher; the backend's message may come anywhere.
        let from_backend =
            json!({"type": "message", "channel": "room:x", "data": "from a backend", "from": null});
        let at = frames.iter().position(|f| *f == from_backend).expect("the backend's message");
        frames.remove(at);
        let expected: Vec<_> = (0..20)
            .map(|n| json!({"type": "message", "channel": "room:x", "data": n, "from": "talker"}))
            .collect();
        assert_eq!(frames, expected, "each node delivers once, in the publisher's order");
    }
    // Nothing else: each message arrived once on each node.
    for ws in &mut listeners {
        send_json(ws, json!({"type": "echo", "data": "end"})).await;
        loop {
            let frame = next_json(ws).await;
            assert_ne!(frame["type"], "message", "a message twice: {frame}");
            if frame["type"] == "echo" {
                break;
            }
        }
    }
}
