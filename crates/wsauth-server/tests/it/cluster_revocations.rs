//! Revocations across three nodes on one PostgreSQL database and one Redis
//! prefix: once a logout, logout-all or reuse detection has answered on one
//! node, no node accepts the token (handshake, ticket, first-message auth,
//! refresh), and the sockets bound to it close with 4003 on every node.

use serde_json::json;

use crate::cluster::three_nodes;
use crate::redis_servers::TestRedis;
use crate::support::*;

const ADMIN_KEY: &str = "an-admin-key-that-is-long-enough-0123456789";

async fn cluster() -> (TestDatabase, [TestServer; 3]) {
    let database = TestDatabase::postgres().await;
    let nodes = three_nodes(&database, &TestRedis::shared(), |c| {
        c.refresh_grace = 0;
        c.admin_api_key = Some(ADMIN_KEY.to_owned());
    })
    .await;
    (database, nodes)
}

#[tokio::test]
async fn a_logout_on_one_node_closes_the_socket_on_another() {
    let (_db, [a, b, c]) = cluster().await;
    let (access, _) = a.login("sam").await;
    let (mut socket, _) = b.ws_welcome(&access).await;
    assert_eq!(c.post_bearer("/auth/logout", &access).await.status(), 200);
    assert_eq!(next_close(&mut socket).await.0, 4003);
}

#[tokio::test]
async fn logout_all_on_one_node_closes_the_users_sockets_on_the_others() {
    let (_db, [a, b, c]) = cluster().await;
    let (first, _) = a.login("tess").await;
    let (second, _) = b.login("tess").await;
    let (other, _) = c.login("uma").await;
    let (mut on_b, _) = b.ws_welcome(&first).await;
    let (mut on_c, _) = c.ws_welcome(&second).await;
    let (mut bystander, _) = c.ws_welcome(&other).await;
    assert_eq!(a.post_bearer("/auth/logout-all", &first).await.status(), 200);
    assert_eq!(next_close(&mut on_b).await.0, 4003);
    assert_eq!(next_close(&mut on_c).await.0, 4003);
    // Another user's socket stays open.
    send_json(&mut bystander, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut bystander).await["type"], "echo");
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_on_the_others_at_once() {
    let (_db, [a, b, c]) = cluster().await;
    let (access, _) = a.login("vic").await;
    // A ticket issued before the logout, on another node.
    let ticket = b.ticket(&access).await;
    assert_eq!(a.post_bearer("/auth/logout", &access).await.status(), 200);

    // Right after A's answer, with no wait: the handshake on B.
    rejected(b.ws(&format!("/ws?token={access}"), &[]).await).await.assert_401("token_revoked");
    // HTTP on C.
    assert_eq!(c.post_bearer("/auth/ws-ticket", &access).await.status(), 401);
    // The ticket, redeemed on C.
    rejected(c.ws(&format!("/ws?ticket={ticket}"), &[]).await).await.assert_401("token_revoked");
    // First-message auth on B.
    let (mut deferred, _) = b.ws("/ws/deferred", &[]).await.expect("101");
    send_json(&mut deferred, json!({"type": "auth", "token": access})).await;
    assert_eq!(next_close(&mut deferred).await.0, 4003);
}

#[tokio::test]
async fn reuse_detected_on_one_node_revokes_a_family_rotated_on_another() {
    let (_db, [a, b, c]) = cluster().await;
    let (access0, refresh0) = a.login("wren").await;
    let r = b.post_bearer("/auth/refresh", &refresh0).await;
    assert_eq!(r.status(), 200, "rotation on B");
    let body: serde_json::Value = r.json().await.expect("json");
    let (access1, refresh1) = (str_of(&body, "access_token"), str_of(&body, "refresh_token"));
    let (mut old_on_a, _) = a.ws_welcome(&access0).await;
    let (mut new_on_b, _) = b.ws_welcome(&access1).await;

    // The rotated-away token, replayed on C past the grace window: reuse.
    a.clock.advance_secs(1);
    assert_eq!(c.post_bearer("/auth/refresh", &refresh0).await.status(), 401);
    assert_eq!(next_close(&mut old_on_a).await.0, 4003);
    assert_eq!(next_close(&mut new_on_b).await.0, 4003);
    let r = b.post_bearer("/auth/refresh", &refresh1).await;
    assert_eq!(r.status(), 401, "the family's current token is refused too");
    rejected(a.ws(&format!("/ws?token={access1}"), &[]).await).await.assert_401("token_revoked");
}

#[tokio::test]
async fn disabling_an_account_on_one_node_holds_on_every_node_until_it_is_enabled() {
    let (_db, [a, b, c]) = cluster().await;
    let (access, _) = b.login("xena").await;
    let (mut socket, _) = b.ws_welcome(&access).await;
    let admin = |node: &TestServer, action: &str| {
        let url = node.url(&format!("/admin/users/xena/{action}"));
        node.http.post(url).bearer_auth(ADMIN_KEY).send()
    };
    assert_eq!(admin(&a, "disable").await.expect("disable").status(), 200);
    assert_eq!(next_close(&mut socket).await.0, 4003);
    rejected(c.ws(&format!("/ws?token={access}"), &[]).await).await.assert_401("token_revoked");

    assert_eq!(admin(&c, "enable").await.expect("enable").status(), 200);
    // A new login works everywhere again, once the other nodes have read the
    // change from the database's admin events (polled every 250 ms):
    // lifting a block is not a revocation, and may take that long.
    let (fresh, _) = a.login("xena").await;
    let began = std::time::Instant::now();
    while let Err(refused) = b.ws(&format!("/ws?token={fresh}"), &[]).await {
        refused.assert_401("token_revoked");
        assert!(began.elapsed() < std::time::Duration::from_secs(2), "still blocked on B");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The old token stays revoked.
    rejected(b.ws(&format!("/ws?token={access}"), &[]).await).await.assert_401("token_revoked");
}
