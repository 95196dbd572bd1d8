//! Signing and verification keys, pinned algorithms, rotation and JWKS export.
//!
//! The accepted algorithm is a property of each configured key: the `alg` in a
//! token's header must equal its key's algorithm, and never chooses a key family.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The signature algorithms wsauth supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// Ed25519.
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Algorithm {
    /// The name used in a JWT header.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// Parses a header name; exact and case-sensitive (`none` is never accepted).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "EdDSA" => Self::EdDSA,
            "ES256" => Self::ES256,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            _ => return None,
        })
    }

    /// Whether this is an HMAC (shared secret) algorithm.
    #[must_use]
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The HMAC algorithm, for HMAC algorithms.
    fn hmac_algorithm(self) -> Option<aws_lc_rs::hmac::Algorithm> {
        match self {
            Self::HS256 => Some(aws_lc_rs::hmac::HMAC_SHA256),
            Self::HS384 => Some(aws_lc_rs::hmac::HMAC_SHA384),
            Self::HS512 => Some(aws_lc_rs::hmac::HMAC_SHA512),
            _ => None,
        }
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
            Self::HS384 => jsonwebtoken::Algorithm::HS384,
            Self::HS512 => jsonwebtoken::Algorithm::HS512,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::PS256 => jsonwebtoken::Algorithm::PS256,
        }
    }
}

/// Why a key could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than 32 bytes, or a well-known weak value.
    #[error(
        "HMAC secret is too weak ({0} bytes; at least 32 random bytes are required). \
         Use the insecure development switch only for local experiments."
    )]
    WeakSecret(usize),
    /// The PEM or DER could not be parsed as a key for the algorithm.
    #[error("cannot load {alg:?} key: {reason}")]
    Invalid {
        /// The algorithm the key was meant for.
        alg: Algorithm,
        /// What went wrong.
        reason: String,
    },
    /// The algorithm does not fit the kind of key given.
    #[error("algorithm {0:?} does not fit this kind of key")]
    WrongAlgorithm(Algorithm),
    /// The random source failed.
    #[error("random number generator failed")]
    Random,
}

/// The shortest HMAC secret accepted outside insecure development mode.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// One key: its id, its pinned algorithm, and the material to verify (and
/// possibly sign) with it.
#[derive(Clone)]
pub struct Key {
    kid: String,
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    public_jwk: Option<Jwk>,
    /// An HMAC key's verifier, set up once (not once per token).
    hmac: Option<aws_lc_rs::hmac::Key>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

fn invalid(alg: Algorithm, e: impl std::fmt::Display) -> KeyError {
    KeyError::Invalid { alg, reason: e.to_string() }
}

impl Key {
    /// An HMAC key from a raw secret of at least 32 bytes.
    ///
    /// The `kid` is derived from the secret (a one-way digest), so every
    /// process sharing the secret names the key alike.
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        Self::hmac_unchecked(alg, secret)
    }

