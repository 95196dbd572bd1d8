//! Tokens from trusted external issuers (Keycloak, Auth0, Cognito, Entra
//! ID, Google, any OpenID provider): [`TrustedIssuer`] says what one
//! issuer's tokens must look like, [`TrustedIssuers`] routes a token to its
//! issuer by `iss` and verifies it against that issuer's keys only.
//!
//! The rules hold by construction:
//! - the key URL comes from configuration ([`KeySource`]), never from a
//!   token: `jku`, `x5u`, `jwk` and `x5c` headers are refused outright;
//! - keys are looked up by (issuer, `kid`): each issuer has a key cache of
//!   its own, so one issuer's key never verifies a token naming another;
//! - a JWK's `use`, `key_ops` and `alg` are honoured, symmetric JWKs are
//!   refused, and only the issuer's configured (asymmetric) algorithms apply;
//! - subjects are namespaced by issuer ([`subject_key`]): revocation,
//!   logout-all, live sockets and per-user caps key on `<issuer>#<subject>`,
//!   which no local subject can equal; token ids likewise
//!   (`<issuer>#<jti>` in [`Claims::jti`], [`Claims::token_id`] the
//!   provider's own), so a revocation by `jti` never crosses issuers.

mod cache;
#[cfg(feature = "jwks")]
mod http;
mod jwk;
mod mapping;
mod source;

use std::collections::HashMap;
use std::sync::Arc;

#[cfg(feature = "jwks")]
pub use http::{HttpFetchSettings, HttpKeySource, JwksLocation};
pub use source::{FetchError, FetchedJwks, KeySource, StaticJwks};

use crate::AuthError;
use crate::claims::{Claims, issuer_key};
use crate::header::{HeaderTypes, read_header};
use crate::keys::Algorithm;
use crate::token::{Compact, TokenAuthority, check_times};

/// The key under which everything about an external subject is kept:
/// `<issuer>#<subject>`. An issuer has no `#` (OpenID Connect forbids a
/// fragment), so the key splits back unambiguously, and it never equals a
/// local subject (local tokens naming such a subject are refused).
#[must_use]
pub fn subject_key(issuer: &str, subject: &str) -> String {
    issuer_key(issuer, subject)
}

/// A claim that must hold one string value, such as Cognito's
/// `token_use = "access"` or Keycloak's `typ = "Bearer"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The claim's name.
    pub claim: String,
    /// The exact value it must have.
    pub value: String,
}

/// What stands in for a missing `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingJti {
    /// A digest of the token's signature (`sig-...`), unique per token, so
    /// the token can still be revoked by itself. The default.
    #[default]
    SignatureDigest,
    /// The token is refused.
    Refuse,
}

/// What stands in for a missing `iat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingIat {
    /// The earliest time it can have been issued: `exp` minus the issuer's
    /// `max_token_lifetime`. A revocation of the subject then always covers
    /// it (and also refuses such tokens issued up to `max_token_lifetime`
    /// after it: failing closed). The default.
    #[default]
    Earliest,
    /// The token is refused.
    Refuse,
}

/// How long one issuer's keys are cached, and how often they may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCachePolicy {
    /// The shortest time keys are kept, seconds, whatever `Cache-Control`
    /// says (also used when it says nothing, or `no-store`). Default 300.
    pub min_cache_secs: i64,
    /// The longest time keys are kept before they are fetched again,
    /// seconds. Default 86,400 (one day).
    pub max_cache_secs: i64,
    /// Fetches start at most once per this many seconds, whatever asks for
    /// them (an unknown `kid`, stale keys, a failed fetch). Default 60.
    pub refetch_interval_secs: i64,
    /// How long past their cache time keys keep verifying while fetching
    /// them fails, seconds. Past it, tokens of the issuer are refused with
    /// `503 unavailable`. Default 21,600 (six hours).
    pub stale_secs: i64,
}

impl Default for KeyCachePolicy {
    fn default() -> Self {
        Self {
            min_cache_secs: 300,
            max_cache_secs: 24 * 3600,
            refetch_interval_secs: 60,
            stale_secs: 6 * 3600,
        }
    }
}

impl KeyCachePolicy {
    /// `max-age` clamped to the bounds.
    fn cache_secs(&self, max_age: Option<u64>) -> i64 {
        let asked = max_age.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        asked.clamp(self.min_cache_secs, self.max_cache_secs.max(self.min_cache_secs))
    }
}

/// One trusted issuer: what its tokens must look like. Every field
/// documents its default.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The issuer, exactly as its tokens' `iss` (and its discovery
    /// document's `issuer`) spell it. Required; no `#`.
    pub issuer: String,
    /// Audiences accepted: a token's `aud` must name at least one. Required.
    pub audiences: Vec<String>,
    /// Algorithms accepted, asymmetric only. Default: RS256.
    pub algorithms: Vec<Algorithm>,
    /// The claim that names the subject. Default `sub`.
    pub subject_claim: String,
    /// A claim that must hold one value (the token's kind). Default: none.
    pub type_claim: Option<ClaimRule>,
    /// What stands in for a missing `jti`. Default: a digest of the signature.
    pub missing_jti: MissingJti,
    /// What stands in for a missing `iat`. Default: the earliest possible.
    pub missing_iat: MissingIat,
    /// The longest lifetime (`exp - iat`, seconds) a token may have. Default 86,400.
    pub max_token_lifetime: i64,
    /// Key cache bounds and the re-fetch interval.
    pub cache: KeyCachePolicy,
}

