//! A cluster whose Redis goes away and comes back (empty): nodes refuse
//! handshakes meanwhile (503 `unavailable` with `Retry-After`, never 101)
//! and keep their open sockets; a logout and an operator's revocation still
//! succeed (the database holds them), and once Redis is back they close
//! their sockets on the other nodes (4003); nodes serve again within 5 s,
//! without a restart, and every revocation, from before the outage (Redis
//! came back empty) or during it, is still refused on every node.

use serde_json::json;
use std::time::{Duration, Instant};

use crate::cluster::three_nodes;
use crate::redis_servers::{OwnRedis, TestRedis};
use crate::support::*;

#[tokio::test]
async fn without_redis_nodes_refuse_handshakes_keep_sockets_and_recover_within_five_seconds() {
    let mut redis = OwnRedis::start();
    let database = TestDatabase::postgres().await;
    let key = "an-admin-key-that-is-long-enough-0123456789";
    let redis_at = TestRedis::at(redis.url());
    let [a, b, c] = three_nodes(&database, &redis_at, |c| c.admin_api_key = Some(key.into())).await;
    let (kept, _) = a.login("yara").await;
    let (gone, _) = b.login("yara").await;
    let (revoked_meanwhile, _) = c.login("zeno").await;
    let (mut open, _) = a.ws_welcome(&kept).await;
    assert_eq!(b.post_bearer("/auth/logout", &gone).await.status(), 200);

    redis.stop();
    for node in [&a, &b, &c] {
        let refused = rejected(node.ws(&format!("/ws?token={kept}"), &[]).await).await;
        refused.assert(503, "unavailable");
        assert_eq!(
            refused.headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("1"),
            "{refused:?}"
        );
    }
    let ready = a.http.get(a.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503, "not ready without Redis");
    // The open socket is left open.
    send_json(&mut open, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut open).await["type"], "echo");
    // An operator's revocation succeeds: the database holds it.
    let url = b.url("/admin/users/zeno/revoke");
    let r = b.http.post(url).bearer_auth(key).send().await.expect("revoke");
    assert_eq!(r.status(), 200);
    // A logout succeeds too: the database holds it. Its own token is
    // checked against what this node knows, not refused for want of Redis.
    let r = b.post_bearer("/auth/logout", &kept).await;
    assert_eq!(r.status(), 200);

    redis.restart();
    let began = Instant::now();
    // Node A catches up from the database: the logout made on B during the
    // outage closes A's socket.
    assert_eq!(next_close(&mut open).await.0, 4003, "a logout made during the outage");
    let (fresh, _) = b.login("yara").await;
    loop {
        match a.ws(&format!("/ws?token={fresh}"), &[]).await {
            Ok(_) => break,
            Err(refused) => refused.assert(503, "unavailable"),
        }
        assert!(began.elapsed() < Duration::from_secs(5), "not serving 5 s after Redis returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Redis came back empty: what it knew, and the revocations it never
    // heard of, are refused on every node all the same (each caught up from
    // the database).
    for (node, token) in
        [&a, &b, &c].into_iter().flat_map(|n| [(n, &gone), (n, &revoked_meanwhile), (n, &kept)])
    {
        let refused = loop {
            match node.ws(&format!("/ws?token={token}"), &[]).await {
                Err(refused) if refused.status == 503 => {}
                Err(refused) => break refused,
                Ok(_) => panic!("a revoked token was accepted after the outage"),
            }
            assert!(began.elapsed() < Duration::from_secs(5), "not serving again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        refused.assert_401("token_revoked");
    }
    // Revocations reach other nodes' sockets through Redis again.
    let (mut again, _) = a.ws_welcome(&fresh).await;
    loop {
        let status = c.post_bearer("/auth/logout", &fresh).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(began.elapsed() < Duration::from_secs(5), "node C not serving again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(next_close(&mut again).await.0, 4003);
}

/// An in-band refresh on a node whose Redis has stopped: the new token's
/// revocation cannot be checked, so the refresh is refused as unavailable
/// (an error frame, the socket kept on its old token) or the socket closes
/// with 1013, try again later; never with 4003, which tells a client its
/// token is revoked and to stop for good.
#[tokio::test]
async fn an_in_band_refresh_without_redis_is_unavailable_never_revoked() {
    let mut redis = OwnRedis::start();
    let database = TestDatabase::postgres().await;
    let redis_at = TestRedis::at(redis.url());
    let node = TestServer::start_on(&database, |c| redis_at.join(c)).await;
    let (first, _) = node.login("una").await;
    let (second, _) = node.login("una").await;
    let (mut ws, _) = node.ws_welcome(&first).await;
    redis.stop();
    send_json(&mut ws, json!({"type": "refresh", "token": second})).await;
    let answer =
        tokio::time::timeout(Duration::from_secs(10), futures_util::StreamExt::next(&mut ws))
            .await
            .expect("an answer to the refresh");
    match answer {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
            let frame: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert_eq!(
                (frame["type"].as_str(), frame["error"].as_str()),
                (Some("error"), Some("unavailable")),
                "{frame}"
            );
            // Still open, on its old token.
            send_json(&mut ws, json!({"type": "echo", "data": 1})).await;
            assert_eq!(next_json(&mut ws).await["data"], 1);
        }
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(close)))) => {
            assert_eq!(u16::from(close.code), 1013, "{close:?}");
        }
        other => panic!("unexpected answer to the refresh: {other:?}"),
    }
}