    pub(crate) fn hmac_unchecked(alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if !alg.is_hmac() {
            return Err(KeyError::WrongAlgorithm(alg));
        }
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &[b"wsauth-kid:".as_slice(), secret].concat(),
        );
        let kid = format!("hs-{}", hex(&digest.as_ref()[..8]));
        Ok(Self {
            kid,
            alg,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
            hmac: alg.hmac_algorithm().map(|hmac| aws_lc_rs::hmac::Key::new(hmac, secret)),
        })
    }

    /// A signing key from a PKCS#8 private key in PEM (EdDSA, ES256, RS256, PS256).
    /// Its verification key and JWK are derived from it.
    pub fn from_private_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(pem),
            _ => return Err(KeyError::WrongAlgorithm(alg)),
        }
        .map_err(|e| invalid(alg, e))?;
        Self::from_encoding(alg, encoding)
    }

    /// A signing key from a PKCS#8 private key in DER (EdDSA, ES256) or a PKCS#1
    /// RSA private key in DER (RS256, PS256).
    pub fn from_private_der(alg: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(der),
            Algorithm::ES256 => EncodingKey::from_ec_der(der),
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_der(der),
            _ => return Err(KeyError::WrongAlgorithm(alg)),
        };
        Self::from_encoding(alg, encoding)
    }

    fn from_encoding(alg: Algorithm, encoding: EncodingKey) -> Result<Self, KeyError> {
        crate::crypto::ensure_provider();
        let jwk = Jwk::from_encoding_key(&encoding, alg.to_jwt()).map_err(|e| invalid(alg, e))?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(alg, e))?;
        // Prove the pair works before accepting it.
        let sig = jsonwebtoken::crypto::sign(b"probe", &encoding, alg.to_jwt())
            .map_err(|e| invalid(alg, e))?;
        if !jsonwebtoken::crypto::verify(&sig, b"probe", &decoding, alg.to_jwt()).unwrap_or(false) {
            return Err(invalid(alg, "key does not verify its own signature"));
        }
        let kid = jwk_thumbprint_kid(&jwk);
        Ok(Self { kid, alg, encoding: Some(encoding), decoding, public_jwk: Some(jwk), hmac: None })
    }

    /// A verification-only key from a public key in PEM (SPKI, or PKCS#1 for RSA).
    pub fn from_public_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        crate::crypto::ensure_provider();
        let decoding = match alg {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            Algorithm::RS256 | Algorithm::PS256 => DecodingKey::from_rsa_pem(pem),
            _ => return Err(KeyError::WrongAlgorithm(alg)),
        }
        .map_err(|e| invalid(alg, e))?;
        let kid = format!("pub-{}", alg.name().to_ascii_lowercase());
        Ok(Self { kid, alg, encoding: None, decoding, public_jwk: None, hmac: None })
    }

    /// A verification-only key from a trusted issuer's JWKS.
    pub(crate) fn verifying(kid: String, alg: Algorithm, decoding: DecodingKey) -> Self {
        Self { kid, alg, encoding: None, decoding, public_jwk: None, hmac: None }
    }

    /// Generates a new random key: 32 bytes for HMAC, a fresh key pair for
    /// EdDSA and ES256. RSA keys are loaded from PEM instead.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        Self::from_material(alg, &generate_key_material(alg)?)
    }

    /// A key from material made by [`generate_key_material`].
    pub fn from_material(alg: Algorithm, material: &[u8]) -> Result<Self, KeyError> {
        if alg.is_hmac() {
            Self::hmac(alg, material)
        } else {
            Self::from_private_der(alg, material)
        }
    }

    /// Replaces the key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        if let Some(jwk) = self.public_jwk.as_mut() {
            jwk.common.key_id = Some(self.kid.clone());
        }
        self
    }

    /// The key id carried in the `kid` header of tokens it signs.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key accepts.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether this key holds private material and can sign.
    #[must_use]
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The HMAC verifier of an HMAC key made from its secret.
    pub(crate) fn hmac_verifier(&self) -> Option<&aws_lc_rs::hmac::Key> {
        self.hmac.as_ref()
    }

    fn jwk(&self) -> Option<Jwk> {
        let mut jwk = self.public_jwk.clone()?;
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::from(self.alg.to_jwt()));
        Some(jwk)
    }
}

fn jwk_thumbprint_kid(jwk: &Jwk) -> String {
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .map(|t| t.chars().take(16).collect())
        .unwrap_or_else(|_| "key".to_owned())
}

/// Generates new key material, to be stored and later loaded with
/// [`Key::from_material`]: 32 random bytes for HMAC, a PKCS#8 v1 DER private
/// key for EdDSA and ES256.
pub fn generate_key_material(alg: Algorithm) -> Result<Vec<u8>, KeyError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    if alg.is_hmac() {
        return Ok(random_bytes::<32>()?.to_vec());
    }
    let doc = match alg {
        Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| KeyError::Random)?,
        Algorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(|_| KeyError::Random)?,
        _ => return Err(KeyError::WrongAlgorithm(alg)),
    };
    Ok(doc.as_ref().to_vec())
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| KeyError::Random)?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a key set holds under a `kid` at a given time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyLookup<'a> {
    /// A key that verifies now, with the last second it does (`None`: the
    /// current key, which has no end).
    Valid {
        /// The key.
        key: &'a Key,
        /// Its `valid_until`, for a previous key.
        until: Option<i64>,
    },
    /// A previous key whose `valid_until` has passed.
    Retired(&'a Key),
    /// No key has this `kid`.
    Unknown,
}

impl<'a> KeyLookup<'a> {
    /// The key and its end when it still verifies.
    #[cfg(test)]
    fn valid(self) -> Option<(&'a Key, Option<i64>)> {
        match self {
            Self::Valid { key, until } => Some((key, until)),
            Self::Retired(_) | Self::Unknown => None,
        }
    }
}

/// The current signing key plus previous keys that still verify until a
/// given time (rotation).
#[derive(Debug, Clone)]
pub struct KeySet {
    current: Key,
    previous: Vec<(Key, i64)>,
}

