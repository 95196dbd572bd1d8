//! attack-cases.md section C (keys) and the key-confusion cases of section A.

use crate::attacks_structure::assert_token_rejected;
use crate::support::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn es256_server() -> TestServer {
    TestServer::start_config(|c| {
        c.hmac_secret = None;
        c.algorithm = "ES256".into();
    })
    .await
}

async fn jwks(server: &TestServer) -> Value {
    let r = server.http.get(server.url("/.well-known/jwks.json")).send().await.expect("get");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

#[tokio::test]
async fn a04_hmac_keyed_with_the_public_key_is_rejected() {
    let server = es256_server().await;
    let (access, _) = server.login("alice").await;
    server.ws_welcome(&access).await;
    let keys = jwks(&server).await;
    let jwk = &keys["keys"][0];
    let kid = str_of(jwk, "kid");
    let x = str_of(jwk, "x");
    let y = str_of(jwk, "y");
    let p = payload("alice", server.now(), |_| {});
    let materials: Vec<Vec<u8>> = vec![
        jwk.to_string().into_bytes(),
        format!("{x}{y}").into_bytes(),
        [
            b"\x04".as_slice(),
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &x)
                .unwrap_or_default(),
        ]
        .concat(),
        keys.to_string().into_bytes(),
    ];
    for material in &materials {
        for header in [
            json!({"alg":"HS256","kid":kid}),
            json!({"alg":"HS256"}),
            json!({"alg":"HS256","typ":"JWT","kid":kid}),
        ] {
            let t = sign_raw(&header.to_string(), &p, material);
            assert_token_rejected(&server, &t).await;
        }
    }
}

#[tokio::test]
async fn a06_es256_with_zero_or_malformed_signatures_is_rejected() {
    let server = es256_server().await;
    let kid = str_of(&jwks(&server).await["keys"][0], "kid");
    let header = json!({"alg":"ES256","kid":kid}).to_string();
    let p = payload("alice", server.now(), |_| {});
    let base = format!("{}.{}", b64(header.as_bytes()), b64(p.as_bytes()));
    let der_zero = [0x30u8, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    for sig in [vec![0u8; 64], der_zero.to_vec(), vec![0u8; 63], vec![1u8; 65], vec![]] {
        assert_token_rejected(&server, &format!("{base}.{}", b64(&sig))).await;
    }
}

#[tokio::test]
async fn c25_unknown_kid_is_rejected_and_a_kid_flood_is_harmless() {
    let server = TestServer::start().await;
    let p = payload("alice", server.now(), |_| {});
    for i in 0..200 {
        let header = json!({"alg":"HS256","kid":format!("random-{i}")}).to_string();
        let t = sign_raw(&header, &p, SECRET.as_bytes());
        let r = server.http.get(server.url("/auth/me")).bearer_auth(&t).send().await.expect("get");
        assert_eq!(r.status(), 401);
    }
    let (access, _) = server.login("alice").await;
    server.ws_welcome(&access).await;
}

#[tokio::test]
async fn c26_hostile_kid_values_are_rejected() {
    let server = TestServer::start().await;
    let p = payload("alice", server.now(), |_| {});
    for kid in [
        json!("../../dev/null"),
        json!("' OR '1'='1"),
        json!("k".repeat(5 * 1024)),
        json!(7),
        json!({"a": 1}),
        json!(null),
        json!("$(reboot)"),
    ] {
        let header = json!({"alg":"HS256","kid":kid}).to_string();
        assert_token_rejected(&server, &sign_raw(&header, &p, SECRET.as_bytes())).await;
    }
}

#[tokio::test]
async fn c27_key_url_and_embedded_key_headers_are_never_followed() {
    let server = TestServer::start().await;
    // A listener standing in for the attacker's key server: nothing may connect.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let trap_url = format!("http://{}/jwks.json", trap.local_addr().expect("addr"));
    let p = payload("alice", server.now(), |_| {});
    let attacker = b"attacker-chosen-secret-32-bytes-long!!";
    let headers = [
        json!({"alg":"HS256","jku":trap_url}),
        json!({"alg":"HS256","x5u":trap_url}),
        json!({"alg":"HS256","jwk":{"kty":"oct","k":b64(attacker)}}),
        json!({"alg":"HS256","x5c":["MIIB"]}),
    ];
    for header in headers {
        // Signed with the attacker's key, and also with the real secret: both refused.
        assert_token_rejected(&server, &sign_raw(&header.to_string(), &p, attacker)).await;
        assert_token_rejected(&server, &sign_raw(&header.to_string(), &p, SECRET.as_bytes())).await;
    }
    let accepted = tokio::time::timeout(Duration::from_millis(300), trap.accept()).await;
    assert!(accepted.is_err(), "the server made an outbound request");
}

#[tokio::test]
async fn c29_weak_hmac_secrets_are_refused_outside_insecure_dev_mode() {
    for weak in ["secret", "changeme", "0123456789012345678901234567890"] {
        let dir = tempfile::tempdir().expect("dir");
        let mut cfg = config(dir.path().join("data"));
        cfg.hmac_secret = Some(weak.into());
        let result = wsauth_server::Application::build(cfg.clone()).await;
        let err = result.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("too weak"), "{weak}: {err}");
        cfg.insecure_dev = true;
        assert!(wsauth_server::Application::build(cfg).await.is_ok(), "dev mode allows {weak}");
    }
}

