//! HS256 access tokens laid out as fastapi-jwt-auth lays them out:
//! `sub, iat, nbf, jti, exp, type, fresh` (plus `csrf` for cookie transport).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Picks jsonwebtoken's signature backend explicitly: a build where another
/// crate enables its second backend cannot infer one.
fn install_provider() {
    // An `Err` means one is installed already, which is as good.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// The claims of an access token as fastapi-jwt-auth issues it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Subject.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Unique id (UUID v4).
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Always `"access"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the token came straight from a password login.
    pub fresh: bool,
    /// CSRF double-submit value, for cookie transport.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub csrf: Option<String>,
}

/// Signs access tokens with one shared secret; the key is built once.
#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
    header: Header,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").finish_non_exhaustive()
    }
}

impl Minter {
    /// A minter for `secret` (used as raw bytes, as fastapi-jwt-auth and
    /// `WSAUTH_HMAC_SECRET` use it).
    pub fn new(secret: &str) -> Self {
        install_provider();
        Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            header: Header::new(Algorithm::HS256),
        }
    }

    /// An access token for `sub` expiring at `exp` (Unix seconds), issued now.
    pub fn access(&self, sub: &str, exp: i64, csrf: Option<String>) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = AccessClaims {
            sub: sub.to_owned(),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            exp,
            kind: "access".to_owned(),
            fresh: false,
            csrf,
        };
        Ok(jsonwebtoken::encode(&self.header, &claims, &self.key)?)
    }
}

/// Verifies HS256 access tokens: signature, `exp` and `nbf` with no leeway.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `secret`; the key and validation rules are built once.
    pub fn new(secret: &str) -> Self {
        install_provider();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// The claims of a valid access token, or `None`.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.key, &self.validation).ok()?;
        (data.claims.kind == "access").then_some(data.claims)
    }
}

/// Whole seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    unix_now_millis().div_euclid(1000)
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_carry_the_fastapi_layout() -> anyhow::Result<()> {
        let secret = "a-benchmark-secret-of-at-least-32-bytes";
        let token = Minter::new(secret).access("alice", unix_now() + 60, Some("c".into()))?;
        let claims = Verifier::new(secret)
            .verify(&token)
            .ok_or_else(|| anyhow::anyhow!("token did not verify"))?;
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.kind, "access");
        assert_eq!(claims.csrf.as_deref(), Some("c"));
        assert!(Verifier::new("another-secret-another-secret-1234").verify(&token).is_none());
        Ok(())
    }

    #[test]
    fn expired_tokens_are_refused() -> anyhow::Result<()> {
        let secret = "a-benchmark-secret-of-at-least-32-bytes";
        let token = Minter::new(secret).access("alice", unix_now() - 1, None)?;
        assert!(Verifier::new(secret).verify(&token).is_none());
        Ok(())
    }
}
