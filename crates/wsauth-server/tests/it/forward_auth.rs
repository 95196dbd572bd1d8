//! Forward auth (`GET` / `HEAD /auth/verify`): the original request a
//! trusted proxy names is judged as `/ws` would judge it, every transport
//! through the forwarded URI and headers; every refusal is 401 or 403 with
//! `X-Wsauth-Error`; forwarding headers from anyone else are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use crate::redis_servers::{OwnRedis, TestRedis};
use crate::support::*;

/// The proxy: wsauth trusts 127.0.0.1, where the tests' requests come from.
fn behind_proxy(c: &mut wsauth_server::Config) {
    c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
}

/// What `/auth/verify` answered.
#[derive(Debug)]
struct Verdict {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Verdict {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn assert_granted(&self, sub: &str, credential: &str) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.header("x-wsauth-sub"), Some(sub), "{self:?}");
        assert_eq!(self.json()["credential"], credential, "{self:?}");
        assert_eq!(self.header("x-wsauth-error"), None);
        let claims = self.header("x-wsauth-claims").expect("claims header");
        let json = URL_SAFE_NO_PAD.decode(claims).expect("unpadded base64url");
        serde_json::from_slice(&json).expect("claims JSON")
    }

    fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("x-wsauth-error"), Some(code), "{self:?}");
        assert_eq!(self.json()["error"], code, "{self:?}");
        assert!(self.header("x-wsauth-sub").is_none() && self.header("x-wsauth-claims").is_none());
        assert_eq!(self.header("www-authenticate").is_some(), status == 401, "{self:?}");
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Verdict {
    let response = request.send().await.expect("verify");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Verdict { status, headers, body }
}

/// Asks about `GET uri` as nginx does, with the client's `headers`.
async fn verify(server: &TestServer, uri: &str, headers: &[(&str, &str)]) -> Verdict {
    verify_method(server, "GET", uri, headers).await
}

async fn verify_method(
    server: &TestServer,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Verdict {
    let mut request = server
        .http
        .get(server.url("/auth/verify"))
        .header("x-original-uri", uri)
        .header("x-original-method", method);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

#[tokio::test]
async fn every_transport_is_accepted_through_the_forwarded_request() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    let payload = segment(&access, 1);

    let query = verify(&server, &format!("/app/ws?token={access}"), &[]).await;
    assert_eq!(query.assert_granted("alice", "query"), payload, "the verified claims");
    let bearer = format!("Bearer {access}");
    let header = verify(&server, "/app/ws", &[("authorization", &bearer)]).await;
    assert_eq!(header.assert_granted("alice", "header"), payload);
    let offer = format!("wsauth, bearer.{access}");
    let sub = verify(&server, "/app/ws", &[("sec-websocket-protocol", &offer)]).await;
    assert_eq!(sub.assert_granted("alice", "subprotocol"), payload);
    let ticket = server.ticket(&access).await;
    let redeemed = verify(&server, &format!("/app/ws?ticket={ticket}"), &[]).await;
    assert_eq!(redeemed.assert_granted("alice", "ticket"), payload);

    // Traefik's names.
    let request = server
        .http
        .get(server.url("/auth/verify"))
        .header("x-forwarded-uri", format!("/app/ws?token={access}"))
        .header("x-forwarded-method", "GET");
    send(request).await.assert_granted("alice", "query");

    // A token that is not the server's own is still judged on its claims,
    // and its subject travels percent-encoded.
    let foreign = server.forge(|p| {
        p.insert("sub".into(), "zo\u{eb} 100%".into());
    });
    let verdict = verify(&server, &format!("/ws?token={foreign}"), &[]).await;
    let claims = verdict.assert_granted("zo%C3%AB%20100%25", "query");
    assert_eq!(claims["sub"], "zo\u{eb} 100%");
}

#[tokio::test]
async fn a_ticket_is_redeemed_once() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    let uri = format!("/ws?ticket={ticket}");
    verify(&server, &uri, &[]).await.assert_granted("alice", "ticket");
    verify(&server, &uri, &[]).await.assert_refused(401, "invalid_ticket");
    rejected(server.ws(&uri, &[]).await).await.assert_401("invalid_ticket");
}

