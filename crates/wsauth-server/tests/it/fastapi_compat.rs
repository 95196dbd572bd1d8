//! Tokens cross between this server and fastapi-jwt-auth services that share
//! the HS256 secret, in both directions.

use crate::support::*;
use serde_json::json;

/// Exactly what fastapi-jwt-auth 0.5.0 with PyJWT 1.7.1 produces: header
/// `{"typ":"JWT","alg":"HS256"}` (no kid) and claims in its order.
fn fastapi_token(iat: i64, kind: &str, fresh: Option<bool>, csrf: Option<&str>) -> String {
    let mut claims = format!(
        r#"{{"sub":"test","iat":{iat},"nbf":{iat},"jti":"{}","exp":{},"type":"{kind}""#,
        uuid::Uuid::new_v4(),
        iat + if kind == "access" { 900 } else { 2_592_000 }
    );
    if let Some(f) = fresh {
        claims.push_str(&format!(r#","fresh":{f}"#));
    }
    if let Some(c) = csrf {
        claims.push_str(&format!(r#","csrf":"{c}""#));
    }
    claims.push('}');
    sign_raw(r#"{"typ":"JWT","alg":"HS256"}"#, &claims, SECRET.as_bytes())
}

#[tokio::test]
async fn an_access_token_made_by_fastapi_jwt_auth_opens_the_socket() {
    let server = TestServer::start().await;
    let token = fastapi_token(server.now(), "access", Some(true), None);
    let (_, welcome) = server.ws_welcome(&token).await;
    assert_eq!(welcome["sub"], "test");
    assert_eq!(welcome["claims"]["fresh"], true);
    let refresh = fastapi_token(server.now(), "refresh", None, None);
    rejected(server.ws(&format!("/ws?token={refresh}"), &[]).await)
        .await
        .assert_401("wrong_token_type");
}

#[tokio::test]
async fn a_fastapi_jwt_auth_cookie_pair_opens_the_socket() {
    let server = TestServer::start().await;
    let csrf = uuid::Uuid::new_v4().to_string();
    let token = fastapi_token(server.now(), "access", Some(true), Some(&csrf));
    let cookies = format!("access_token_cookie={token}; csrf_access_token={csrf}");
    let (mut ws, _) = server
        .ws(
            &format!("/ws?csrf_token={csrf}"),
            &[("cookie", &cookies), ("origin", &server.origin())],
        )
        .await
        .expect("101");
    assert_eq!(next_json(&mut ws).await["credential"], "cookie");
}

#[tokio::test]
async fn our_tokens_carry_every_claim_fastapi_jwt_auth_needs() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    for (token, kind) in [(&access, "access"), (&refresh, "refresh")] {
        let parts: Vec<&str> = token.split('.').collect();
        let header = segment(token, 0);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "JWT");
        let claims = segment(token, 1);
        for name in ["iat", "nbf", "exp"] {
            assert!(claims[name].is_i64(), "{name} must be an integer for PyJWT: {claims}");
        }
        assert!(claims["sub"].is_string() && claims["jti"].is_string());
        assert_eq!(claims["type"], kind);
        assert_eq!(
            claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
            if kind == "access" { 900 } else { 2_592_000 }
        );
        // PyJWT 1.7 refuses a token with an `aud` it was not told to expect.
        assert!(claims.get("aud").is_none());
        // The signature is plain HS256 over the first two segments with the shared secret.
        let expected =
            b64(&hmac_sha256(SECRET.as_bytes(), format!("{}.{}", parts[0], parts[1]).as_bytes()));
        assert_eq!(parts[2], expected);
    }
    assert_eq!(segment(&access, 1)["fresh"], json!(true));
    let cookies = server.cookie_login("alice").await;
    let token = cookie(&cookies, "access_token_cookie");
    let claims = segment(token, 1);
    assert_eq!(claims["csrf"], cookie(&cookies, "csrf_access_token"));
}
