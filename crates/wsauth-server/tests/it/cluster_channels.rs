//! Channels across three nodes on one database and one Redis: a message
//! published on any node reaches the channel's subscribers on every node,
//! in order per publisher, from sockets and from backends alike.

use serde_json::json;

use crate::cluster::three_nodes;
use crate::redis_servers::TestRedis;
use crate::support::*;

const PUBLISH_KEY: &str = "publish-key-that-is-long-enough-0123456789";

fn rooms(c: &mut wsauth_server::Config) {
    c.channels.rules = vec![
        serde_json::from_value(json!({"pattern": "room:*", "actions": ["subscribe", "publish"]}))
            .expect("rule"),
    ];
    c.publish_api_key = Some(PUBLISH_KEY.to_owned());
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
        let mut frames = Vec::new();
        for _ in 0..21 {
            frames.push(next_json(ws).await);
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
        assert_eq!(next_json(ws).await, json!({"type": "echo", "data": "end"}));
    }
}
