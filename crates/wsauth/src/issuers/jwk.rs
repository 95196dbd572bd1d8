//! A trusted issuer's JWKS document, read into verification keys by `kid`.
//!
//! Every key is checked by hand before it is used: symmetric (`oct`) keys
//! are refused, a `use` other than `sig` or `key_ops` without `verify`
//! rules a key out, an `alg` pins it to that one algorithm, and only the
//! algorithms configured for the issuer are ever attached to a key.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::source::FetchError;
use crate::keys::{Algorithm, Key};
use crate::strict_json;

/// The most keys read from one document; the rest are ignored.
pub(crate) const MAX_KEYS: usize = 64;
/// The longest `kid` kept.
const MAX_KID_LEN: usize = 256;

/// One issuer's verification keys, by `kid` (a key usable with two
/// algorithms, such as an RSA key for RS256 and PS256, is held twice).
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyTable {
    by_kid: HashMap<String, Vec<Key>>,
}

impl KeyTable {
    /// Reads a JWKS document, keeping the keys usable for `allowed`.
    /// Fails when the document is malformed or holds no usable key.
    pub(crate) fn parse(body: &[u8], allowed: &[Algorithm]) -> Result<Self, FetchError> {
        let document = strict_json::parse_object(body)
            .ok_or_else(|| FetchError::Invalid("the JWKS is not a JSON object".into()))?;
        let Some(Value::Array(keys)) = document.get("keys") else {
            return Err(FetchError::Invalid("the JWKS has no keys array".into()));
        };
        let mut table = Self::default();
        for jwk in keys.iter().take(MAX_KEYS) {
            let Value::Object(jwk) = jwk else { continue };
            match read_key(jwk, allowed) {
                Ok((kid, usable)) => table.by_kid.entry(kid).or_default().extend(usable),
                Err(reason) => tracing::debug!(reason, "JWKS key skipped"),
            }
        }
        if table.by_kid.is_empty() {
            return Err(FetchError::Invalid("the JWKS holds no usable key".into()));
        }
        Ok(table)
    }

    /// The key named `kid` for `alg`.
    pub(crate) fn find(&self, kid: &str, alg: Algorithm) -> Option<&Key> {
        self.by_kid.get(kid)?.iter().find(|key| key.algorithm() == alg)
    }

    /// How many key ids the table holds.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len()
    }
}

/// One JWK: its id and a key per algorithm it may verify, or why not.
fn read_key(
    jwk: &Map<String, Value>,
    allowed: &[Algorithm],
) -> Result<(String, Vec<Key>), &'static str> {
    let kty = jwk.get("kty").and_then(Value::as_str).ok_or("no kty")?;
    if kty == "oct" {
        tracing::warn!("a trusted issuer's JWKS holds a symmetric key; refused");
        return Err("symmetric key");
    }
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid.clone(),
        _ => return Err("no usable kid"),
    };
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("use is not sig"),
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op.as_str() == Some("verify")) => {}
        Some(_) => return Err("key_ops without verify"),
    }
    let pinned = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => match Algorithm::from_name(name) {
            Some(alg) if !alg.is_hmac() => Some(alg),
            _ => return Err("alg not supported"),
        },
        Some(_) => return Err("alg is not a string"),
    };
    let crv = jwk.get("crv").and_then(Value::as_str);
    let fits: &[Algorithm] = match (kty, crv) {
        ("RSA", _) => &[Algorithm::RS256, Algorithm::PS256],
        ("EC", Some("P-256")) => &[Algorithm::ES256],
        ("OKP", Some("Ed25519")) => &[Algorithm::EdDSA],
        _ => return Err("key type not supported"),
    };
    let algs: Vec<Algorithm> = fits
        .iter()
        .copied()
        .filter(|alg| allowed.contains(alg) && pinned.is_none_or(|p| p == *alg))
        .collect();
    if algs.is_empty() {
        return Err("no configured algorithm fits the key");
    }
    // Only the public parameters reach the key parser: private or certificate
    // members are never read.
    let public: Map<String, Value> = jwk
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "kty" | "crv" | "n" | "e" | "x" | "y"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let parsed: Jwk = serde_json::from_value(Value::Object(public)).map_err(|_| "malformed key")?;
    crate::crypto::ensure_provider();
    let decoding = DecodingKey::from_jwk(&parsed).map_err(|_| "malformed key")?;
    let keys = algs.into_iter().map(|alg| Key::verifying(kid.clone(), alg, decoding.clone()));
    let keys = keys.collect();
    Ok((kid, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ed_jwk() -> Value {
        let key = Key::generate(Algorithm::EdDSA).unwrap().with_kid("ed-1");
        let set = crate::KeySet::new(key).jwks();
        serde_json::to_value(&set.keys[0]).unwrap()
    }

    fn table(keys: Vec<Value>, allowed: &[Algorithm]) -> Result<KeyTable, FetchError> {
        KeyTable::parse(json!({ "keys": keys }).to_string().as_bytes(), allowed)
    }

    #[test]
    fn reads_a_signing_key_for_its_algorithm_only() {
        let t = table(vec![ed_jwk()], &[Algorithm::EdDSA, Algorithm::RS256]).unwrap();
        assert!(t.find("ed-1", Algorithm::EdDSA).is_some());
        assert!(t.find("ed-1", Algorithm::RS256).is_none());
        assert!(t.find("other", Algorithm::EdDSA).is_none());
    }

    #[test]
    fn refuses_symmetric_encryption_and_unconfigured_keys() {
        let oct = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"});
        assert!(table(vec![oct], &[Algorithm::EdDSA]).is_err());
        let mut enc = ed_jwk();
        enc["use"] = json!("enc");
        assert!(table(vec![enc], &[Algorithm::EdDSA]).is_err());
        let mut wrap = ed_jwk();
        wrap["key_ops"] = json!(["wrapKey"]);
        assert!(table(vec![wrap], &[Algorithm::EdDSA]).is_err());
        let mut ops = ed_jwk();
        ops["key_ops"] = json!(["verify"]);
        assert!(table(vec![ops], &[Algorithm::EdDSA]).is_ok());
        assert!(table(vec![ed_jwk()], &[Algorithm::ES256]).is_err(), "EdDSA not configured");
        let mut pinned = ed_jwk();
        pinned["alg"] = json!("HS256");
        assert!(table(vec![pinned], &[Algorithm::EdDSA]).is_err());
    }

    #[test]
    fn one_bad_key_does_not_spoil_the_others() {
        let oct = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
        let t = table(vec![oct, json!(7), ed_jwk()], &[Algorithm::EdDSA]).unwrap();
        assert_eq!(t.len(), 1);
    }
}
