//! The checks on the server's HTTP routes: access required (`/auth/me`,
//! `/auth/logout`), refresh required (`/auth/refresh`), and cookie mode's
//! CSRF double submit on unsafe methods. The library's own tests drive all
//! four checks (required, optional, refresh, fresh) on HTTP and WebSocket.

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn me_requires_an_access_token_and_reports_how_it_travelled() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let r = server.http.get(server.url("/auth/me")).bearer_auth(&access).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["credential"], "header");
    assert_eq!(body["claims"]["fresh"], true);
    let r =
        server.http.get(server.url("/auth/me")).bearer_auth(&refresh).send().await.expect("get");
    assert_eq!(r.status(), 401);
    let r = server.http.get(server.url("/auth/me")).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "missing_token");
}

#[tokio::test]
async fn login_is_seed_compatible_and_refuses_bad_passwords_with_401() {
    let server = TestServer::start().await;
    server.register("alice").await;
    let r = server
        .post("/auth/login", json!({"username": "alice", "password": "wrong password"}))
        .await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"detail": "Bad username or password", "error": "bad_credentials"}));
    let r = server.post("/auth/login", json!({"username": "nobody", "password": PASSWORD})).await;
    assert_eq!(r.status(), 401);
    let r = server.post("/auth/login", json!({"username": "alice", "password": PASSWORD})).await;
    let body: Value = r.json().await.expect("json");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
}

#[tokio::test]
async fn registration_validates_and_never_duplicates() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), 400, "invalid_username"),
        (json!({"username": "a b c", "password": PASSWORD}), 400, "invalid_username"),
        (json!({"username": "carol", "password": "short"}), 400, "weak_password"),
        (json!({"username": "carol"}), 400, "bad_request"),
        (json!(["carol"]), 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let r = server.post("/auth/register", body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(r.json::<Value>().await.expect("json")["error"], code, "{body}");
    }
    server.register("carol").await;
    let r = server
        .post("/auth/register", json!({"username": "carol", "password": "another password"}))
        .await;
    assert_eq!(r.status(), 409);
    // The first password still works: nothing was overwritten.
    server.login("carol").await;
    let r = server
        .http
        .post(server.url("/auth/register"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let r = server
        .http
        .post(server.url("/auth/register"))
        .body("x".repeat(64 * 1024))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn registration_can_be_switched_off() {
    let server = TestServer::start_config(|c| c.registration = false).await;
    let r = server.post("/auth/register", json!({"username": "alice", "password": PASSWORD})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "registration_closed");
}

#[tokio::test]
async fn cookie_mode_csrf_double_submit_on_unsafe_methods() {
    let server = TestServer::start().await;
    let cookies = server.cookie_login("alice").await;
    for name in
        ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"]
    {
        cookie(&cookies, name);
    }
    let header = cookie_header(&cookies);
    // GET needs no CSRF value.
    let r = server
        .http
        .get(server.url("/auth/me"))
        .header("cookie", &header)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["credential"], "cookie");
    // Refresh needs the refresh CSRF value.
    let refresh = |csrf: Option<&str>| {
        let mut b = server.http.post(server.url("/auth/cookie/refresh")).header("cookie", &header);
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        b.send()
    };
    let r = refresh(None).await.expect("post");
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.expect("json")["detail"], "Missing CSRF Token");
    let r = refresh(Some(cookie(&cookies, "csrf_access_token"))).await.expect("post");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.expect("json")["detail"],
        "CSRF double submit tokens do not match"
    );
    let r = refresh(Some(cookie(&cookies, "csrf_refresh_token"))).await.expect("post");
    assert_eq!(r.status(), 200);
    let rotated = set_cookies(&r);
    assert_ne!(cookie(&rotated, "access_token_cookie"), cookie(&cookies, "access_token_cookie"));
    // Logout needs the access CSRF value, clears the cookies, and revokes.
    let new_header = cookie_header(&rotated);
    let r = server
        .http
        .post(server.url("/auth/cookie/logout"))
        .header("cookie", &new_header)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    let r = server
        .http
        .post(server.url("/auth/cookie/logout"))
        .header("cookie", &new_header)
        .header("x-csrf-token", cookie(&rotated, "csrf_access_token"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let cleared = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter(|v| v.to_str().is_ok_and(|s| s.contains("Max-Age=0")))
        .count();
    assert_eq!(cleared, 4);
    let r = server
        .http
        .get(server.url("/auth/me"))
        .header("cookie", &new_header)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "token_revoked");
}

#[tokio::test]
async fn cookie_attributes_are_safe_by_default() {
    let server = TestServer::start().await;
    let _ = server.post("/auth/register", json!({"username": "alice", "password": PASSWORD})).await;
    let r =
        server.post("/auth/cookie/login", json!({"username": "alice", "password": PASSWORD})).await;
    let all: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    for line in &all {
        assert!(line.contains("SameSite=Lax") && line.contains("Path=/"), "{line}");
        let http_only = line.contains("HttpOnly");
        let is_token =
            line.starts_with("access_token_cookie=") || line.starts_with("refresh_token_cookie=");
        assert_eq!(http_only, is_token, "{line}");
    }
    let secure = TestServer::start_config(|c| c.cookie_secure = true).await;
    let _ = secure.post("/auth/register", json!({"username": "alice", "password": PASSWORD})).await;
    let r =
        secure.post("/auth/cookie/login", json!({"username": "alice", "password": PASSWORD})).await;
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|v| v.to_str().is_ok_and(|s| s.contains("Secure")))
    );
}

#[tokio::test]
async fn password_attempts_are_rate_limited_per_address_with_429() {
    let server = TestServer::start_config(|c| {
        c.limits.password_rate = 1.0;
        c.limits.password_burst = 3.0;
    })
    .await;
    let (access, _) = server.login("alice").await; // register + login: two attempts
    let wrong = json!({"username": "alice", "password": "wrong password"});
    let mut limited = None;
    for _ in 0..5 {
        let r = server.post("/auth/login", wrong.clone()).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 401);
    }
    let r = limited.expect("password attempts were never limited");
    let retry: u64 = r.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry >= 1);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "too_many_requests");
    // The cookie login shares the budget; tokens already issued keep working.
    let r =
        server.post("/auth/cookie/login", json!({"username": "alice", "password": PASSWORD})).await;
    assert_eq!(r.status(), 429);
    server.ws_welcome(&access).await;
}
