//! Attacks on refresh rotation and "log out everywhere": a stolen refresh
//! token raced against logout-all, two tabs refreshing one cookie, a rotation
//! that fails halfway, sockets whose token claims a later `iat`, unbounded
//! rotation and ticket growth.

use serde_json::{Value, json};
use std::time::Duration;

use crate::support::*;

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server.post_bearer("/auth/refresh", token).await
}

/// The refresh token and access token of a successful refresh.
async fn rotated(r: reqwest::Response) -> Option<(String, String)> {
    if r.status() != 200 {
        return None;
    }
    let body: Value = r.json().await.ok()?;
    Some((str_of(&body, "access_token"), str_of(&body, "refresh_token")))
}

#[tokio::test]
async fn a_stolen_refresh_chain_raced_against_logout_all_never_survives_it() {
    for database in TestDatabase::both().await {
        stolen_chain_raced_against_logout_all(&database).await;
    }
}

async fn stolen_chain_raced_against_logout_all(database: &TestDatabase) {
    // Rotation unlimited, so the attacker rotates as fast as it can.
    let server = TestServer::start_on(database, |c| {
        c.limits.refresh_rate = 0.0;
        c.limits.password_rate = 0.0;
    })
    .await;
    let backend = database.backend;
    for trial in 0..20 {
        let user = format!("victim{trial}");
        let (_, stolen) = server.login(&user).await;
        let (owner, _) = server.login(&user).await;
        let attacker = async {
            let mut latest = (String::new(), stolen.clone());
            for _ in 0..200 {
                match rotated(refresh(&server, &latest.1).await).await {
                    Some(pair) => latest = pair,
                    None => break,
                }
            }
            latest
        };
        let logout = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(server.post_bearer("/auth/logout-all", &owner).await.status(), 200);
        };
        let ((access, refresh_token), ()) = tokio::join!(attacker, logout);
        let r = refresh(&server, &refresh_token).await;
        assert_eq!(
            r.status(),
            401,
            "{backend:?} trial {trial}: the attacker's latest refresh token still works"
        );
        if !access.is_empty() {
            rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
                .await
                .assert_401("token_revoked");
        }
    }
}

#[tokio::test]
async fn two_tabs_refreshing_one_cookie_at_once_stay_logged_in() {
    let server = TestServer::start().await;
    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_refresh_token").to_owned();
    let tab = || {
        server
            .http
            .post(server.url("/auth/cookie/refresh"))
            .header("cookie", cookie_header(&cookies))
            .header("x-csrf-token", &csrf)
            .send()
    };
    let (a, b) = tokio::join!(tab(), tab());
    let (a, b) = (a.expect("send"), b.expect("send"));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let (a, b) = (set_cookies(&a), set_cookies(&b));
    let jti = |c: &[(String, String)]| segment(cookie(c, "refresh_token_cookie"), 1)["jti"].clone();
    assert_eq!(jti(&a), jti(&b), "both tabs got the same new pair");
    // The new pair works; the family was not revoked.
    let access = cookie(&a, "access_token_cookie").to_owned();
    server.ws_welcome(&access).await;
}

#[tokio::test]
async fn an_exact_retry_within_the_grace_window_gets_the_same_pair_and_later_revokes() {
    for database in TestDatabase::both().await {
        exact_retry_then_reuse(&database).await;
    }
}

async fn exact_retry_then_reuse(database: &TestDatabase) {
    let server = TestServer::start_on(database, |_| {}).await;
    let (_, first) = server.login("alice").await;
    let (access, second) = rotated(refresh(&server, &first).await).await.expect("rotated");
    server.clock.advance_secs(9);
    let (again_access, again) = rotated(refresh(&server, &first).await).await.expect("retry");
    assert_eq!(segment(&again, 1), segment(&second, 1), "the same refresh token claims");
    assert_eq!(segment(&again_access, 1), segment(&access, 1), "the same access token claims");
    // Past the window, the same retry is theft: the family goes.
    server.clock.advance_secs(2);
    assert_eq!(refresh(&server, &first).await.status(), 401);
    assert_eq!(refresh(&server, &second).await.status(), 401);
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");
}

#[tokio::test]
async fn a_rotation_that_fails_with_the_database_busy_leaves_the_token_usable() {
    for database in TestDatabase::both().await {
        busy_rotation_then_retry(&database).await;
    }
}

async fn busy_rotation_then_retry(database: &TestDatabase) {
    let server = TestServer::start_on(database, |_| {}).await;
    let (_, token) = server.login("alice").await;
    // Another client holds the lock past the server's busy / lock timeout.
    let lock = database.hold_write_lock().await;
    let r = refresh(&server, &token).await;
    assert_eq!(r.status(), 503, "a busy database is a backend failure");
    lock.release().await;
    // The retry is not mistaken for reuse: it rotates.
    let (access, next) = rotated(refresh(&server, &token).await).await.expect("retry rotates");
    server.ws_welcome(&access).await;
    assert_eq!(refresh(&server, &next).await.status(), 200);
}

