//! The claims of a verified token, laid out as fastapi-jwt-auth lays them out:
//! `sub, iat, nbf, jti, exp, type, fresh, csrf` (plus `iss`/`aud` when configured).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::AuthError;

/// The kind of a token, from its `type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TokenKind {
    /// A short-lived token that opens routes and sockets.
    Access,
    /// A long-lived token that only buys new access tokens.
    Refresh,
}

impl TokenKind {
    /// The value of the `type` claim.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// Claim names the library sets itself; custom claims may never use them.
pub const RESERVED_CLAIMS: [&str; 11] =
    ["sub", "iat", "nbf", "jti", "exp", "type", "fresh", "csrf", "iss", "aud", "sid"];

/// Upper bound of `sub` in bytes.
pub(crate) const MAX_SUB_LEN: usize = 256;
/// Upper bound of `jti` and `csrf` in bytes.
pub(crate) const MAX_ID_LEN: usize = 128;
/// Time claims beyond this (year 10000) are refused.
const MAX_TIME: i64 = 253_402_300_799;

/// The verified claims of a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    /// The subject: who the token is for. A non-empty string of at most 256
    /// bytes. For a trusted issuer's token, the subject key
    /// `<iss>#<subject>` ([`crate::subject_key`]; [`Claims::subject`] gives
    /// the subject alone), so that everything keyed by subject tells
    /// issuers apart.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's unique id, used for revocation.
    pub jti: String,
    /// Expiry, Unix seconds. Always present.
    pub exp: i64,
    /// Access or refresh.
    #[serde(rename = "type")]
    pub kind: TokenKind,
    /// Whether the access token came straight from a password login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh: Option<bool>,
    /// The CSRF double-submit value, for tokens sent as cookies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Issuer, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured (a string or a list of strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// Session id (OpenID Connect's `sid`): every token of one login carries
    /// the same one, so a logout can revoke the session rather than each token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Not a claim: the last second (Unix) at which the key that signed the
    /// token is trusted, when that key is a previous key being rotated out.
    /// A live socket never outlives it. `None` for the current key.
    #[serde(skip)]
    pub key_valid_until: Option<i64>,
    /// Custom claims.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    /// Whether this is a fresh access token.
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        self.kind == TokenKind::Access && self.fresh == Some(true)
    }

    /// Whether the token came from a trusted external issuer: its `sub` is
    /// then the subject key `<iss>#<subject>` ([`crate::subject_key`]).
    #[must_use]
    pub fn is_external(&self) -> bool {
        self.external_subject().is_some()
    }

    /// The subject as its issuer names it: `sub` for the server's own
    /// tokens, the part after `<iss>#` for a trusted issuer's.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.external_subject().unwrap_or(&self.sub)
    }

    fn external_subject(&self) -> Option<&str> {
        let iss = self.iss.as_deref()?;
        self.sub.strip_prefix(iss)?.strip_prefix('#')
    }

    /// Reads claims from a JSON object (as [`Claims`] serialize), with the
    /// same strict rules as a token's payload. No signature or time is checked.
    pub fn from_json_object(map: Map<String, Value>) -> Result<Self, AuthError> {
        Self::from_payload(map)
    }

    /// Reads claims from a decoded payload, refusing every wrongly typed,
    /// missing or out-of-range reserved claim. A wrong type never counts as absent.
    pub(crate) fn from_payload(mut map: Map<String, Value>) -> Result<Self, AuthError> {
        let sub = take_string(&mut map, "sub", MAX_SUB_LEN)?
            .ok_or(AuthError::InvalidToken("Token has no subject"))?;
        let jti = take_string(&mut map, "jti", MAX_ID_LEN)?
            .ok_or(AuthError::InvalidToken("Token has no jti"))?;
        let exp = take_time(&mut map, "exp")?.ok_or(AuthError::InvalidToken("Token has no exp"))?;
        let iat = take_time(&mut map, "iat")?.ok_or(AuthError::InvalidToken("Token has no iat"))?;
        let nbf = take_time(&mut map, "nbf")?;
        let kind = match map.remove("type") {
            Some(Value::String(s)) if s == "access" => TokenKind::Access,
            Some(Value::String(s)) if s == "refresh" => TokenKind::Refresh,
            Some(_) => return Err(AuthError::InvalidToken("Unknown token type")),
            None => return Err(AuthError::InvalidToken("Token has no type")),
        };
        let fresh = match map.remove("fresh") {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(AuthError::InvalidToken("Claim fresh must be a boolean")),
        };
        let csrf = take_string(&mut map, "csrf", MAX_ID_LEN)?;
        let sid = take_string(&mut map, "sid", MAX_ID_LEN)?;
        let iss = match map.remove("iss") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(AuthError::InvalidToken("Claim iss must be a string")),
        };
        let aud = match map.remove("aud") {
            None => None,
            Some(v @ Value::String(_)) => Some(v),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Some(Value::Array(items))
            }
            Some(_) => {
                return Err(AuthError::InvalidToken("Claim aud must be a string or list"));
            }
        };
        // A map emptied by the removals above still holds its allocation.
        let extra = if map.is_empty() { Map::new() } else { map };
        Ok(Self {
            sub,
            iat,
            nbf,
            jti,
            exp,
            kind,
            fresh,
            csrf,
            iss,
            aud,
            sid,
            key_valid_until: None,
            extra,
        })
    }

    /// Whether the `aud` claim names `audience`.
    pub(crate) fn has_audience(&self, audience: &str) -> bool {
        match &self.aud {
            Some(Value::String(s)) => s == audience,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(audience)),
            _ => false,
        }
    }
}

