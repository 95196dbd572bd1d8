//! Attacks across the line between a trusted issuer and the server's own
//! tokens, and through an identity provider's discovery document.

use serde_json::{Value, json};

use crate::jwks_provider::{Provider, claims, mint};
use crate::support::*;

async fn server_trusting(idp: &Provider) -> TestServer {
    let table = idp.config();
    TestServer::start_config(|c| c.trusted_issuers = vec![table]).await
}

/// A token of `idp` for `subject` whose `jti` is `jti`.
fn external_with_jti(idp: &Provider, subject: &str, jti: &str, now: i64) -> Value {
    let mut claims = claims(&idp.issuer, subject, now);
    claims["jti"] = json!(jti);
    claims
}

#[tokio::test]
async fn an_external_logout_cannot_revoke_a_local_token_with_the_same_jti() {
    let idp = Provider::start().await;
    let server = server_trusting(&idp).await;
    let (local, _) = server.login("alice").await;
    let jti = str_of(&segment(&local, 1), "jti");
    let (mut local_ws, _) = server.ws_welcome(&local).await;
    let minted = mint(
        &[("k", "ES256", "k-1")],
        &[("k", external_with_jti(&idp, "mallory", &jti, server.now()), json!({}))],
    );
    idp.serve(&[minted.jwk("k")]);
    let external = &minted.tokens[0];

    // Mallory at the provider logs out with a token carrying alice's jti.
    assert_eq!(server.post_bearer("/auth/logout", external).await.status(), 200);
    rejected(server.ws(&format!("/ws?token={external}"), &[]).await)
        .await
        .assert_401("token_revoked");
    // Alice's socket stays open and her token still opens others.
    send_json(&mut local_ws, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(&mut local_ws).await["data"], 1);
    drop(server.ws_welcome(&local).await);
    let me = server.http.get(server.url("/auth/me")).bearer_auth(&local).send().await.unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_revoked_local_jti_does_not_refuse_an_external_token_with_it() {
    let idp = Provider::start().await;
    let server = server_trusting(&idp).await;
    // A local token of no family: logging out revokes its jti alone.
    let local = server.forge(|m| {
        m.insert("jti".into(), json!("shared-jti"));
    });
    assert_eq!(server.post_bearer("/auth/logout", &local).await.status(), 200);
    rejected(server.ws(&format!("/ws?token={local}"), &[]).await).await.assert_401("token_revoked");
    let minted = mint(
        &[("k", "RS256", "k-1")],
        &[("k", external_with_jti(&idp, "bob", "shared-jti", server.now()), json!({}))],
    );
    idp.serve(&[minted.jwk("k")]);
    let (_ws, welcome) = server.ws_welcome(&minted.tokens[0]).await;
    // What the socket shows is the provider's own jti.
    assert_eq!(
        (welcome["subject"].as_str(), welcome["claims"]["jti"].as_str()),
        (Some("bob"), Some("shared-jti"))
    );
}

#[tokio::test]
async fn a_local_token_cannot_claim_an_external_jti() {
    let idp = Provider::start().await;
    let server = server_trusting(&idp).await;
    let jti = format!("{}#abc", idp.issuer);
    let forged = server.forge(|m| {
        m.insert("jti".into(), json!(jti));
    });
    rejected(server.ws(&format!("/ws?token={forged}"), &[]).await)
        .await
        .assert_401("invalid_token");
}

#[tokio::test]
async fn a_discovery_document_cannot_send_the_key_fetch_to_another_port() {
    let idp = Provider::start().await;
    // Another service on loopback, which the discovery document names.
    let elsewhere = Provider::start().await;
    let server = server_trusting(&idp).await;
    let minted = mint(
        &[("k", "ES256", "k-1")],
        &[("k", claims(&idp.issuer, "alice", server.now()), json!({}))],
    );
    elsewhere.serve(&[minted.jwk("k")]);
    idp.serve(&[minted.jwk("k")]);
    for uri in [
        format!("{}/jwks", elsewhere.issuer),
        idp.issuer.replace("127.0.0.1", "localhost") + "/jwks",
    ] {
        idp.point_jwks_at(&uri);
        server.clock.advance_secs(10);
        // Failed closed, as for a JWKS that cannot be reached.
        rejected(server.ws(&format!("/ws?token={}", minted.tokens[0]), &[]).await)
            .await
            .assert(503, "unavailable");
    }
    assert_eq!(elsewhere.jwks_count(), 0, "the key fetch left the provider's origin");
    assert_eq!(idp.jwks_count(), 0);
    // A jwks_uri on the provider's own origin serves keys as before.
    idp.point_jwks_at(&format!("{}/jwks", idp.issuer));
    server.clock.advance_secs(10);
    drop(server.ws_welcome(&minted.tokens[0]).await);
}
