//! Tokens from trusted external issuers: a provider on loopback serves its
//! discovery document and JWKS; PyJWT 2 generates the keys (RS256, ES256,
//! EdDSA) and mints the tokens.

use serde_json::{Value, json};

use crate::jwks_provider::{Provider, claims, mint};
use crate::support::*;

const ADMIN_KEY: &str = "admin-key-that-is-long-enough-0123456789";

async fn server_trusting(providers: &[&Provider]) -> TestServer {
    let tables: Vec<_> = providers.iter().map(|p| p.config()).collect();
    TestServer::start_config(|c| {
        c.trusted_issuers = tables;
        c.admin_api_key = Some(ADMIN_KEY.to_owned());
    })
    .await
}

fn no_headers() -> Value {
    json!({})
}

#[tokio::test]
async fn external_tokens_of_each_algorithm_open_routes_and_sockets() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let keys = [("rsa", "RS256", "rsa-1"), ("ec", "ES256", "ec-1"), ("ed", "EdDSA", "ed-1")];
    let tokens: Vec<_> = keys
        .iter()
        .map(|(name, ..)| (*name, claims(&idp.issuer, "alice", now), no_headers()))
        .collect();
    let minted = mint(&keys, &tokens);
    idp.serve(&[minted.jwk("rsa"), minted.jwk("ec"), minted.jwk("ed")]);
    for token in &minted.tokens {
        let me = server.http.get(server.url("/auth/me")).bearer_auth(token).send().await.unwrap();
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["sub"], format!("{}#alice", idp.issuer));
        let (_ws, welcome) = server.ws_welcome(token).await;
        assert_eq!(welcome["issuer"], idp.issuer);
        assert_eq!(welcome["subject"], "alice");
        assert_eq!(welcome["sub"], format!("{}#alice", idp.issuer));
        // A one-time ticket bought with it opens a socket for the same subject.
        let ticket = server.ticket(token).await;
        let (mut ws, _) = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("ticket");
        let welcome = next_json(&mut ws).await;
        assert_eq!(
            (welcome["subject"].as_str(), welcome["credential"].as_str()),
            (Some("alice"), Some("ticket"))
        );
    }
    assert_eq!(idp.jwks_count(), 1, "one fetch serves every key");
    assert_eq!(idp.discovery_requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A local token still works beside them, and shows no external issuer.
    let (local, _) = server.login("alice").await;
    let (_ws, welcome) = server.ws_welcome(&local).await;
    assert_eq!((welcome["sub"].as_str(), welcome["issuer"].is_null()), (Some("alice"), true));
}

#[tokio::test]
async fn wrong_issuer_audience_foreign_kid_and_expiry_are_refused() {
    let (idp, other) = (Provider::start().await, Provider::start().await);
    let server = server_trusting(&[&idp, &other]).await;
    let now = server.now();
    let mut wrong_aud = claims(&idp.issuer, "alice", now);
    wrong_aud["aud"] = json!("someone-else");
    let mut expired = claims(&idp.issuer, "alice", now - 7200);
    expired["exp"] = json!(now - 10);
    let minted = mint(
        &[("a", "RS256", "a-1"), ("b", "ES256", "b-1")],
        &[
            ("a", claims("https://untrusted.example", "alice", now), no_headers()),
            ("a", wrong_aud, no_headers()),
            // Signed by the other issuer's key, claiming to be from `idp`.
            ("b", claims(&idp.issuer, "alice", now), no_headers()),
            ("a", expired, no_headers()),
            ("b", claims(&other.issuer, "bob", now), no_headers()),
        ],
    );
    idp.serve(&[minted.jwk("a")]);
    other.serve(&[minted.jwk("b")]);
    let t = &minted.tokens;
    for (token, code) in [
        (&t[0], "invalid_token"),
        (&t[1], "invalid_token"),
        (&t[2], "invalid_token"),
        (&t[3], "token_expired"),
    ] {
        rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await.assert_401(code);
        let me = server.http.get(server.url("/auth/me")).bearer_auth(token).send().await.unwrap();
        assert_eq!(me.status(), 401);
    }
    // The other issuer's own token passes: its key verifies its own tokens only.
    let (_ws, welcome) = server.ws_welcome(&t[4]).await;
    assert_eq!(welcome["subject"], "bob");
}

