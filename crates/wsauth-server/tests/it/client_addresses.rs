//! Address-based evasion: forwarding headers from an untrusted peer change
//! nothing; behind a trusted proxy each client gets its own budget, an IPv6
//! client one budget per /64, and first-message sockets a fair share.

use crate::support::*;
use serde_json::json;

/// A wrong-password login sent with `headers`; answers the status.
async fn login_attempt(server: &TestServer, headers: &[(&str, &str)]) -> u16 {
    let body = json!({"username": "alice", "password": "wrong password"});
    let mut request = server.http.post(server.url("/auth/login")).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("post").status().as_u16()
}

/// A `/ws` handshake without a credential sent with `headers`; answers the
/// status (401 once past the handshake limit's check, 429 at it).
async fn handshake(server: &TestServer, headers: &[(&str, &str)]) -> u16 {
    rejected(server.ws("/ws", headers).await).await.status
}

fn xff(value: &str) -> [(&str, &str); 1] {
    [("x-forwarded-for", value)]
}

/// Budgets that do not refill while a test runs: two attempts, then 429.
fn tight(c: &mut wsauth_server::Config) {
    c.limits.password_rate = 0.01;
    c.limits.password_burst = 2.0;
    c.limits.handshake_rate = 0.01;
    c.limits.handshake_burst = 2.0;
}

fn behind_proxy(c: &mut wsauth_server::Config) {
    tight(c);
    c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = TestServer::start_config(tight).await;
    let spoofs = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    assert_eq!(login_attempt(&server, &xff(spoofs[0])).await, 401);
    assert_eq!(login_attempt(&server, &[("forwarded", "for=192.0.2.2")]).await, 401);
    for spoof in &spoofs[2..] {
        assert_eq!(login_attempt(&server, &xff(spoof)).await, 429, "{spoof}");
    }
    assert_eq!(handshake(&server, &xff(spoofs[0])).await, 401);
    assert_eq!(handshake(&server, &xff(spoofs[1])).await, 401);
    assert_eq!(handshake(&server, &xff(spoofs[2])).await, 429);
    assert_eq!(handshake(&server, &[("forwarded", "for=192.0.2.3")]).await, 429);
}

#[tokio::test]
async fn a_trusted_proxy_gives_each_client_its_own_budget() {
    let server = TestServer::start_config(behind_proxy).await;
    for _ in 0..2 {
        assert_eq!(login_attempt(&server, &xff("192.0.2.1")).await, 401);
        assert_eq!(handshake(&server, &xff("192.0.2.1")).await, 401);
    }
    assert_eq!(login_attempt(&server, &xff("192.0.2.1")).await, 429);
    assert_eq!(handshake(&server, &xff("192.0.2.1")).await, 429);
    // What the client wrote left of its real address changes nothing.
    assert_eq!(login_attempt(&server, &xff("203.0.113.50, 192.0.2.1")).await, 429);
    // Another client behind the same proxy has its own budget, in either header.
    assert_eq!(login_attempt(&server, &xff("192.0.2.2")).await, 401);
    assert_eq!(handshake(&server, &[("forwarded", "for=192.0.2.2")]).await, 401);
}

#[tokio::test]
async fn rotating_ipv6_within_a_64_shares_one_budget() {
    let server = TestServer::start_config(behind_proxy).await;
    let rotated = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ee:dd:3"];
    assert_eq!(login_attempt(&server, &xff(rotated[0])).await, 401);
    assert_eq!(login_attempt(&server, &xff(rotated[1])).await, 401);
    assert_eq!(login_attempt(&server, &xff(rotated[2])).await, 429);
    assert_eq!(handshake(&server, &[("forwarded", r#"for="[2001:db8:1:2::7]""#)]).await, 401);
    assert_eq!(handshake(&server, &xff("[2001:db8:1:2::8]:4711")).await, 401);
    assert_eq!(handshake(&server, &xff("2001:db8:1:2::9")).await, 429);
    // The neighbouring /64 is another client.
    assert_eq!(login_attempt(&server, &xff("2001:db8:1:3::1")).await, 401);
}

#[tokio::test]
async fn deferred_sockets_are_shared_fairly_among_addresses() {
    let server = TestServer::start_config(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
        c.limits.max_pending_auth_per_address = 2;
    })
    .await;
    // The proxy's own address (no forwarding header) is one client.
    let _held = [
        server.ws("/ws/deferred", &[]).await.expect("101").0,
        server.ws("/ws/deferred", &[]).await.expect("101").0,
    ];
    rejected(server.ws("/ws/deferred", &[]).await).await.assert(429, "too_many_requests");
    rejected(server.ws("/ws/deferred", &xff("::ffff:127.0.0.1")).await)
        .await
        .assert(429, "too_many_requests");
    // Another client still gets in.
    let (mut other, _) = server.ws("/ws/deferred", &xff("192.0.2.7")).await.expect("101");
    send_json(&mut other, json!({"type": "auth", "token": server.forge(|_| {})})).await;
    assert_eq!(next_json(&mut other).await["type"], "welcome");
}

#[test]
fn trusted_proxies_are_cidrs_from_the_file_or_the_flags() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("wsauth.toml");
    std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\"]\n").expect("write");
    let c = wsauth_server::Config::load(Some(&file), &Default::default()).expect("load");
    assert_eq!(c.trusted_proxies.len(), 2);
    let flags = wsauth_server::Overrides {
        trusted_proxies: vec!["192.0.2.0/24".parse().expect("cidr")],
        ..Default::default()
    };
    let c = wsauth_server::Config::load(Some(&file), &flags).expect("load");
    assert_eq!(c.trusted_proxies, flags.trusted_proxies);
    std::fs::write(&file, "trusted_proxies = [\"10.0.0.1\"]\n").expect("write");
    assert!(
        wsauth_server::Config::load(Some(&file), &Default::default()).is_err(),
        "a bare address is not a CIDR"
    );
}
