//! Issuing and verifying tokens.
//!
//! Verification is strict and explicit: the header is parsed by hand, the key
//! is chosen by `kid` (never by `alg`), the algorithm must equal the key's,
//! duplicate JSON keys are refused, `exp` is required, `nbf` and `iat` are
//! checked, and every reserved claim must have its exact type.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::sync::Arc;

use crate::claims::{Claims, RESERVED_CLAIMS, TokenKind};
use crate::clock::{SharedClock, SystemClock};
use crate::header::{Header, HeaderTypes, read_header};
use crate::keys::{Key, KeyLookup, KeySet, random_bytes};
use crate::strict_json::Entries;
use crate::{AuthError, strict_json};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Settings for issuing and verifying tokens. Every field documents its default.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Lifetime of access tokens in seconds. Default: 900 (15 minutes).
    pub access_ttl: i64,
    /// Lifetime of refresh tokens in seconds. Default: 2,592,000 (30 days).
    pub refresh_ttl: i64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default: 0.
    pub leeway: i64,
    /// When set, issued tokens carry this `iss`, and verified tokens must. Default: none.
    pub issuer: Option<String>,
    /// When set, issued tokens carry this `aud`, and verified tokens must name it. Default: none.
    pub audience: Option<String>,
    /// The longest token accepted, in bytes. Default: 8192.
    pub max_token_len: usize,
    /// The longest lifetime (`exp - iat`, seconds) an access token may have
    /// been minted with; longer ones are refused. Refresh tokens may live up
    /// to the larger of this and `refresh_ttl`. Default: 86,400 (one day),
    /// above what real issuers and fastapi-jwt-auth services use for access
    /// tokens (its default is 15 minutes).
    pub max_token_lifetime: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl: 15 * 60,
            refresh_ttl: 30 * 24 * 3600,
            leeway: 0,
            issuer: None,
            audience: None,
            max_token_len: MAX_TOKEN_LEN,
            max_token_lifetime: 24 * 3600,
        }
    }
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// A custom claim tried to set a claim the library owns.
    #[error("custom claim {0:?} is reserved and cannot be set")]
    ReservedClaim(String),
    /// The subject is empty or longer than 256 bytes.
    #[error("subject must be a non-empty string of at most 256 bytes")]
    InvalidSubject,
    /// The current key cannot sign (verification-only key).
    #[error("the current key cannot sign")]
    CannotSign,
    /// Signing or randomness failed.
    #[error("signing failed: {0}")]
    Crypto(String),
    /// The token would be longer than `max_token_len`, so it would never
    /// verify (long custom claims, issuer or audience).
    #[error("the token would be {0} bytes, over the longest accepted")]
    TooLong(usize),
}

/// Options for one token being issued.
#[derive(Debug, Clone, Default)]
pub struct IssueOptions {
    /// Access tokens: whether it comes straight from a password login.
    pub fresh: bool,
    /// Add a `csrf` claim for cookie transport (a random value).
    pub csrf: bool,
    /// The session (`sid` claim) the token belongs to, if any.
    pub session: Option<String>,
    /// Custom claims; reserved names are refused.
    pub extra: Map<String, Value>,
}

/// A freshly issued token: the compact JWT and its claims.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT (secret: never log it).
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

#[derive(Serialize)]
struct OutHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

use serde::Serialize;

/// Issues and verifies tokens with one key set, one set of settings and one clock.
#[derive(Clone)]
pub struct TokenAuthority {
    keys: Arc<KeySet>,
    settings: Arc<TokenSettings>,
    clock: SharedClock,
}

impl std::fmt::Debug for TokenAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthority").field("settings", &self.settings).finish_non_exhaustive()
    }
}

const INVALID: AuthError = AuthError::InvalidToken("Invalid token");

impl TokenAuthority {
    /// An authority over `keys` with default settings and the system clock.
    #[must_use]
    pub fn new(keys: KeySet) -> Self {
        Self::with_settings(keys, TokenSettings::default())
    }

    /// An authority with explicit settings.
    #[must_use]
    pub fn with_settings(keys: KeySet, settings: TokenSettings) -> Self {
        Self { keys: Arc::new(keys), settings: Arc::new(settings), clock: Arc::new(SystemClock) }
    }

    /// Replaces the clock (tests, simulations).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock expiry is decided with.
    #[must_use]
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The key set.
    #[must_use]
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Issues an access token for `sub`.
    pub fn issue_access(
        &self,
        sub: &str,
        options: IssueOptions,
    ) -> Result<IssuedToken, IssueError> {
        self.issue(sub, TokenKind::Access, options)
    }

    /// Issues a refresh token for `sub` (`fresh` is ignored).
    pub fn issue_refresh(
        &self,
        sub: &str,
        options: IssueOptions,
    ) -> Result<IssuedToken, IssueError> {
        self.issue(sub, TokenKind::Refresh, options)
    }

