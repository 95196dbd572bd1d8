//! Trusted issuers without HTTP: keys from a `StaticJwks`, tokens signed
//! here with jsonwebtoken (another signer than wsauth's own), checked by
//! `WsAuth::verify_token` with every mapping rule.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Arc;
use wsauth::issuers::{
    ClaimRule, MissingIat, MissingJti, StaticJwks, TrustedIssuer, TrustedIssuers,
};
use wsauth::{Algorithm, AuthError, Key, KeySet, TokenAuthority, WsAuth, generate_key_material};

const ISS: &str = "https://idp.example.com";

struct Issuer {
    der: Vec<u8>,
    jwks: String,
}

fn issuer_key(kid: &str) -> Issuer {
    let der = generate_key_material(Algorithm::EdDSA).expect("test setup");
    let key = Key::from_material(Algorithm::EdDSA, &der).expect("test setup").with_kid(kid);
    let jwks = serde_json::to_string(&KeySet::new(key).jwks()).expect("test setup");
    Issuer { der, jwks }
}

fn sign(issuer: &Issuer, header: Header, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&issuer.der))
        .expect("test setup")
}

fn header(kid: &str) -> Header {
    let mut h = Header::new(jsonwebtoken::Algorithm::EdDSA);
    h.kid = Some(kid.to_owned());
    h
}

fn auth(settings: TrustedIssuer, jwks: &str) -> WsAuth {
    let local =
        TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("test setup")));
    let issuers = TrustedIssuers::new()
        .with(settings, Arc::new(StaticJwks::new(jwks.as_bytes().to_vec())))
        .expect("test setup");
    WsAuth::builder(local).trusted_issuers(issuers).build()
}

fn settings() -> TrustedIssuer {
    TrustedIssuer::new(ISS, ["api"]).algorithms([Algorithm::EdDSA])
}

fn now() -> i64 {
    wsauth::Clock::now(&wsauth::SystemClock)
}

fn base() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": ["api", "other"], "iat": now(), "exp": now() + 600})
}

#[tokio::test]
async fn maps_a_provider_token_onto_namespaced_access_claims() {
    let key = issuer_key("k1");
    let auth = auth(settings(), &key.jwks);
    let mut claims = base();
    for (name, value) in
        [("sid", json!("provider-session")), ("fresh", json!(true)), ("type", json!("refresh"))]
    {
        claims[name] = value;
    }
    let verified = auth.verify_token(&sign(&key, header("k1"), &claims)).await.expect("test setup");
    assert_eq!(verified.sub, format!("{ISS}#alice"));
    assert_eq!((verified.subject(), verified.is_external()), ("alice", true));
    assert_eq!(verified.kind, wsauth::TokenKind::Access);
    assert_eq!((verified.sid.as_deref(), verified.is_fresh()), (None, false));
    // The token id is namespaced too; the provider's own (here a digest of
    // the signature, as the token has none) stays readable.
    assert!(verified.token_id().starts_with("sig-"), "{}", verified.jti);
    assert_eq!(verified.jti, format!("{ISS}#{}", verified.token_id()));
    // An RFC 9068 access token header is accepted too.
    let mut h = header("k1");
    h.typ = Some("at+jwt".into());
    assert!(auth.verify_token(&sign(&key, h, &base())).await.is_ok());
}

#[tokio::test]
async fn refuses_what_the_issuer_does_not_allow() {
    let key = issuer_key("k1");
    let auth = auth(settings(), &key.jwks);
    let invalid = |m| Err::<(), _>(AuthError::InvalidToken(m));
    let mut wrong_aud = base();
    wrong_aud["aud"] = json!("other");
    let mut no_sub = base();
    no_sub.as_object_mut().expect("test setup").remove("sub");
    let mut long = base();
    long["exp"] = json!(now() + 2 * 86_400);
    // A key URL in the token is never followed: the header is refused.
    let mut jku = header("k1");
    jku.jku = Some("https://attacker.example/jwks".into());
    let mut x5u = header("k1");
    x5u.x5u = Some("https://attacker.example/cert".into());
    let mut no_kid = header("k1");
    no_kid.kid = None;
    for (token, expected) in [
        (sign(&key, header("k1"), &wrong_aud), invalid("Invalid audience")),
        (sign(&key, header("k1"), &no_sub), invalid("Token has no subject")),
        (sign(&key, header("k1"), &long), invalid("Token lifetime is too long")),
        (sign(&key, no_kid, &base()), invalid("Unknown key id")),
        (sign(&key, header("other"), &base()), invalid("Unknown key id")),
        (sign(&key, jku, &base()), invalid("Unsupported token header")),
        (sign(&key, x5u, &base()), invalid("Unsupported token header")),
    ] {
        assert_eq!(auth.verify_token(&token).await.map(drop), expected);
    }
    // HS256 with the public key as the secret (algorithm confusion).
    let forged = {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k1"}"#);
        let p = URL_SAFE_NO_PAD.encode(base().to_string());
        format!("{h}.{p}.c2ln")
    };
    assert_eq!(auth.verify_token(&forged).await.map(drop), invalid("Algorithm not allowed"));
}