impl KeySet {
    /// A key set with one key, which signs and is the default for tokens
    /// without a `kid` (such as those made by fastapi-jwt-auth).
    #[must_use]
    pub fn new(current: Key) -> Self {
        Self { current, previous: Vec::new() }
    }

    /// Adds a previous key that still verifies tokens until `valid_until`
    /// (Unix seconds), and not after.
    #[must_use]
    pub fn with_previous(mut self, key: Key, valid_until: i64) -> Self {
        self.previous.push((key, valid_until));
        self
    }

    /// The key that signs new tokens.
    #[must_use]
    pub fn current(&self) -> &Key {
        &self.current
    }

    /// What `kid` names at `now`: a key still valid, with the last second it
    /// is valid (`None` for the current key, which has no end); a previous
    /// key past its `valid_until`; or nothing. `None` as `kid` picks the
    /// current (default) key.
    pub(crate) fn find(&self, kid: Option<&str>, now: i64) -> KeyLookup<'_> {
        let Some(kid) = kid else {
            return KeyLookup::Valid { key: &self.current, until: None };
        };
        if self.current.kid == kid {
            return KeyLookup::Valid { key: &self.current, until: None };
        }
        let mut named = self.previous.iter().filter(|(k, _)| k.kid == kid);
        match named.clone().find(|(_, until)| now <= *until) {
            Some((key, until)) => KeyLookup::Valid { key, until: Some(*until) },
            None => named.next().map_or(KeyLookup::Unknown, |(key, _)| KeyLookup::Retired(key)),
        }
    }

    /// The previous keys, each with its `valid_until`, in the order added.
    pub fn previous(&self) -> impl Iterator<Item = (&Key, i64)> {
        self.previous.iter().map(|(k, until)| (k, *until))
    }

    /// Previous keys whose `valid_until` is before `now`: they no longer
    /// verify anything, so a configuration still listing them is stale.
    pub fn retired(&self, now: i64) -> impl Iterator<Item = (&Key, i64)> {
        self.previous().filter(move |(_, until)| *until < now)
    }

    /// The public keys as a JWKS document (HMAC secrets are never exported).
    pub fn jwks(&self) -> JwkSet {
        let keys = std::iter::once(&self.current)
            .chain(self.previous.iter().map(|(k, _)| k))
            .filter_map(Key::jwk)
            .collect();
        JwkSet { keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hmac_secrets_are_refused() {
        assert!(matches!(Key::hmac(Algorithm::HS256, b"secret"), Err(KeyError::WeakSecret(6))));
        assert!(Key::hmac(Algorithm::HS256, &[7u8; 31]).is_err());
        assert!(Key::hmac(Algorithm::HS256, &[7u8; 32]).is_ok());
    }

    #[test]
    fn hmac_kid_is_stable_and_secret_independent_of_alg_family() {
        let a = Key::hmac(Algorithm::HS256, &[1u8; 32]).unwrap();
        let b = Key::hmac(Algorithm::HS256, &[1u8; 32]).unwrap();
        let c = Key::hmac(Algorithm::HS256, &[2u8; 32]).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
    }

    #[test]
    fn generated_asymmetric_keys_export_public_jwks_only() {
        let ed = Key::generate(Algorithm::EdDSA).unwrap();
        let es = Key::generate(Algorithm::ES256).unwrap();
        let hs = Key::generate(Algorithm::HS256).unwrap();
        let set = KeySet::new(ed).with_previous(es, i64::MAX).with_previous(hs, i64::MAX);
        let jwks = serde_json::to_value(set.jwks()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        let text = jwks.to_string();
        assert!(!text.contains("\"d\""), "private material exported: {text}");
        assert!(!text.contains("\"k\""), "secret exported: {text}");
    }

    #[test]
    fn previous_keys_stop_verifying_after_their_window() {
        let old = Key::generate(Algorithm::HS256).unwrap();
        let kid = old.kid().to_owned();
        let set = KeySet::new(Key::generate(Algorithm::HS256).unwrap()).with_previous(old, 100);
        assert_eq!(set.find(Some(&kid), 100).valid().map(|(_, until)| until), Some(Some(100)));
        assert_eq!(set.find(None, 100).valid().map(|(_, until)| until), Some(None));
        assert!(matches!(set.find(Some(&kid), 101), KeyLookup::Retired(key) if key.kid() == kid));
        assert!(matches!(set.find(Some("unknown"), 0), KeyLookup::Unknown));
        assert_eq!(set.retired(100).count(), 0);
        assert_eq!(
            set.retired(101).map(|(key, until)| (key.kid(), until)).collect::<Vec<_>>(),
            [(kid.as_str(), 100)]
        );
    }
}