    fn issue(
        &self,
        sub: &str,
        kind: TokenKind,
        options: IssueOptions,
    ) -> Result<IssuedToken, IssueError> {
        if let Some(name) = options.extra.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
            return Err(IssueError::ReservedClaim(name.clone()));
        }
        if sub.is_empty() || sub.len() > crate::claims::MAX_SUB_LEN {
            return Err(IssueError::InvalidSubject);
        }
        let now = self.clock.now();
        let ttl = match kind {
            TokenKind::Access => self.settings.access_ttl,
            TokenKind::Refresh => self.settings.refresh_ttl,
        };
        let csrf = if options.csrf { Some(random_id()?) } else { None };
        let claims = Claims {
            sub: sub.to_owned(),
            iat: now,
            nbf: Some(now),
            jti: random_id()?,
            exp: now.saturating_add(ttl),
            kind,
            fresh: (kind == TokenKind::Access).then_some(options.fresh),
            csrf,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone().map(Value::String),
            sid: options.session,
            key_valid_until: None,
            extra: options.extra,
        };
        let token = self.sign(&claims)?;
        Ok(IssuedToken { token, claims })
    }

    /// Signs `claims` as they are with the current key: for re-issuing a
    /// token whose claims were kept (an exact retry of a refresh). New tokens
    /// come from [`TokenAuthority::issue_access`] and `issue_refresh`. Never
    /// makes a token longer than `max_token_len`, which would not verify.
    pub fn sign(&self, claims: &Claims) -> Result<String, IssueError> {
        crate::crypto::ensure_provider();
        let key = self.keys.current();
        let encoding = key.encoding().ok_or(IssueError::CannotSign)?;
        let header = OutHeader { typ: "JWT", alg: key.algorithm().name(), kid: key.kid() };
        let crypto = |e: serde_json::Error| IssueError::Crypto(e.to_string());
        let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(crypto)?);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(crypto)?));
        let sig = jsonwebtoken::crypto::sign(out.as_bytes(), encoding, key.algorithm().to_jwt())
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        out.push('.');
        out.push_str(&sig);
        if out.len() > self.settings.max_token_len {
            return Err(IssueError::TooLong(out.len()));
        }
        Ok(out)
    }

    /// Verifies a compact JWT: structure, header, key, signature, claim types,
    /// `exp`, `nbf`, `iat`, `iss` and `aud`. The token kind is checked by the caller.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let compact = Compact::split(token, self.settings.max_token_len)?;
        self.verify_compact(&compact)
    }

    /// [`TokenAuthority::verify`] of a token already split.
    pub(crate) fn verify_compact(&self, compact: &Compact<'_>) -> Result<Claims, AuthError> {
        let (alg, kid) = read_header(&compact.header, HeaderTypes::Jwt)?;
        let now = self.clock.now();
        let (key, key_valid_until) = match self.keys.find(kid, now) {
            KeyLookup::Valid { key, until } => (key, until),
            // Only a token the retired key really signed is told so; any
            // other naming its `kid` is as good as unknown.
            KeyLookup::Retired(key)
                if alg == key.algorithm().name() && compact.verify_signature(key).is_ok() =>
            {
                return Err(AuthError::KeyRetired);
            }
            KeyLookup::Retired(_) | KeyLookup::Unknown => {
                return Err(AuthError::InvalidToken("Unknown key id"));
            }
        };
        if alg != key.algorithm().name() {
            return Err(AuthError::InvalidToken("Algorithm not allowed"));
        }
        compact.verify_signature(key)?;
        let mut claims = Claims::from_payload(compact.payload()?)?;
        claims.key_valid_until = key_valid_until;
        let longest = match claims.kind {
            TokenKind::Access => self.settings.max_token_lifetime,
            TokenKind::Refresh => self.settings.max_token_lifetime.max(self.settings.refresh_ttl),
        };
        check_times(&claims, now, self.settings.leeway, longest)?;
        self.check_issuer_audience(&claims)?;
        Ok(claims)
    }

    /// Whether `claims` are past their lifetime at the current time.
    /// Rule (RFC 7519 4.1.4): a token is expired once `now >= exp + leeway`.
    #[must_use]
    pub fn is_expired(&self, claims: &Claims) -> bool {
        self.clock.now() >= claims.exp.saturating_add(self.settings.leeway)
    }

    fn check_issuer_audience(&self, claims: &Claims) -> Result<(), AuthError> {
        if let Some(iss) = &self.settings.issuer
            && claims.iss.as_deref() != Some(iss.as_str())
        {
            return Err(AuthError::InvalidToken("Invalid issuer"));
        }
        if let Some(aud) = &self.settings.audience
            && !claims.has_audience(aud)
        {
            return Err(AuthError::InvalidToken("Invalid audience"));
        }
        Ok(())
    }
}

