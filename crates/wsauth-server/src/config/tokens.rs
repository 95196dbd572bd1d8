//! Keys and tokens: what signs, how long tokens live, what they claim, and
//! how refresh tokens rotate. The lifetimes' defaults are the library's
//! ([`wsauth::TokenSettings`]).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::{Config, ConfigError};

/// A key from before a rotation: an HMAC secret or a PEM private key file,
/// accepted for verification until `valid_until` (Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    /// An HS256 secret given as text.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// A PKCS#8 PEM private key file.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The key's algorithm (HS256 for a secret; EdDSA, ES256, RS256 or PS256 for a file).
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Unix seconds after which tokens signed with this key are refused.
    pub valid_until: i64,
}

/// The longest lifetime the server issues tokens with: ten years, so that
/// `exp` stays a valid time claim.
const MAX_TOKEN_TTL: i64 = 10 * 365 * 24 * 3600;
/// The longest `issuer` and `audience`, bytes: every token carries them.
const MAX_CLAIM_TEXT: usize = 256;
/// The largest `leeway`, seconds: five minutes.
const MAX_LEEWAY: i64 = 300;
/// The longest `refresh_grace`, seconds.
const MAX_REFRESH_GRACE: i64 = 10;

impl Config {
    /// The token authority's settings.
    pub fn token_settings(&self) -> wsauth::TokenSettings {
        wsauth::TokenSettings {
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            leeway: self.leeway,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            max_token_lifetime: self.max_token_lifetime,
            ..wsauth::TokenSettings::default()
        }
    }

    /// The refresh rotation rules.
    pub fn rotation_rules(&self) -> wsauth_domain::families::RotationRules {
        wsauth_domain::families::RotationRules {
            grace_ms: self.refresh_grace.saturating_mul(1000),
            rate: self.limits.refresh_rate,
            burst: self.limits.refresh_burst.max(1.0),
        }
    }

    /// Lifetimes positive and at most ten years, claims short, the grace
    /// window and the leeway in range.
    pub(super) fn validate_tokens(&self) -> Result<(), ConfigError> {
        let positive = [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("ticket_ttl", self.ticket_ttl),
            ("max_token_lifetime", self.max_token_lifetime),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        // Found by the server_config fuzz target: each of these once loaded
        // and then issued tokens that never verify.
        for (name, value) in [("access_ttl", self.access_ttl), ("refresh_ttl", self.refresh_ttl)] {
            if value > MAX_TOKEN_TTL {
                return Err(ConfigError::Invalid(format!("{name} must be at most ten years")));
            }
        }
        for (name, value) in [("issuer", &self.issuer), ("audience", &self.audience)] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_CLAIM_TEXT) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at most {MAX_CLAIM_TEXT} bytes"
                )));
            }
        }
        if self.access_ttl > self.max_token_lifetime {
            return Err(ConfigError::Invalid(
                "access_ttl must not exceed max_token_lifetime".into(),
            ));
        }
        if !(0..=MAX_REFRESH_GRACE).contains(&self.refresh_grace) {
            return Err(ConfigError::Invalid(format!(
                "refresh_grace must be 0 to {MAX_REFRESH_GRACE} seconds"
            )));
        }
        // Past a few minutes a leeway is no longer clock skew: it keeps
        // expired tokens valid.
        if !(0..=MAX_LEEWAY).contains(&self.leeway) {
            return Err(ConfigError::Invalid(format!(
                "leeway must be 0 to {MAX_LEEWAY} seconds (it is clock skew; to let tokens live \
                 longer, raise access_ttl)"
            )));
        }
        Ok(())
    }
}