#[tokio::test]
async fn logout_all_closes_every_socket_whatever_its_iat_and_a_login_in_the_same_second_works() {
    let server = TestServer::start_config(|c| c.leeway = 5).await;
    let (access, _) = server.login("alice").await;
    let (mut own, _) = server.ws_welcome(&access).await;
    // A token from a service sharing the secret, claiming to be issued later.
    let later = forge_at(server.now() + 3, |_| {});
    let (mut foreign, _) = server.ws_welcome(&later).await;
    let same_second = server.forge(|_| {});
    assert_eq!(server.post_bearer("/auth/logout-all", &access).await.status(), 200);
    assert_eq!(next_close(&mut own).await.0, 4003);
    assert_eq!(next_close(&mut foreign).await.0, 4003);
    // Foreign tokens issued in or before the logout's second are refused...
    rejected(server.ws(&format!("/ws?token={same_second}"), &[]).await)
        .await
        .assert_401("token_revoked");
    // ...while a login right after it, in the same second, works: this
    // server judges its own tokens by its issuance record.
    let (fresh, refresh_token) = server.login("alice").await;
    server.ws_welcome(&fresh).await;
    assert_eq!(refresh(&server, &refresh_token).await.status(), 200);
    // A foreign token issued after that second is not covered.
    server.clock.advance_secs(1);
    server.ws_welcome(&server.forge(|_| {})).await;
}

#[tokio::test]
async fn a_million_rotations_cost_one_row_and_a_logout_stays_constant_work() {
    let server = TestServer::start_config(|c| c.limits.refresh_rate = 0.0).await;
    let (access, mut token) = server.login("alice").await;
    let mut accesses = vec![access];
    for _ in 0..50 {
        let (access, next) = rotated(refresh(&server, &token).await).await.expect("rotated");
        accesses.push(access);
        token = next;
    }
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server.data_dir.join("wsauth.db").display()
    ))
    .await
    .expect("open");
    let rows: (i64,) =
        sqlx::query_as("SELECT count(*) FROM families").fetch_one(&pool).await.expect("count");
    assert_eq!(rows.0, 1, "one row per login, however often it rotated");
    let last = accesses.last().expect("access").clone();
    assert_eq!(server.post_bearer("/auth/logout", &last).await.status(), 200);
    let revoked: (i64,) = sqlx::query_as("SELECT count(*) FROM revoked_tokens")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(revoked.0, 0, "the family is revoked, not each of its tokens");
    for access in [&accesses[0], &accesses[25], &last] {
        rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
            .await
            .assert_401("token_revoked");
    }
}

#[tokio::test]
async fn refreshing_in_a_loop_is_rate_limited_per_family() {
    let server = TestServer::start().await;
    let (_, mut token) = server.login("alice").await;
    let (_, other) = server.login("alice").await;
    for _ in 0..10 {
        token = rotated(refresh(&server, &token).await).await.expect("within the burst").1;
    }
    let r = refresh(&server, &token).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "too_many_requests");
    // Another login of the same user has its own budget; the limited token
    // was not burned and rotates once the bucket refills.
    assert_eq!(refresh(&server, &other).await.status(), 200);
    server.clock.advance_secs(10);
    assert_eq!(refresh(&server, &token).await.status(), 200);
}

#[tokio::test]
async fn issuing_tickets_in_a_loop_is_capped_per_user() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    for _ in 0..16 {
        server.ticket(&access).await;
    }
    let r = server.post_bearer("/auth/ws-ticket", &access).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "too_many_requests");
    // Redeeming one frees a place; so does expiry.
    let (bob, _) = server.login("bobby").await;
    let ticket = server.ticket(&bob).await;
    server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("ticket works");
    server.clock.advance_secs(31);
    server.ticket(&access).await;
}

#[tokio::test]
async fn tokens_minted_with_absurd_lifetimes_are_refused() {
    let server = TestServer::start().await;
    let ten_years = server.forge(|c| {
        c.insert("exp".into(), json!(c["iat"].as_i64().unwrap_or(0) + 10 * 365 * 86400));
    });
    rejected(server.ws(&format!("/ws?token={ten_years}"), &[]).await)
        .await
        .assert_401("invalid_token");
    // fastapi-jwt-auth's default (15 minutes) and a day are fine.
    server.ws_welcome(&server.forge(|_| {})).await;
    let a_day = server.forge(|c| {
        c.insert("exp".into(), json!(c["iat"].as_i64().unwrap_or(0) + 86400));
    });
    server.ws_welcome(&a_day).await;
}