#[tokio::test]
async fn a_cookie_needs_its_csrf_value_an_origin_and_a_get() {
    let server = TestServer::start_config(behind_proxy).await;
    let cookies = server.cookie_login("carol").await;
    let csrf = cookie(&cookies, "csrf_access_token").to_owned();
    let jar = cookie_header(&cookies);
    let origin = server.origin();
    let browser = [("cookie", jar.as_str()), ("origin", origin.as_str())];
    let with_csrf = format!("/ws?csrf_token={csrf}");

    let claims = verify(&server, &with_csrf, &browser).await.assert_granted("carol", "cookie");
    assert_eq!(claims["csrf"], csrf.as_str());
    verify_method(&server, "HEAD", &with_csrf, &browser).await.assert_granted("carol", "cookie");
    verify(&server, "/ws", &browser).await.assert_refused(403, "csrf_failed");
    verify(&server, "/ws?csrf_token=wrong", &browser).await.assert_refused(403, "csrf_failed");
    let no_origin = [("cookie", jar.as_str())];
    verify(&server, &with_csrf, &no_origin).await.assert_refused(403, "origin_not_allowed");
    // Only a GET is a handshake: a cross-site form POST never passes, even
    // with the CSRF value in its URL.
    for method in ["POST", "PUT", "DELETE"] {
        let refused = verify_method(&server, method, &with_csrf, &browser).await;
        refused.assert_refused(403, "bad_handshake");
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    let uri = format!("/ws?token={access}");
    let refused = verify(&server, &uri, &[("origin", "https://evil.example")]).await;
    refused.assert_refused(403, "origin_not_allowed");
    let allowed = server.origin();
    verify(&server, &uri, &[("origin", &allowed)]).await.assert_granted("alice", "query");
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_refused() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    // Another loopback address: not in `trusted_proxies`.
    let outsider = reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
        .build()
        .expect("client");
    let url = server.url("/auth/verify");
    for (name, value) in [
        ("x-original-uri", format!("/ws?token={access}")),
        ("x-forwarded-uri", format!("/ws?token={access}")),
        ("x-original-method", "GET".to_owned()),
        ("x-forwarded-method", "GET".to_owned()),
    ] {
        let request = outsider.get(&url).header(name, value).bearer_auth(&access);
        send(request).await.assert_refused(403, "untrusted_proxy");
    }
    // Without them the request is judged as it is: its own header and query.
    send(outsider.get(&url).bearer_auth(&access)).await.assert_granted("alice", "header");
    let own_query = outsider.get(format!("{url}?token={access}"));
    send(own_query).await.assert_granted("alice", "query");
    // From the trusted proxy, two names that disagree are refused.
    let request = server
        .http
        .get(&url)
        .header("x-original-uri", format!("/ws?token={access}"))
        .header("x-original-method", "GET")
        .header("x-forwarded-uri", "/ws?token=spoofed");
    send(request).await.assert_refused(403, "bad_forwarded_request");
    let request = server.http.get(&url).header("x-original-uri", format!("/ws?token={access}"));
    send(request).await.assert_refused(403, "bad_forwarded_request");
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    let uri = format!("/ws?token={access}");
    verify(&server, &uri, &[]).await.assert_granted("alice", "query");
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    verify(&server, &uri, &[]).await.assert_refused(401, "token_revoked");
}

#[tokio::test]
async fn every_refusal_is_401_or_403_with_its_code() {
    let server = TestServer::start_config(|c| {
        behind_proxy(c);
        c.limits.handshake_rate = 0.01;
        c.limits.handshake_burst = 12.0;
    })
    .await;
    let (access, _) = server.login("alice").await;
    let (other, refresh) = server.login("bob").await;
    let refusals = [
        (verify(&server, "/ws", &[]).await, 401, "missing_token"),
        (verify(&server, "/ws?token=not.a.jwt", &[]).await, 401, "invalid_token"),
        (verify(&server, &format!("/ws?token={refresh}"), &[]).await, 401, "wrong_token_type"),
        (verify(&server, "/ws?ticket=unknown", &[]).await, 401, "invalid_ticket"),
        (
            verify(&server, &format!("/ws?token={access}&token={other}"), &[]).await,
            401,
            "conflicting_credentials",
        ),
        (
            verify(&server, "/ws", &[("sec-websocket-protocol", &format!("bearer.{access}"))])
                .await,
            403,
            "bad_handshake",
        ),
    ];
    for (verdict, status, code) in &refusals {
        verdict.assert_refused(*status, code);
    }
    server.clock.advance_secs(901);
    verify(&server, &format!("/ws?token={access}"), &[]).await.assert_refused(401, "token_expired");
    // The handshake rate of the client the proxy names (its own budget).
    let client = [("x-forwarded-for", "192.0.2.7")];
    let limited = loop {
        let verdict = verify(&server, "/ws", &client).await;
        if verdict.status != 401 {
            break verdict;
        }
    };
    limited.assert_refused(403, "too_many_requests");
    assert!(limited.header("retry-after").is_some(), "{limited:?}");
    verify(&server, "/ws", &[("x-forwarded-for", "192.0.2.8")])
        .await
        .assert_refused(401, "missing_token");
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let server = TestServer::start_config(behind_proxy).await;
    let (access, _) = server.login("alice").await;
    let request = server
        .http
        .head(server.url("/auth/verify"))
        .header("x-original-uri", format!("/ws?token={access}"))
        .header("x-original-method", "GET");
    let granted = send(request).await;
    assert_eq!(granted.status, 200, "{granted:?}");
    assert_eq!(granted.header("x-wsauth-sub"), Some("alice"));
    assert!(granted.header("x-wsauth-claims").is_some());
    assert!(granted.body.is_empty());
    let request = server
        .http
        .head(server.url("/auth/verify"))
        .header("x-original-uri", "/ws?token=bad")
        .header("x-original-method", "GET");
    let refused = send(request).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("x-wsauth-error"), Some("invalid_token"));
}

#[tokio::test]
async fn a_cluster_node_that_cannot_read_redis_refuses_with_403() {
    let mut redis = OwnRedis::start();
    let database = TestDatabase::postgres().await;
    let cluster = TestRedis::at(redis.url());
    let server = TestServer::start_on(&database, |c| {
        behind_proxy(c);
        cluster.join(c);
    })
    .await;
    let (access, _) = server.login("alice").await;
    let ticket = server.ticket(&access).await;
    let uri = format!("/ws?token={access}");
    // The node serves once it has caught up with the database.
    let began = Instant::now();
    let granted = loop {
        let verdict = verify(&server, &uri, &[]).await;
        if verdict.status == 200 || began.elapsed() > Duration::from_secs(5) {
            break verdict;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    granted.assert_granted("alice", "query");

    redis.stop();
    for uri in [uri, format!("/ws?ticket={ticket}")] {
        let refused = verify(&server, &uri, &[]).await;
        refused.assert_refused(403, "unavailable");
        assert_eq!(refused.header("retry-after"), Some("1"), "{refused:?}");
    }
}