#[tokio::test]
async fn issued_tokens_carry_a_kid_and_the_jwks_lists_public_keys_only() {
    let server = es256_server().await;
    let (access, _) = server.login("alice").await;
    let header: Value = segment(&access, 0);
    let keys = jwks(&server).await;
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], keys["keys"][0]["kid"]);
    assert!(keys["keys"][0].get("d").is_none(), "private key exported");
    // An HS256 server publishes no secret.
    let hs = TestServer::start().await;
    assert_eq!(jwks(&hs).await, json!({"keys": []}));
}

#[tokio::test]
async fn c28_rotation_a_previous_secret_verifies_until_its_deadline_then_401() {
    const OLD: &str = "the-previous-secret-that-was-rotated-out-0123";
    // A token from before the rotation (signed with the old secret, with its kid).
    let old = TestServer::start_config(|c| c.hmac_secret = Some(OLD.into())).await;
    let (before_rotation, _) = old.login("alice").await;
    let until = old.now() + 600;
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(dir.path().join("data"));
    cfg.previous_keys = vec![wsauth_server::config::PreviousKey {
        hmac_secret: Some(OLD.into()),
        private_key_file: None,
        algorithm: None,
        valid_until: until,
    }];
    let rotated = TestServer::start_with(cfg, Some(dir), old.clock.clone()).await;
    let (mut live, welcome) = rotated.ws_welcome(&before_rotation).await;
    assert_eq!(welcome["sub"], "alice");
    // The socket never outlives the key that signed its token.
    assert_eq!(welcome["deadline"], until + 1, "the key's window ends before the token's exp");
    // New tokens are signed with the current key.
    let (after_rotation, _) = rotated.login("bob").await;
    assert_ne!(segment(&after_rotation, 0)["kid"], segment(&before_rotation, 0)["kid"]);
    rotated.clock.set_secs(until + 1);
    assert_eq!(next_close(&mut live).await.0, 4001);
    // The key is known but its time has passed: "key retired", not "unknown key".
    let refused = rejected(rotated.ws(&format!("/ws?token={before_rotation}"), &[]).await).await;
    refused.assert_401("key_retired");
    assert_eq!(refused.body["detail"], "Token's signing key has been retired");
    // A token naming the retired key's kid but not signed by it learns nothing.
    let kid = segment(&before_rotation, 0)["kid"].as_str().expect("kid").to_owned();
    let header = format!(r#"{{"typ":"JWT","alg":"HS256","kid":"{kid}"}}"#);
    let forged = sign_raw(
        &header,
        &payload("alice", rotated.now(), |_| {}),
        b"another-secret-0123456789-0123456789",
    );
    rejected(rotated.ws(&format!("/ws?token={forged}"), &[]).await)
        .await
        .assert_401("invalid_token");
}

/// docs/configuration.md rotated keys with a `valid_until` already past:
/// copied as written, the server started silently. A start with such a key
/// warns once, naming its `kid`.
#[test]
fn a_retired_previous_key_is_named_once_at_start() {
    const OLD: &str = "the-previous-secret-that-was-rotated-out-0123";
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("wsauth.toml");
    let settings = format!(
        "hmac_secret = \"{SECRET}\"\n[[previous_keys]]\nhmac_secret = \"{OLD}\"\nvalid_until = 1795400000\n"
    );
    std::fs::write(&file, settings).expect("write config");
    let file = file.to_str().expect("utf-8 path");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let args = ["--config", file, "serve", "--listen", "127.0.0.1:0", "--data-dir", data];
    let mut running = crate::binary::spawn_with_env(dir.path(), &args, &[("WSAUTH_LOG", "info")]);
    crate::binary::terminate(&mut running.child);
    let logs = running.logs.join().expect("logs");
    let kid =
        wsauth::Key::hmac(wsauth::Algorithm::HS256, OLD.as_bytes()).expect("key").kid().to_owned();
    let warnings: Vec<&str> = logs.lines().filter(|line| line.contains("retired")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("WARN"), "{logs}");
    assert!(warnings[0].contains(&format!("previous key {kid} is retired")), "{logs}");
    assert!(warnings[0].contains("1795400000"), "{logs}");
}

#[tokio::test]
async fn an_rsa_key_file_signs_and_is_published() {
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../wsauth/tests/fixtures/rsa2048.pem");
    for alg in ["RS256", "PS256"] {
        let server = TestServer::start_config(|c| {
            c.hmac_secret = None;
            c.algorithm = alg.into();
            c.private_key_file = Some(pem.into());
        })
        .await;
        let (access, _) = server.login("alice").await;
        assert_eq!(segment(&access, 0)["alg"], alg);
        server.ws_welcome(&access).await;
        let keys = jwks(&server).await;
        assert_eq!(keys["keys"][0]["kty"], "RSA");
        assert_eq!(keys["keys"][0]["alg"], alg);
        assert!(keys["keys"][0].get("d").is_none(), "private key exported");
    }
}
