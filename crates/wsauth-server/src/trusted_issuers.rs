//! `[[trusted_issuers]]`: external identity providers whose tokens the
//! server accepts beside its own. Each table becomes a library
//! [`wsauth::TrustedIssuer`] with an [`wsauth::HttpKeySource`]; every
//! default comes from those types. See docs/configuration.md.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use wsauth::Algorithm;
use wsauth::issuers::{
    ClaimRule, HttpFetchSettings, HttpKeySource, JwksLocation, KeyCachePolicy, MissingIat,
    MissingJti, TrustedIssuer, TrustedIssuers,
};

/// One `[[trusted_issuers]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerConfig {
    /// The issuer, exactly as its tokens' `iss` spell it.
    pub issuer: String,
    /// The JWKS URL (HTTPS; plain HTTP only for loopback addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Find the JWKS URL from `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery: bool,
    /// Audiences accepted (a token's `aud` must name one).
    pub audiences: Vec<String>,
    /// Algorithms accepted: RS256, PS256, ES256, EdDSA. Default `["RS256"]`.
    #[serde(default = "defaults::algorithms")]
    pub algorithms: Vec<String>,
    /// The claim naming the subject. Default `sub`.
    #[serde(default = "defaults::subject_claim")]
    pub subject_claim: String,
    /// A claim that must hold one value, e.g. `{ claim = "token_use", value = "access" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_claim: Option<TypeClaim>,
    /// `signature_digest` (default) or `refuse`.
    #[serde(default)]
    pub missing_jti: MissingJtiSetting,
    /// `earliest` (default) or `refuse`.
    #[serde(default)]
    pub missing_iat: MissingIatSetting,
    /// The longest lifetime (`exp - iat`) a token may have, seconds.
    #[serde(default = "defaults::max_token_lifetime")]
    pub max_token_lifetime: i64,
    /// The shortest time keys are cached, seconds.
    #[serde(default = "defaults::jwks_cache_min")]
    pub jwks_cache_min: i64,
    /// The longest time keys are cached, seconds.
    #[serde(default = "defaults::jwks_cache_max")]
    pub jwks_cache_max: i64,
    /// Keys are fetched at most once per this many seconds.
    #[serde(default = "defaults::jwks_refetch_interval")]
    pub jwks_refetch_interval: i64,
    /// How long past their cache time keys keep working while fetches fail, seconds.
    #[serde(default = "defaults::jwks_stale")]
    pub jwks_stale: i64,
    /// Connecting to the provider may take this long, seconds.
    #[serde(default = "defaults::connect_timeout")]
    pub jwks_connect_timeout: u64,
    /// A whole fetch may take this long, seconds.
    #[serde(default = "defaults::fetch_timeout")]
    pub jwks_fetch_timeout: u64,
    /// The largest JWKS or discovery document read, bytes.
    #[serde(default = "defaults::max_response_bytes")]
    pub jwks_max_bytes: usize,
    /// Where the token's roles are, as a path of keys
    /// (`["realm_access", "roles"]`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_claim: Vec<String>,
}

/// `type_claim = { claim = "...", value = "..." }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeClaim {
    /// The claim's name.
    pub claim: String,
    /// The value it must have.
    pub value: String,
}

/// What stands in for a missing `jti`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingJtiSetting {
    /// A digest of the token's signature.
    #[default]
    SignatureDigest,
    /// Refuse the token.
    Refuse,
}

/// What stands in for a missing `iat`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingIatSetting {
    /// `exp - max_token_lifetime`, the earliest possible.
    #[default]
    Earliest,
    /// Refuse the token.
    Refuse,
}

/// Defaults, each taken from the library type that owns it.
mod defaults {
    use super::*;

