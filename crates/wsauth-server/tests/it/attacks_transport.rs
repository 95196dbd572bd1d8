//! attack-cases.md section D: how the credential travels at the handshake.

use crate::support::*;
use futures_util::future::join_all;

#[tokio::test]
async fn d31_a_ticket_works_once_and_only_once() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    let (mut ws, _) = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("101");
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["credential"], "ticket");
    assert_eq!(welcome["sub"], "alice");
    rejected(server.ws(&format!("/ws?ticket={ticket}"), &[]).await)
        .await
        .assert_401("invalid_ticket");
}

#[tokio::test]
async fn d31_an_expired_ticket_is_refused() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    server.clock.advance_secs(31);
    rejected(server.ws(&format!("/ws?ticket={ticket}"), &[]).await)
        .await
        .assert_401("invalid_ticket");
}

#[tokio::test]
async fn d31_two_simultaneous_upgrades_with_one_ticket_yield_exactly_one_101() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    for _round in 0..5 {
        let ticket = server.ticket(&access).await;
        let url = format!("/ws?ticket={ticket}");
        let attempts = (0..8).map(|_| server.ws(&url, &[]));
        let results = join_all(attempts).await;
        let upgraded = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(upgraded, 1, "exactly one upgrade per ticket");
        for r in results.into_iter().filter_map(Result::err) {
            r.assert_401("invalid_ticket");
        }
    }
}

#[tokio::test]
async fn d31_a_ticket_from_a_revoked_login_is_refused() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    rejected(server.ws(&format!("/ws?ticket={ticket}"), &[]).await)
        .await
        .assert_401("token_revoked");
}

#[tokio::test]
async fn d32_subprotocol_bearer_selects_wsauth_and_never_echoes_the_token() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let offer = format!("wsauth, bearer.{access}");
    let (mut ws, response) =
        server.ws("/ws", &[("sec-websocket-protocol", &offer)]).await.expect("101");
    let selected: Vec<_> = response.headers().get_all("sec-websocket-protocol").iter().collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0], "wsauth");
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["credential"], "subprotocol");
}

#[tokio::test]
async fn d33_bad_subprotocol_offers_are_refused_without_echo() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let big = format!("wsauth, bearer.{}", "a".repeat(8 * 1024));
    let cases = [
        (format!("bearer.{access}"), 400, "bad_handshake"),
        (format!("wsauth, bearer.{access}, bearer.{access}"), 400, "bad_handshake"),
        ("wsauth, bearer.not-a-jwt".to_owned(), 401, "invalid_token"),
        ("wsauth, bearer.".to_owned(), 401, "invalid_token"),
        (big, 401, "invalid_token"),
    ];
    for (offer, status, code) in cases {
        let r = rejected(server.ws("/ws", &[("sec-websocket-protocol", &offer)]).await).await;
        r.assert(status, code);
        assert!(r.headers.get("sec-websocket-protocol").is_none(), "echoed: {offer}");
    }
}

#[tokio::test]
async fn d34_two_credentials_that_disagree_are_refused() {
    let server = TestServer::start().await;
    let (alice, _) = server.login("alice").await;
    let (bob, _) = server.login("bob").await;
    let auth = format!("Bearer {alice}");
    rejected(server.ws(&format!("/ws?token={bob}"), &[("authorization", &auth)]).await)
        .await
        .assert(400, "conflicting_credentials");
    let offer = format!("wsauth, bearer.{bob}");
    rejected(server.ws(&format!("/ws?token={alice}"), &[("sec-websocket-protocol", &offer)]).await)
        .await
        .assert(400, "conflicting_credentials");
    rejected(server.ws(&format!("/ws?token={alice}&token={bob}"), &[]).await)
        .await
        .assert(400, "conflicting_credentials");
    // The same token in two places is one credential.
    let (mut ws, _) =
        server.ws(&format!("/ws?token={alice}"), &[("authorization", &auth)]).await.expect("101");
    assert_eq!(next_json(&mut ws).await["sub"], "alice");
}

#[tokio::test]
async fn d35_cookie_credential_from_a_foreign_origin_is_403() {
    let server = TestServer::start().await;
    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_access_token").to_owned();
    let header = cookie_header(&cookies);
    let url = format!("/ws?csrf_token={csrf}");
    rejected(server.ws(&url, &[("cookie", &header), ("origin", "https://evil.example")]).await)
        .await
        .assert(403, "origin_not_allowed");
    // No Origin at all with a cookie credential is refused too.
    rejected(server.ws(&url, &[("cookie", &header)]).await).await.assert(403, "origin_not_allowed");
    let origin = server.origin();
    let (mut ws, _) =
        server.ws(&url, &[("cookie", &header), ("origin", &origin)]).await.expect("101");
    assert_eq!(next_json(&mut ws).await["credential"], "cookie");
}

#[tokio::test]
async fn d36_origin_look_alikes_are_refused() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let port = server.addr.port();
    let variants = [
        "null".to_owned(),
        format!("http://127.0.0.1:{port}.evil.com"),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("http://LOCALHOST:{port}"),
        format!("http://localhost.:{port}"),
        format!("http://xn--lcalhost-9za:{port}"),
        format!("http://127.0.0.1:{port}/"),
        "http://127.0.0.1".to_owned(),
    ];
    for origin in &variants {
        rejected(server.ws(&format!("/ws?token={access}"), &[("origin", origin)]).await)
            .await
            .assert(403, "origin_not_allowed");
    }
    let own = server.origin();
    let both = [("origin", own.as_str()), ("origin", "https://evil.example")];
    rejected(server.ws(&format!("/ws?token={access}"), &both).await)
        .await
        .assert(403, "origin_not_allowed");
    let (mut ws, _) = server
        .ws(&format!("/ws?token={access}"), &[("origin", &format!("http://localhost:{port}"))])
        .await
        .expect("101");
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
}

#[tokio::test]
async fn d37_cookie_credential_with_missing_or_wrong_csrf_is_403() {
    let server = TestServer::start().await;
    let cookies = server.cookie_login("alice").await;
    let header = cookie_header(&cookies);
    let origin = server.origin();
    let h = [("cookie", header.as_str()), ("origin", origin.as_str())];
    rejected(server.ws("/ws", &h).await).await.assert(403, "csrf_failed");
    rejected(server.ws("/ws?csrf_token=wrong", &h).await).await.assert(403, "csrf_failed");
    // The refresh token's CSRF value does not open the access cookie.
    let refresh_csrf = cookie(&cookies, "csrf_refresh_token");
    rejected(server.ws(&format!("/ws?csrf_token={refresh_csrf}"), &h).await)
        .await
        .assert(403, "csrf_failed");
}

#[tokio::test]
async fn d38_malformed_handshakes_are_400_never_101() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let url = server.url(&format!("/ws?token={access}"));
    let plain = server.http.get(&url).send().await.expect("get");
    assert_eq!(plain.status(), 400);
    let base = |b: reqwest::RequestBuilder| {
        b.header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    };
    let v8 =
        base(server.http.get(&url)).header("sec-websocket-version", "8").send().await.expect("v8");
    assert_eq!(v8.status(), 400);
    let no_key = server
        .http
        .get(&url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .send()
        .await
        .expect("nokey");
    assert_eq!(no_key.status(), 400);
    let post = base(server.http.post(&url))
        .header("sec-websocket-version", "13")
        .send()
        .await
        .expect("post");
    assert!(post.status() == 400 || post.status() == 405, "{}", post.status());
    let body: serde_json::Value = v8.json().await.unwrap_or_default();
    assert_eq!(body["error"], "bad_handshake");
}