#[tokio::test]
async fn subject_claim_type_rule_and_missing_claims_follow_the_settings() {
    let key = issuer_key("k1");
    let mut strict = settings();
    strict.subject_claim = "oid".into();
    strict.type_claim = Some(ClaimRule { claim: "token_use".into(), value: "access".into() });
    strict.missing_jti = MissingJti::Refuse;
    strict.missing_iat = MissingIat::Refuse;
    let auth = auth(strict, &key.jwks);
    let mut claims = base();
    claims["oid"] = json!("object-7");
    claims["token_use"] = json!("access");
    claims["jti"] = json!("j-1");
    let verified = auth.verify_token(&sign(&key, header("k1"), &claims)).await.expect("test setup");
    assert_eq!(verified.subject(), "object-7");
    claims["token_use"] = json!("id");
    let refused = auth.verify_token(&sign(&key, header("k1"), &claims)).await;
    assert_eq!(refused.map(drop), Err(AuthError::WrongTokenType("Only access tokens are allowed")));
    claims["token_use"] = json!("access");
    claims.as_object_mut().expect("test setup").remove("jti");
    let refused = auth.verify_token(&sign(&key, header("k1"), &claims)).await;
    assert_eq!(refused.map(drop), Err(AuthError::InvalidToken("Token has no jti")));

    // Lenient defaults: a missing iat is the earliest possible time.
    let auth = self::auth(settings(), &key.jwks);
    let mut no_iat = base();
    no_iat.as_object_mut().expect("test setup").remove("iat");
    // `nbf` does not stand in: a token may be issued before it is valid.
    no_iat["nbf"] = json!(now());
    let verified = auth.verify_token(&sign(&key, header("k1"), &no_iat)).await.expect("test setup");
    assert_eq!(verified.iat, verified.exp - 86_400);
}

#[tokio::test]
async fn a_local_token_cannot_name_an_external_subject() {
    let key = issuer_key("k1");
    let local =
        TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("test setup")));
    let issuers = TrustedIssuers::new()
        .with(settings(), Arc::new(StaticJwks::new(key.jwks.into_bytes())))
        .expect("test setup");
    let auth = WsAuth::builder(local.clone()).trusted_issuers(issuers).build();
    let forged =
        local.issue_access(&format!("{ISS}#alice"), Default::default()).expect("test setup");
    let refused = auth.verify_token(&forged.token).await;
    assert_eq!(
        refused.map(drop),
        Err(AuthError::InvalidToken("Subject belongs to an external issuer"))
    );
    let own = local.issue_access("alice", Default::default()).expect("test setup");
    assert!(auth.verify_token(&own.token).await.is_ok());
}

#[test]
fn settings_out_of_bounds_are_refused() {
    let source = || Arc::new(StaticJwks::new(b"{}".to_vec()));
    let bad = [
        TrustedIssuer::new("https://a#b", ["api"]),
        TrustedIssuer::new(ISS, Vec::<String>::new()),
        TrustedIssuer::new(ISS, ["api"]).algorithms([Algorithm::HS256]),
    ];
    for settings in bad {
        assert!(TrustedIssuers::new().with(settings, source()).is_err());
    }
    let twice = TrustedIssuers::new().with(settings(), source()).expect("test setup");
    assert!(twice.with(settings(), source()).is_err());
}