    fn issuer() -> TrustedIssuer {
        TrustedIssuer::new("", [""; 0])
    }
    pub(super) fn algorithms() -> Vec<String> {
        issuer().algorithms.iter().map(|a| a.name().to_owned()).collect()
    }
    pub(super) fn subject_claim() -> String {
        issuer().subject_claim
    }
    pub(super) fn max_token_lifetime() -> i64 {
        issuer().max_token_lifetime
    }
    pub(super) fn jwks_cache_min() -> i64 {
        KeyCachePolicy::default().min_cache_secs
    }
    pub(super) fn jwks_cache_max() -> i64 {
        KeyCachePolicy::default().max_cache_secs
    }
    pub(super) fn jwks_refetch_interval() -> i64 {
        KeyCachePolicy::default().refetch_interval_secs
    }
    pub(super) fn jwks_stale() -> i64 {
        KeyCachePolicy::default().stale_secs
    }
    pub(super) fn connect_timeout() -> u64 {
        HttpFetchSettings::default().connect_timeout.as_secs()
    }
    pub(super) fn fetch_timeout() -> u64 {
        HttpFetchSettings::default().timeout.as_secs()
    }
    pub(super) fn max_response_bytes() -> usize {
        HttpFetchSettings::default().max_response_bytes
    }
}

impl TrustedIssuerConfig {
    fn settings(&self) -> anyhow::Result<TrustedIssuer> {
        let algorithms = self
            .algorithms
            .iter()
            .map(|name| {
                Algorithm::from_name(name).ok_or_else(|| {
                    anyhow::anyhow!("trusted issuer {:?}: unknown algorithm {name:?}", self.issuer)
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut settings = TrustedIssuer::new(&self.issuer, &self.audiences).algorithms(algorithms);
        settings.subject_claim.clone_from(&self.subject_claim);
        settings.type_claim = self
            .type_claim
            .as_ref()
            .map(|t| ClaimRule { claim: t.claim.clone(), value: t.value.clone() });
        settings.missing_jti = match self.missing_jti {
            MissingJtiSetting::SignatureDigest => MissingJti::SignatureDigest,
            MissingJtiSetting::Refuse => MissingJti::Refuse,
        };
        settings.missing_iat = match self.missing_iat {
            MissingIatSetting::Earliest => MissingIat::Earliest,
            MissingIatSetting::Refuse => MissingIat::Refuse,
        };
        settings.max_token_lifetime = self.max_token_lifetime;
        settings.cache = KeyCachePolicy {
            min_cache_secs: self.jwks_cache_min,
            max_cache_secs: self.jwks_cache_max,
            refetch_interval_secs: self.jwks_refetch_interval,
            stale_secs: self.jwks_stale,
        };
        Ok(settings)
    }

    fn source(&self) -> anyhow::Result<HttpKeySource> {
        let location = match (&self.jwks_url, self.discovery) {
            (Some(url), false) => JwksLocation::Url(url.clone()),
            (None, true) => JwksLocation::Discovery,
            _ => anyhow::bail!(
                "trusted issuer {:?}: set exactly one of jwks_url and discovery = true",
                self.issuer
            ),
        };
        let fetch = HttpFetchSettings {
            connect_timeout: Duration::from_secs(self.jwks_connect_timeout.clamp(1, 60)),
            timeout: Duration::from_secs(self.jwks_fetch_timeout.clamp(1, 120)),
            max_response_bytes: self.jwks_max_bytes.clamp(1024, 16 << 20),
        };
        HttpKeySource::new(&self.issuer, location, fetch)
            .map_err(|e| anyhow::anyhow!("trusted issuer {:?}: {e}", self.issuer))
    }
}

/// The library's trusted issuers from the configuration's tables; refuses
/// an issuer equal to the server's own `issuer`.
pub fn build(
    configs: &[TrustedIssuerConfig],
    own_issuer: Option<&str>,
) -> anyhow::Result<TrustedIssuers> {
    let mut issuers = TrustedIssuers::new();
    for config in configs {
        if own_issuer == Some(config.issuer.as_str()) {
            anyhow::bail!("trusted issuer {:?} is this server's own issuer", config.issuer);
        }
        issuers = issuers.with(config.settings()?, Arc::new(config.source()?))?;
    }
    Ok(issuers)
}