impl TrustedIssuer {
    /// An issuer with its accepted audiences and every other field at its default.
    #[must_use]
    pub fn new<I, S>(issuer: impl Into<String>, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: vec![Algorithm::RS256],
            subject_claim: "sub".into(),
            type_claim: None,
            missing_jti: MissingJti::default(),
            missing_iat: MissingIat::default(),
            max_token_lifetime: 24 * 3600,
            cache: KeyCachePolicy::default(),
        }
    }

    /// Replaces the accepted algorithms.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    fn check(&self) -> Result<(), IssuerError> {
        let fault = |reason: &str| Err(IssuerError::Invalid(self.issuer.clone(), reason.into()));
        if self.issuer.is_empty() || self.issuer.contains('#') {
            return fault("the issuer must be non-empty and hold no '#'");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return fault("at least one non-empty audience is required");
        }
        if self.algorithms.is_empty() || self.algorithms.iter().any(|a| a.is_hmac()) {
            return fault("algorithms must be asymmetric (RS256, PS256, ES256, EdDSA)");
        }
        if self.subject_claim.is_empty() {
            return fault("the subject claim must be named");
        }
        if self.max_token_lifetime <= 0 {
            return fault("max_token_lifetime must be positive");
        }
        let c = &self.cache;
        if c.min_cache_secs < 0 || c.max_cache_secs < c.min_cache_secs {
            return fault("the key cache bounds must satisfy 0 <= min <= max");
        }
        if c.refetch_interval_secs < 1 || c.stale_secs < 0 {
            return fault("the re-fetch interval must be at least 1 s, the stale time >= 0");
        }
        Ok(())
    }
}

/// Why a trusted issuer cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// A setting of the issuer is out of bounds.
    #[error("trusted issuer {0:?}: {1}")]
    Invalid(String, String),
    /// The issuer is configured twice.
    #[error("trusted issuer {0:?} is configured twice")]
    Duplicate(String),
}

#[derive(Debug)]
struct Entry {
    settings: TrustedIssuer,
    keys: cache::IssuerKeys,
}

/// The trusted external issuers, by `iss`. Empty by default: then only the
/// authority's own tokens verify. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TrustedIssuers {
    by_issuer: HashMap<String, Arc<Entry>>,
}

impl TrustedIssuers {
    /// No trusted issuers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an issuer whose keys come from `source` (an
    /// `HttpKeySource` with the `jwks` feature).
    pub fn with(
        mut self,
        settings: TrustedIssuer,
        source: Arc<dyn KeySource>,
    ) -> Result<Self, IssuerError> {
        settings.check()?;
        if self.by_issuer.contains_key(&settings.issuer) {
            return Err(IssuerError::Duplicate(settings.issuer));
        }
        let keys = cache::IssuerKeys::new(
            settings.issuer.clone(),
            source,
            settings.cache,
            settings.algorithms.clone(),
        );
        self.by_issuer.insert(settings.issuer.clone(), Arc::new(Entry { settings, keys }));
        Ok(self)
    }

    /// Whether no issuer is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_issuer.is_empty()
    }

    /// The settings of `issuer`, if it is trusted.
    #[must_use]
    pub fn get(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.by_issuer.get(issuer).map(|e| &e.settings)
    }

    /// Whether `key` (a `sub` or `jti`) lies in a trusted issuer's
    /// namespace (`<issuer>#...`).
    pub(crate) fn owns_key(&self, key: &str) -> bool {
        key.split_once('#').is_some_and(|(issuer, _)| self.by_issuer.contains_key(issuer))
    }

    /// Verifies `compact` if its (unverified) `iss` names a trusted issuer;
    /// `None` when it does not, for the authority's own checks.
    pub(crate) async fn verify(
        &self,
        compact: &Compact<'_>,
        tokens: &TokenAuthority,
    ) -> Option<Result<Claims, AuthError>> {
        let payload: serde_json::Map<String, serde_json::Value> = compact.payload().ok()?;
        let Some(serde_json::Value::String(iss)) = payload.get("iss") else { return None };
        let entry = self.by_issuer.get(iss)?;
        Some(entry.verify(compact, payload, tokens).await)
    }
}

impl Entry {
    async fn verify(
        &self,
        compact: &Compact<'_>,
        payload: serde_json::Map<String, serde_json::Value>,
        tokens: &TokenAuthority,
    ) -> Result<Claims, AuthError> {
        let settings = &self.settings;
        let (alg, kid) = read_header(&compact.header, HeaderTypes::JwtOrAccessToken)?;
        let alg = Algorithm::from_name(alg)
            .filter(|alg| settings.algorithms.contains(alg))
            .ok_or(AuthError::InvalidToken("Algorithm not allowed"))?;
        let kid = kid.ok_or(AuthError::InvalidToken("Unknown key id"))?;
        let key = self.keys.key(kid, alg, tokens.clock()).await?;
        compact.verify_signature(&key)?;
        let claims = mapping::external_claims(payload, settings, compact.signature())?;
        let leeway = tokens.settings().leeway;
        check_times(&claims, tokens.clock().now(), leeway, settings.max_token_lifetime)?;
        if !settings.audiences.iter().any(|aud| claims.has_audience(aud)) {
            return Err(AuthError::InvalidToken("Invalid audience"));
        }
        Ok(claims)
    }
}
