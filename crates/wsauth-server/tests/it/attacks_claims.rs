//! attack-cases.md section B: claims.

use crate::attacks_structure::assert_token_rejected;
use crate::support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn b14_expired_token_is_401_token_expired() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    server.clock.advance_secs(901);
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_expired");
    let r = server.http.get(server.url("/auth/me")).bearer_auth(&access).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "token_expired");
}

#[tokio::test]
async fn b15_exp_boundary_valid_until_the_second_before_exp_expired_at_exp() {
    let server = TestServer::start().await;
    let exp = server.now() + 10;
    let token = server.forge(|m| {
        m.insert("exp".into(), json!(exp));
    });
    server.clock.set_secs(exp - 1);
    server.clock.advance_millis(999);
    server.ws_welcome(&token).await;
    server.clock.set_secs(exp);
    rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await.assert_401("token_expired");
}

#[tokio::test]
async fn b15_leeway_extends_the_boundary_by_exactly_its_value() {
    let server = TestServer::start_config(|c| c.leeway = 5).await;
    let exp = server.now();
    let token = server.forge(|m| {
        m.insert("exp".into(), json!(exp));
    });
    server.clock.set_secs(exp + 4);
    server.ws_welcome(&token).await;
    server.clock.set_secs(exp + 5);
    rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await.assert_401("token_expired");
}

#[tokio::test]
async fn b16_missing_exp_is_rejected() {
    let server = TestServer::start().await;
    assert_token_rejected(
        &server,
        &server.forge(|m| {
            m.remove("exp");
        }),
    )
    .await;
}

#[tokio::test]
async fn b17_wrongly_typed_time_claims_are_rejected_never_treated_as_absent() {
    let server = TestServer::start().await;
    let bad_values = [
        json!("9999999999"),
        json!(1.5e9),
        json!(-1),
        json!(1e20),
        json!(null),
        json!([1]),
        json!({"t": 1}),
        json!(true),
    ];
    for claim in ["exp", "nbf", "iat"] {
        for bad in &bad_values {
            let token = server.forge(|m| {
                m.insert(claim.into(), bad.clone());
            });
            assert_token_rejected(&server, &token).await;
        }
    }
}

#[tokio::test]
async fn b18_nbf_in_the_future_and_iat_in_the_future_are_rejected() {
    let server = TestServer::start().await;
    let later = server.now() + 3600;
    assert_token_rejected(
        &server,
        &server.forge(|m| {
            m.insert("nbf".into(), json!(later));
        }),
    )
    .await;
    assert_token_rejected(
        &server,
        &server.forge(|m| {
            m.insert("iat".into(), json!(later));
        }),
    )
    .await;
}

#[tokio::test]
async fn b19_issuer_and_audience_are_required_when_configured() {
    let server = TestServer::start_config(|c| {
        c.issuer = Some("https://auth.example".into());
        c.audience = Some("chat".into());
    })
    .await;
    let (access, _) = server.login("alice").await;
    server.ws_welcome(&access).await;
    let cases: [(&str, Option<Value>, Option<Value>); 5] = [
        ("no iss/aud", None, None),
        ("wrong iss", Some(json!("https://evil.example")), Some(json!("chat"))),
        ("wrong aud", Some(json!("https://auth.example")), Some(json!("other"))),
        ("missing aud", Some(json!("https://auth.example")), None),
        ("aud list without us", Some(json!("https://auth.example")), Some(json!(["a", "b"]))),
    ];
    for (name, iss, aud) in cases {
        let token = server.forge(|m| {
            if let Some(iss) = iss {
                m.insert("iss".into(), iss);
            }
            if let Some(aud) = aud {
                m.insert("aud".into(), aud);
            }
        });
        let r = rejected(server.ws(&format!("/ws?token={token}"), &[]).await).await;
        assert_eq!(r.status, 401, "{name}");
    }
    let listed = server.forge(|m| {
        m.insert("iss".into(), json!("https://auth.example"));
        m.insert("aud".into(), json!(["other", "chat"]));
    });
    server.ws_welcome(&listed).await;
}

#[tokio::test]
async fn b20_refresh_token_where_access_is_needed_and_the_reverse() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    rejected(server.ws(&format!("/ws?token={refresh}"), &[]).await)
        .await
        .assert_401("wrong_token_type");
    let r = server.post_bearer("/auth/refresh", &access).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "wrong_token_type");
    // A ticket is not a token, and a token is not a ticket.
    rejected(server.ws(&format!("/ws?ticket={access}"), &[]).await)
        .await
        .assert_401("invalid_ticket");
    let ticket = server.ticket(&access).await;
    rejected(server.ws(&format!("/ws?token={ticket}"), &[]).await)
        .await
        .assert_401("invalid_token");
}

#[tokio::test]
async fn b21_missing_or_unknown_type_is_rejected() {
    let server = TestServer::start().await;
    assert_token_rejected(
        &server,
        &server.forge(|m| {
            m.remove("type");
        }),
    )
    .await;
    for kind in ["ticket", "ACCESS", "", "id"] {
        assert_token_rejected(
            &server,
            &server.forge(|m| {
                m.insert("type".into(), json!(kind));
            }),
        )
        .await;
    }
}

#[tokio::test]
async fn b22_empty_or_non_string_sub_is_rejected() {
    let server = TestServer::start().await;
    for sub in [json!(""), json!(42), json!(null), json!(["alice"]), json!("x".repeat(257))] {
        assert_token_rejected(
            &server,
            &server.forge(|m| {
                m.insert("sub".into(), sub.clone());
            }),
        )
        .await;
    }
}

#[tokio::test]
async fn b23_revoked_jti_and_tokens_older_than_logout_everywhere_are_rejected() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");

    // A token this server never tracked (made elsewhere with the shared
    // secret) is caught by the subject's "logged out everywhere" mark.
    let foreign = server.forge(|_| {});
    let (fresh_access, _) = server.login("alice").await;
    server.clock.advance_secs(1);
    assert_eq!(server.post_bearer("/auth/logout-all", &fresh_access).await.status(), 200);
    rejected(server.ws(&format!("/ws?token={foreign}"), &[]).await)
        .await
        .assert_401("token_revoked");
    rejected(server.ws(&format!("/ws?token={fresh_access}"), &[]).await)
        .await
        .assert_401("token_revoked");
    // Logging in again afterwards works, even within the same second.
    let (again, _) = server.login("alice").await;
    server.ws_welcome(&again).await;
}

#[tokio::test]
async fn b24_custom_claims_can_never_override_reserved_claims() {
    use wsauth::{Algorithm, IssueError, IssueOptions, Key, KeySet, TokenAuthority};
    let tokens = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")));
    for name in ["sub", "type", "exp", "jti", "iat", "nbf", "fresh", "csrf", "iss", "aud"] {
        let mut extra = serde_json::Map::new();
        extra.insert(name.into(), json!("admin"));
        let result = tokens.issue_access("alice", IssueOptions { extra, ..Default::default() });
        assert!(matches!(result, Err(IssueError::ReservedClaim(ref n)) if n == name), "{name}");
    }
}
