//! Refresh rotation, reuse detection, logout, logout everywhere, and
//! revocations that survive a restart.

use crate::support::*;
use serde_json::Value;

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server.post_bearer("/auth/refresh", token).await
}

#[tokio::test]
async fn refresh_rotates_and_issues_a_non_fresh_access_token() {
    let server = TestServer::start().await;
    let (_, refresh1) = server.login("alice").await;
    let r = refresh(&server, &refresh1).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let access2 = str_of(&body, "access_token");
    let refresh2 = str_of(&body, "refresh_token");
    assert_ne!(refresh1, refresh2);
    let (_, welcome) = server.ws_welcome(&access2).await;
    assert_eq!(welcome["claims"]["fresh"], false);
    // The rotated token works once more down the chain.
    assert_eq!(refresh(&server, &refresh2).await.status(), 200);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let server = TestServer::start().await;
    let (access1, refresh1) = server.login("alice").await;
    let (other_access, _) = server.login("alice").await; // another login: another family
    let body: Value = refresh(&server, &refresh1).await.json().await.expect("json");
    let access2 = str_of(&body, "access_token");
    let refresh2 = str_of(&body, "refresh_token");

    // Past the grace window for an exact retry, reuse is theft.
    server.clock.advance_secs(11);
    let r = refresh(&server, &refresh1).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "token_revoked");
    for token in [&access1, &access2] {
        rejected(server.ws(&format!("/ws?token={token}"), &[]).await)
            .await
            .assert_401("token_revoked");
    }
    assert_eq!(refresh(&server, &refresh2).await.status(), 401);
    // The other login is untouched.
    server.ws_welcome(&other_access).await;
}

#[tokio::test]
async fn logout_revokes_its_login_only() {
    let server = TestServer::start().await;
    let (access, refresh_token) = server.login("alice").await;
    let (other, _) = server.login("alice").await;
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");
    assert_eq!(refresh(&server, &refresh_token).await.status(), 401);
    server.ws_welcome(&other).await;
    // Logging out twice is refused: the token is already revoked.
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 401);
}

#[tokio::test]
async fn logout_all_revokes_every_token_of_the_user_and_no_one_else() {
    let server = TestServer::start().await;
    let (a1, r1) = server.login("alice").await;
    let (a2, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    assert_eq!(server.post_bearer("/auth/logout-all", &a1).await.status(), 200);
    for token in [&a1, &a2] {
        rejected(server.ws(&format!("/ws?token={token}"), &[]).await)
            .await
            .assert_401("token_revoked");
    }
    assert_eq!(refresh(&server, &r1).await.status(), 401);
    server.ws_welcome(&bob).await;
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let server = TestServer::start().await;
    let (revoked, _) = server.login("alice").await;
    let (kept, kept_refresh) = server.login("alice").await;
    let (everywhere, _) = server.login("carol").await;
    assert_eq!(server.post_bearer("/auth/logout", &revoked).await.status(), 200);
    server.clock.advance_secs(1);
    assert_eq!(server.post_bearer("/auth/logout-all", &everywhere).await.status(), 200);
    let clock = server.clock.clone();
    let data_dir = server.data_dir.clone();
    let dir = server.stop().await;

    let again = TestServer::start_with(config(data_dir), dir, clock).await;
    rejected(again.ws(&format!("/ws?token={revoked}"), &[]).await)
        .await
        .assert_401("token_revoked");
    rejected(again.ws(&format!("/ws?token={everywhere}"), &[]).await)
        .await
        .assert_401("token_revoked");
    again.ws_welcome(&kept).await;
    assert_eq!(refresh(&again, &kept_refresh).await.status(), 200);
}
