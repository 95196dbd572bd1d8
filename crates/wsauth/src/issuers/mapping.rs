//! A trusted issuer's payload mapped onto wsauth's [`Claims`], with the
//! same strict types as the server's own tokens.
//!
//! Such tokens carry no `type`: they are access tokens. The subject comes
//! from the issuer's subject claim and is namespaced by the issuer
//! ([`subject_key`]), so `alice` at an identity provider is never the local
//! `alice`. Claims that only wsauth's own tokens give meaning to (`type`,
//! `fresh`, `sid`, `csrf`) are dropped: a provider's `sid` must not stand
//! for a wsauth session, nor its `fresh` for a password login. A missing
//! `jti` or `iat` is replaced as the issuer's settings say. The `jti` is
//! namespaced by the issuer too (`<iss>#<jti>`), so a revocation by `jti`
//! never reaches a local token or another issuer's with the same value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{MissingIat, MissingJti, TrustedIssuer, subject_key};
use crate::AuthError;
use crate::claims::{
    Claims, MAX_ID_LEN, MAX_SUB_LEN, TokenKind, issuer_key, string_claim, time_claim,
};

/// Claims of a trusted issuer's token as wsauth's, or why not.
pub(super) fn external_claims(
    mut map: Map<String, Value>,
    issuer: &TrustedIssuer,
    signature: &str,
) -> Result<Claims, AuthError> {
    if let Some(rule) = &issuer.type_claim {
        match map.get(&rule.claim) {
            Some(Value::String(v)) if *v == rule.value => {}
            _ => return Err(AuthError::WrongTokenType("Only access tokens are allowed")),
        }
    }
    let subject = match map.remove(&issuer.subject_claim) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_SUB_LEN => s,
        Some(_) => return Err(AuthError::InvalidToken("Subject claim must be a non-empty string")),
        None => return Err(AuthError::InvalidToken("Token has no subject")),
    };
    for local_only in ["sub", "type", "fresh", "sid", "csrf"] {
        map.remove(local_only);
    }
    let sub = subject_key(&issuer.issuer, &subject);
    if sub.len() > MAX_SUB_LEN {
        return Err(AuthError::InvalidToken("Issuer and subject are too long"));
    }
    let exp =
        time_claim(map.remove("exp"), "exp")?.ok_or(AuthError::InvalidToken("Token has no exp"))?;
    let nbf = time_claim(map.remove("nbf"), "nbf")?;
    let iat = match (time_claim(map.remove("iat"), "iat")?, issuer.missing_iat) {
        (Some(iat), _) => iat,
        (None, MissingIat::Refuse) => return Err(AuthError::InvalidToken("Token has no iat")),
        // The earliest it can have been issued under the lifetime rule, so
        // a subject revocation after that always covers it. (`nbf` is no
        // such bound: a token may be issued before it becomes valid.)
        (None, MissingIat::Earliest) => exp.saturating_sub(issuer.max_token_lifetime),
    };
    let jti = match (string_claim(map.remove("jti"), "jti", MAX_ID_LEN)?, issuer.missing_jti) {
        (Some(jti), _) => jti,
        (None, MissingJti::Refuse) => return Err(AuthError::InvalidToken("Token has no jti")),
        (None, MissingJti::SignatureDigest) => signature_digest(signature),
    };
    let jti = issuer_key(&issuer.issuer, &jti);
    let iss = Some(issuer.issuer.clone());
    map.remove("iss");
    let aud = match map.remove("aud") {
        Some(v @ Value::String(_)) => Some(v),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Some(Value::Array(items))
        }
        Some(_) => return Err(AuthError::InvalidToken("Claim aud must be a string or list")),
        None => None,
    };
    let extra = if map.is_empty() { Map::new() } else { map };
    Ok(Claims {
        sub,
        iat,
        nbf,
        jti,
        exp,
        kind: TokenKind::Access,
        fresh: None,
        csrf: None,
        iss,
        aud,
        sid: None,
        key_valid_until: None,
        extra,
    })
}

/// `sig-` and the first 16 bytes of the SHA-256 of the signature: unique per
/// token, so revoking it by `jti` works.
fn signature_digest(signature: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signature.as_bytes());
    format!("sig-{}", URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]))
}