pub(crate) fn take_string(
    map: &mut Map<String, Value>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, AuthError> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s)),
        Some(_) => Err(AuthError::InvalidToken(match name {
            "sub" => "Claim sub must be a non-empty string of at most 256 bytes",
            "jti" => "Claim jti must be a non-empty string of at most 128 bytes",
            "sid" => "Claim sid must be a non-empty string of at most 128 bytes",
            _ => "Claim csrf must be a non-empty string of at most 128 bytes",
        })),
    }
}

pub(crate) fn take_time(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, AuthError> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) if (0..=MAX_TIME).contains(&t) => Ok(Some(t)),
            _ => Err(time_error(name)),
        },
        Some(_) => Err(time_error(name)),
    }
}

fn time_error(name: &str) -> AuthError {
    AuthError::InvalidToken(match name {
        "exp" => "Claim exp must be a whole number of seconds",
        "nbf" => "Claim nbf must be a whole number of seconds",
        _ => "Claim iat must be a whole number of seconds",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn base() -> Value {
        json!({"sub":"alice","iat":100,"nbf":100,"jti":"j","exp":200,"type":"access","fresh":true})
    }

    #[test]
    fn reads_a_fastapi_jwt_auth_payload() {
        let c = Claims::from_payload(payload(base())).unwrap();
        assert_eq!(c.sub, "alice");
        assert!(c.is_fresh());
        assert!(c.extra.is_empty());
    }

    #[test]
    fn wrongly_typed_time_claims_never_count_as_absent() {
        for claim in ["exp", "nbf", "iat"] {
            for bad in [
                json!("200"),
                json!(200.5),
                json!(-1),
                json!(1e20),
                json!(null),
                json!([200]),
                json!({"v":200}),
                json!(true),
                json!(u64::MAX),
            ] {
                let mut v = base();
                v[claim] = bad.clone();
                assert!(Claims::from_payload(payload(v)).is_err(), "{claim}={bad}");
            }
        }
    }

    #[test]
    fn subject_type_and_fresh_are_strict() {
        for (claim, bad) in [
            ("sub", json!("")),
            ("sub", json!(5)),
            ("sub", json!("x".repeat(257))),
            ("type", json!("ticket")),
            ("type", json!(null)),
            ("fresh", json!("true")),
            ("jti", json!(7)),
            ("aud", json!(3)),
            ("sid", json!(3)),
            ("sid", json!("")),
        ] {
            let mut v = base();
            v[claim] = bad.clone();
            assert!(Claims::from_payload(payload(v)).is_err(), "{claim}={bad}");
        }
        for missing in ["sub", "jti", "exp", "iat", "type"] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(missing);
            assert!(Claims::from_payload(payload(v)).is_err(), "missing {missing}");
        }
    }
}