const BAD_SIGNATURE: AuthError = AuthError::InvalidToken("Signature verification failed");

/// A compact JWT split into its parts, with its header parsed; nothing is
/// verified yet.
pub(crate) struct Compact<'a> {
    /// `header.payload`, the signed message.
    signed: &'a str,
    payload64: &'a str,
    signature64: &'a str,
    /// The header, read with the strict JSON reader.
    pub(crate) header: Header,
}

impl<'a> Compact<'a> {
    /// Splits a token of at most `max_len` bytes into exactly three
    /// non-empty segments and parses its header.
    pub(crate) fn split(token: &'a str, max_len: usize) -> Result<Self, AuthError> {
        if token.len() > max_len {
            return Err(AuthError::InvalidToken("Token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::InvalidToken("Not enough segments"));
        };
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(INVALID);
        }
        let header_bytes = URL_SAFE_NO_PAD.decode(h64).map_err(|_| INVALID)?;
        let header = strict_json::parse_entries(&header_bytes).ok_or(INVALID)?;
        Ok(Self {
            signed: &token[..h64.len() + 1 + p64.len()],
            payload64: p64,
            signature64: s64,
            header,
        })
    }

    /// The payload, read with the strict JSON reader. Unverified until
    /// [`Compact::verify_signature`] has passed.
    pub(crate) fn payload<E: Entries>(&self) -> Result<E, AuthError> {
        let bytes = URL_SAFE_NO_PAD.decode(self.payload64).map_err(|_| INVALID)?;
        strict_json::parse_entries(&bytes).ok_or(INVALID)
    }

    /// The signature segment (its digest stands in for a missing `jti`).
    pub(crate) fn signature(&self) -> &str {
        self.signature64
    }

    /// Checks the signature with `key`, under the key's one algorithm.
    pub(crate) fn verify_signature(&self, key: &Key) -> Result<(), AuthError> {
        if let Some(hmac) = key.hmac_verifier() {
            // The verifier was set up with the key; the tag is decoded on
            // the stack, and compared in constant time by `hmac::verify`.
            let mut tag = [0u8; 96];
            let valid = URL_SAFE_NO_PAD.decode_slice(self.signature64, &mut tag).is_ok_and(|n| {
                aws_lc_rs::hmac::verify(hmac, self.signed.as_bytes(), &tag[..n]).is_ok()
            });
            return if valid { Ok(()) } else { Err(BAD_SIGNATURE) };
        }
        crate::crypto::ensure_provider();
        let valid = jsonwebtoken::crypto::verify(
            self.signature64,
            self.signed.as_bytes(),
            key.decoding(),
            key.algorithm().to_jwt(),
        )
        .unwrap_or(false);
        if valid { Ok(()) } else { Err(BAD_SIGNATURE) }
    }
}

/// `exp` (required, RFC 7519 4.1.4: expired once `now >= exp + leeway`),
/// `nbf`, `iat`, and the longest lifetime `exp - iat` a token may have been
/// minted with.
pub(crate) fn check_times(
    claims: &Claims,
    now: i64,
    leeway: i64,
    longest: i64,
) -> Result<(), AuthError> {
    if now >= claims.exp.saturating_add(leeway) {
        return Err(AuthError::TokenExpired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(AuthError::InvalidToken("Token is not valid yet"));
    }
    if claims.iat > now.saturating_add(leeway) {
        return Err(AuthError::InvalidToken("Token was issued in the future"));
    }
    if claims.exp.saturating_sub(claims.iat) > longest {
        return Err(AuthError::InvalidToken("Token lifetime is too long"));
    }
    Ok(())
}

/// A random identifier: 128 bits as a UUID v4 string, like fastapi-jwt-auth's `jti`.
fn random_id() -> Result<String, IssueError> {
    let bytes = random_bytes::<16>().map_err(|e| IssueError::Crypto(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, Key};

    #[test]
    fn no_token_is_issued_that_would_be_too_long_to_verify() {
        // Found by the server_config fuzz target: an issuer of a few KiB
        // made every token the server issued too long for its own verifier.
        let settings =
            TokenSettings { issuer: Some("i".repeat(MAX_TOKEN_LEN)), ..Default::default() };
        let key = Key::generate(Algorithm::HS256).unwrap();
        let tokens = TokenAuthority::with_settings(KeySet::new(key), settings);
        let issued = tokens.issue_access("alice", IssueOptions::default());
        assert!(
            matches!(issued, Err(IssueError::TooLong(len)) if len > MAX_TOKEN_LEN),
            "{issued:?}"
        );
    }
}
