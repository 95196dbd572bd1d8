//! Attacks on a proxied socket's bounds, over real sockets: keeping a
//! `check = "fresh"` socket alive with tokens that are not fresh, and
//! taking more than an address's share of connections through the proxy.

use crate::proxy::next_message;
use crate::proxy_upstream::{Answer, EchoUpstream};
use crate::support::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::net::IpAddr;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, client_async};
use wsauth_server::proxy::{ProxyCheck, ProxyRoute};

const HANDLE: &str = "fresh-route-handle-0123456789";

async fn proxy_refresh(server: &TestServer, access: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/auth/proxy/refresh"))
        .bearer_auth(access)
        .json(&json!({ "handle": HANDLE }))
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn a_fresh_route_refuses_to_extend_its_socket_with_a_token_that_is_not_fresh() {
    let upstream = EchoUpstream::start(Answer::Accept).await;
    let url = upstream.url("/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![ProxyRoute { check: ProxyCheck::Fresh, ..ProxyRoute::new("/fresh", url) }];
    })
    .await;
    let (access, refresh) = server.login("alice").await;
    let path = format!("/fresh?token={access}&wsauth_handle={HANDLE}");
    let (mut ws, _) = server.ws(&path, &[]).await.expect("101 with a fresh token");
    let old_exp = segment(&access, 1)["exp"].as_i64().expect("exp");

    server.clock.advance_secs(60);
    let pair: Value =
        server.post_bearer("/auth/refresh", &refresh).await.json().await.expect("json");
    let stale = str_of(&pair, "access_token");
    let refused = proxy_refresh(&server, &stale).await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "fresh_token_required", "what the route's handshake answers");

    // A fresh token (a password login) extends it.
    let (fresh, _) = server.login("alice").await;
    assert_eq!(proxy_refresh(&server, &fresh).await.status(), 200);
    server.clock.set_secs(old_exp + 1);
    ws.send(Message::text("still here")).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::text("still here"));
}

#[tokio::test]
async fn a_fresh_route_keeps_its_old_deadline_after_a_refused_refresh() {
    let upstream = EchoUpstream::start(Answer::Accept).await;
    let url = upstream.url("/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![ProxyRoute { check: ProxyCheck::Fresh, ..ProxyRoute::new("/fresh", url) }];
    })
    .await;
    let (access, refresh) = server.login("alice").await;
    let path = format!("/fresh?token={access}&wsauth_handle={HANDLE}");
    let (mut ws, _) = server.ws(&path, &[]).await.expect("101");
    let old_exp = segment(&access, 1)["exp"].as_i64().expect("exp");
    server.clock.advance_secs(60);
    let pair: Value =
        server.post_bearer("/auth/refresh", &refresh).await.json().await.expect("json");
    assert_eq!(proxy_refresh(&server, &str_of(&pair, "access_token")).await.status(), 401);
    server.clock.set_secs(old_exp);
    assert_eq!(next_close(&mut ws).await, (4001, "token expired".to_owned()));
}

/// A proxied handshake on `path` from `source`: the socket once upgraded,
/// otherwise the refusal.
async fn proxied_from(source: IpAddr, server: &TestServer, path: &str) -> Result<Ws, (u16, Value)> {
    let stream = tcp_from(source, server.addr).await;
    match client_async(server.ws_url(path), MaybeTlsStream::Plain(stream)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().and_then(|b| serde_json::from_slice(b).ok());
            Err((response.status().as_u16(), body.unwrap_or(Value::Null)))
        }
        Err(e) => panic!("handshake from {source} failed: {e}"),
    }
}

#[tokio::test]
async fn a_proxied_connection_counts_both_its_sockets_against_its_address() {
    let upstream = EchoUpstream::start(Answer::Accept).await;
    let url = upstream.url("/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![ProxyRoute::new("/chat", url)];
        c.limits.max_connections_per_address = 3;
    })
    .await;
    let token = server.forge(|_| {});
    let path = format!("/chat?token={token}");
    let attacker: IpAddr = [127, 0, 0, 7].into();
    // The client's connection and the upstream socket: two of three places.
    let _first = proxied_from(attacker, &server, &path).await.expect("101");
    // The second connection is admitted (its third place); its upstream
    // socket would be a fourth.
    let Err((status, body)) = proxied_from(attacker, &server, &path).await else {
        panic!("a fourth place for the address was granted");
    };
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_requests")), "{body}");
    assert_eq!(upstream.handshakes().len(), 1, "refused before the upstream is dialled");
    // Another address has its own share.
    let _other = proxied_from([127, 0, 0, 8].into(), &server, &path).await.expect("101");
    assert_eq!(upstream.handshakes().len(), 2);
}