#[tokio::test]
async fn rotation_keeps_the_old_kid_until_it_leaves_the_jwks() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted = mint(
        &[("old", "RS256", "old"), ("new", "EdDSA", "new")],
        &[
            ("old", claims(&idp.issuer, "alice", now), no_headers()),
            ("new", claims(&idp.issuer, "alice", now), no_headers()),
        ],
    );
    let (old, new) = (&minted.tokens[0], &minted.tokens[1]);
    idp.serve(&[minted.jwk("old")]);
    drop(server.ws_welcome(old).await);
    // The provider publishes the new key beside the old one.
    idp.serve(&[minted.jwk("old"), minted.jwk("new")]);
    server.clock.advance_secs(10);
    drop(server.ws_welcome(new).await);
    drop(server.ws_welcome(old).await);
    // The old key leaves the JWKS: once the cached set is stale, it is gone.
    idp.serve(&[minted.jwk("new")]);
    server.clock.advance_secs(61);
    drop(server.ws_welcome(new).await);
    rejected(server.ws(&format!("/ws?token={old}"), &[]).await).await.assert_401("invalid_token");
    assert_eq!(idp.jwks_count(), 3);
}

#[tokio::test]
async fn a_random_kid_flood_costs_the_provider_one_fetch_per_interval() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let mut tokens = vec![("k", claims(&idp.issuer, "alice", now), no_headers())];
    for n in 0..200 {
        let kid = format!("random-{n}-{}", uuid::Uuid::new_v4());
        tokens.push(("k", claims(&idp.issuer, "alice", now), json!({ "kid": kid })));
    }
    let minted = mint(&[("k", "ES256", "k-1")], &tokens);
    idp.serve(&[minted.jwk("k")]);
    drop(server.ws_welcome(&minted.tokens[0]).await);
    let floods = minted.tokens[1..].iter().map(|token| {
        let server = &server;
        async move {
            let me = server.http.get(server.url("/auth/me")).bearer_auth(token).send().await;
            me.expect("request").status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(floods).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(idp.jwks_count(), 1, "no fetch within the interval");
    server.clock.advance_secs(10);
    let statuses = futures_util::future::join_all(minted.tokens[1..50].iter().map(|token| {
        let server = &server;
        async move {
            let me = server.http.get(server.url("/auth/me")).bearer_auth(token).send().await;
            me.expect("request").status().as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(idp.jwks_count(), 2, "one fetch per interval");
    // The real key still works throughout.
    drop(server.ws_welcome(&minted.tokens[0]).await);
}

#[tokio::test]
async fn cached_keys_outlive_an_outage_and_no_keys_fail_closed() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted =
        mint(&[("k", "RS256", "k-1")], &[("k", claims(&idp.issuer, "alice", now), no_headers())]);
    let token = &minted.tokens[0];
    idp.serve(&[minted.jwk("k")]);
    drop(server.ws_welcome(token).await);
    idp.set_up(false);
    // Stale (past the 60 s cache) but within the 300 s grace: still accepted.
    server.clock.advance_secs(120);
    drop(server.ws_welcome(token).await);
    // Past the grace with the provider still down: no usable keys, 503.
    server.clock.advance_secs(300);
    rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await.assert(503, "unavailable");
    let me = server.http.get(server.url("/auth/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), 503);
    // The provider returns: at the next interval, keys are fetched again.
    idp.set_up(true);
    server.clock.advance_secs(10);
    drop(server.ws_welcome(token).await);
}

#[tokio::test]
async fn a_provider_down_from_the_start_is_503_not_401() {
    let idp = Provider::start().await;
    idp.set_up(false);
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted =
        mint(&[("k", "EdDSA", "k-1")], &[("k", claims(&idp.issuer, "alice", now), no_headers())]);
    let token = &minted.tokens[0];
    rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await.assert(503, "unavailable");
}

#[tokio::test]
async fn external_alice_is_not_local_alice() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted =
        mint(&[("k", "RS256", "k-1")], &[("k", claims(&idp.issuer, "alice", now), no_headers())]);
    idp.serve(&[minted.jwk("k")]);
    let external = &minted.tokens[0];
    let (local, _) = server.login("alice").await;
    let (mut local_ws, _) = server.ws_welcome(&local).await;
    let (mut external_ws, _) = server.ws_welcome(external).await;

    // Logging the local alice out everywhere leaves the external alice's socket open.
    let r = server.post_bearer("/auth/logout-all", &local).await;
    assert_eq!(r.status(), 200);
    assert_eq!(next_close(&mut local_ws).await.0, 4003);
    send_json(&mut external_ws, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut external_ws).await["type"], "echo");

    // And the local account's admin page does not count the external
    // socket (the closed local one leaves the registry shortly).
    let (mut local_ws, _) = server.ws_welcome(&server.login("alice").await.0).await;
    let mut counted = Value::Null;
    for _ in 0..100 {
        let detail = server
            .http
            .get(server.url("/admin/users/alice"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        counted = detail.json::<Value>().await.unwrap()["live_sockets"].clone();
        if counted == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(counted, 1);

    // An operator revokes the external subject: its socket closes with 4003,
    // its token is refused, and the local alice stays connected.
    let r = server
        .http
        .post(server.url("/admin/external-subjects/revoke"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"issuer": idp.issuer, "subject": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(next_close(&mut external_ws).await.0, 4003);
    rejected(server.ws(&format!("/ws?token={external}"), &[]).await)
        .await
        .assert_401("token_revoked");
    send_json(&mut local_ws, json!({"type": "echo", "data": 2})).await;
    assert_eq!(next_json(&mut local_ws).await["data"], 2);

    // An issuer that is not trusted is not found.
    let r = server
        .http
        .post(server.url("/admin/external-subjects/revoke"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"issuer": "https://untrusted.example", "subject": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_local_token_cannot_claim_an_external_subject() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let sub = format!("{}#alice", idp.issuer);
    let forged = server.forge(|claims| {
        claims.insert("sub".into(), json!(sub));
    });
    rejected(server.ws(&format!("/ws?token={forged}"), &[]).await)
        .await
        .assert_401("invalid_token");
}

#[tokio::test]
async fn an_external_subject_logs_out_everywhere_with_its_own_token() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted = mint(
        &[("k", "ES256", "k-1")],
        &[
            ("k", claims(&idp.issuer, "bob", now), no_headers()),
            ("k", claims(&idp.issuer, "bob", now), no_headers()),
        ],
    );
    idp.serve(&[minted.jwk("k")]);
    // No jti in these tokens: each gets a digest of its signature instead.
    let (mut ws, welcome) = server.ws_welcome(&minted.tokens[0]).await;
    assert!(welcome["claims"]["jti"].as_str().is_some_and(|j| j.starts_with("sig-")));
    let (local, _) = server.login("bob").await;
    let (mut local_ws, _) = server.ws_welcome(&local).await;
    let r = server.post_bearer("/auth/logout-all", &minted.tokens[1]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
    send_json(&mut local_ws, json!({"type": "echo", "data": 3})).await;
    assert_eq!(next_json(&mut local_ws).await["data"], 3);
}

#[tokio::test]
async fn the_command_line_revokes_an_external_subject() {
    let idp = Provider::start().await;
    let server = server_trusting(&[&idp]).await;
    let now = server.now();
    let minted =
        mint(&[("k", "RS256", "k-1")], &[("k", claims(&idp.issuer, "carol", now), no_headers())]);
    idp.serve(&[minted.jwk("k")]);
    let (mut ws, _) = server.ws_welcome(&minted.tokens[0]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("wsauth.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[trusted_issuers]]\nissuer = {:?}\njwks_url = \"{}/jwks\"\n\
             audiences = [\"wsauth-tests\"]\n",
            server.data_dir.display().to_string(),
            idp.issuer,
            idp.issuer
        ),
    )
    .expect("config");
    let run = |issuer: String| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"))
                .arg("--config")
                .arg(&config)
                .args(["user", "revoke", "--issuer", &issuer, "carol"])
                .env_remove("WSAUTH_HMAC_SECRET")
                .output()
                .expect("run wsauth")
        })
    };
    let out = run("https://untrusted.example".into()).await.expect("join");
    assert!(!out.status.success());
    let out = run(idp.issuer.clone()).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked every token of carol at"));
    // The running server learns of it from the database within a second or so.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), next_close(&mut ws)).await;
    assert_eq!(closed.expect("closed in time").0, 4003);
}

#[tokio::test]
async fn the_per_user_cap_counts_external_and_local_alice_apart() {
    let idp = Provider::start().await;
    let table = idp.config();
    let server = TestServer::start_config(|c| {
        c.trusted_issuers = vec![table];
        c.limits.max_connections_per_user = 1;
    })
    .await;
    let now = server.now();
    let minted =
        mint(&[("k", "EdDSA", "k-1")], &[("k", claims(&idp.issuer, "alice", now), no_headers())]);
    idp.serve(&[minted.jwk("k")]);
    let external = &minted.tokens[0];
    let (local, _) = server.login("alice").await;
    let (_local_ws, _) = server.ws_welcome(&local).await;
    let (_external_ws, _) = server.ws_welcome(external).await;
    rejected(server.ws(&format!("/ws?token={external}"), &[]).await)
        .await
        .assert(429, "too_many_requests");
    rejected(server.ws(&format!("/ws?token={local}"), &[]).await)
        .await
        .assert(429, "too_many_requests");
    assert_eq!(server.auth.live().count_for(&format!("{}#alice", idp.issuer)), 1);
    assert_eq!(server.auth.live().count_for("alice"), 1);
}
