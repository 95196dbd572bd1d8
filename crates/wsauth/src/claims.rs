//! The claims of a verified token, laid out as fastapi-jwt-auth lays them out:
//! `sub, iat, nbf, jti, exp, type, fresh, csrf` (plus `iss`/`aud` when configured).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::AuthError;
use crate::strict_json::{Entries, fill_once};

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
///
/// They serialize as a token's payload, in the layout above; a trusted
/// issuer's token shows its provider's own `jti` ([`Claims::token_id`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The subject: who the token is for. A non-empty string of at most 256
    /// bytes. For a trusted issuer's token, the subject key
    /// `<iss>#<subject>` ([`crate::issuers::subject_key`]; [`Claims::subject`] gives
    /// the subject alone), so that everything keyed by subject tells
    /// issuers apart.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: Option<i64>,
    /// The token's unique id, used for revocation. For a trusted issuer's
    /// token, `<iss>#<jti>` ([`Claims::token_id`] gives the provider's own),
    /// so that every revocation by `jti` tells issuers apart.
    pub jti: String,
    /// Expiry, Unix seconds. Always present.
    pub exp: i64,
    /// Access or refresh.
    pub kind: TokenKind,
    /// Whether the access token came straight from a password login.
    pub fresh: Option<bool>,
    /// The CSRF double-submit value, for tokens sent as cookies.
    pub csrf: Option<String>,
    /// Issuer, when configured.
    pub iss: Option<String>,
    /// Audience, when configured (a string or a list of strings).
    pub aud: Option<Value>,
    /// Session id (OpenID Connect's `sid`): every token of one login carries
    /// the same one, so a logout can revoke the session rather than each token.
    pub sid: Option<String>,
    /// Not a claim (never serialized): the last second (Unix) at which the
    /// key that signed the token is trusted, when that key is a previous key
    /// being rotated out. A live socket never outlives it. `None` for the
    /// current key.
    pub key_valid_until: Option<i64>,
    /// Custom claims.
    pub extra: Map<String, Value>,
}

/// How [`Claims`] serialize: the payload's layout, with a trusted issuer's
/// own `jti`.
#[derive(Serialize)]
struct ClaimsJson<'a> {
    sub: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    jti: &'a str,
    exp: i64,
    #[serde(rename = "type")]
    kind: TokenKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ClaimsJson {
            sub: &self.sub,
            iat: self.iat,
            nbf: self.nbf,
            jti: self.token_id(),
            exp: self.exp,
            kind: self.kind,
            fresh: self.fresh,
            csrf: self.csrf.as_deref(),
            iss: self.iss.as_deref(),
            aud: self.aud.as_ref(),
            sid: self.sid.as_deref(),
            extra: &self.extra,
        }
        .serialize(serializer)
    }
}

impl Claims {
    /// Whether this is a fresh access token.
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        self.kind == TokenKind::Access && self.fresh == Some(true)
    }

    /// Whether the token came from a trusted external issuer: its `sub` is
    /// then the subject key `<iss>#<subject>` ([`crate::issuers::subject_key`]).
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

    /// The token's id as its issuer names it: `jti` for the server's own
    /// tokens, the part after `<iss>#` for a trusted issuer's.
    #[must_use]
    pub fn token_id(&self) -> &str {
        let own = || self.jti.strip_prefix(self.iss.as_deref()?)?.strip_prefix('#');
        if self.is_external() { own().unwrap_or(&self.jti) } else { &self.jti }
    }

    fn external_subject(&self) -> Option<&str> {
        let iss = self.iss.as_deref()?;
        self.sub.strip_prefix(iss)?.strip_prefix('#')
    }

    /// Reads claims from a JSON object (as [`Claims`] serialize), with the
    /// same strict rules as a token's payload. No signature or time is
    /// checked. A trusted issuer's `jti` is namespaced again
    /// (`<iss>#<jti>`), so claims read back equal the claims written.
    pub fn from_json_object(map: Map<String, Value>) -> Result<Self, AuthError> {
        let mut claims = Self::from_payload(Payload::from(map))?;
        if claims.is_external()
            && let Some(iss) = &claims.iss
        {
            claims.jti = issuer_key(iss, &claims.jti);
        }
        Ok(claims)
    }

    /// Reads claims from a decoded payload, refusing every wrongly typed,
    /// missing or out-of-range reserved claim. A wrong type never counts as absent.
    pub(crate) fn from_payload(mut payload: Payload) -> Result<Self, AuthError> {
        let sub = string_claim(payload.take("sub"), "sub", MAX_SUB_LEN)?
            .ok_or(AuthError::InvalidToken("Token has no subject"))?;
        let jti = string_claim(payload.take("jti"), "jti", MAX_ID_LEN)?
            .ok_or(AuthError::InvalidToken("Token has no jti"))?;
        let exp = time_claim(payload.take("exp"), "exp")?
            .ok_or(AuthError::InvalidToken("Token has no exp"))?;
        let iat = time_claim(payload.take("iat"), "iat")?
            .ok_or(AuthError::InvalidToken("Token has no iat"))?;
        let nbf = time_claim(payload.take("nbf"), "nbf")?;
        let kind = match payload.take("type") {
            Some(Value::String(s)) if s == "access" => TokenKind::Access,
            Some(Value::String(s)) if s == "refresh" => TokenKind::Refresh,
            Some(_) => return Err(AuthError::InvalidToken("Unknown token type")),
            None => return Err(AuthError::InvalidToken("Token has no type")),
        };
        let fresh = match payload.take("fresh") {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(AuthError::InvalidToken("Claim fresh must be a boolean")),
        };
        let csrf = string_claim(payload.take("csrf"), "csrf", MAX_ID_LEN)?;
        let sid = string_claim(payload.take("sid"), "sid", MAX_ID_LEN)?;
        let iss = match payload.take("iss") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(AuthError::InvalidToken("Claim iss must be a string")),
        };
        let aud = match payload.take("aud") {
            None => None,
            Some(v @ Value::String(_)) => Some(v),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Some(Value::Array(items))
            }
            Some(_) => {
                return Err(AuthError::InvalidToken("Claim aud must be a string or list"));
            }
        };
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
            extra: payload.extra,
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

/// A token's payload as read: each reserved claim in its place (no key to
/// allocate, nothing to look up or remove), every other claim in `extra`.
#[derive(Debug, Default)]
pub(crate) struct Payload {
    reserved: [Option<Value>; RESERVED_CLAIMS.len()],
    extra: Map<String, Value>,
}

impl Payload {
    /// Takes the reserved claim `name`, if the payload had it.
    fn take(&mut self, name: &'static str) -> Option<Value> {
        let index = RESERVED_CLAIMS.iter().position(|&reserved| reserved == name)?;
        self.reserved[index].take()
    }
}

impl Entries for Payload {
    fn insert(&mut self, key: Cow<'_, str>, value: Value) -> bool {
        match RESERVED_CLAIMS.iter().position(|&reserved| reserved == key) {
            Some(index) => fill_once(&mut self.reserved[index], value),
            None => Entries::insert(&mut self.extra, key, value),
        }
    }
}

impl From<Map<String, Value>> for Payload {
    fn from(map: Map<String, Value>) -> Self {
        let mut payload = Self::default();
        for (key, value) in map {
            // A map's keys are distinct: every insert is new.
            payload.insert(Cow::Owned(key), value);
        }
        payload
    }
}

/// A string claim's value: non-empty and at most `max` bytes.
pub(crate) fn string_claim(
    value: Option<Value>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, AuthError> {
    match value {
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

/// A time claim's value: whole seconds from 0 to the year 10000.
pub(crate) fn time_claim(
    value: Option<Value>,
    name: &'static str,
) -> Result<Option<i64>, AuthError> {
    match value {
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

/// `<issuer>#<value>`: a trusted issuer's subject or token id, kept apart
/// from the server's own and every other issuer's.
pub(crate) fn issuer_key(issuer: &str, value: &str) -> String {
    format!("{issuer}#{value}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(m) => Payload::from(m),
            _ => unreachable!(),
        }
    }

    fn base() -> Value {
        json!({"sub":"alice","iat":100,"nbf":100,"jti":"j","exp":200,"type":"access","fresh":true})
    }

    #[test]
    fn a_payload_refuses_any_key_twice_however_it_is_spelled() {
        use crate::strict_json::{parse_entries, parse_object};
        for doc in [
            r#"{"sub":"a","sub":"admin"}"#,
            r#"{"sub":"a","\u0073ub":"admin"}"#,
            r#"{"x":1,"x":2}"#,
            r#"{"x":1,"\u0078":2}"#,
            r#"{"x":{"a":1,"a":2}}"#,
        ] {
            assert!(parse_entries::<Payload>(doc.as_bytes()).is_none(), "{doc}");
            assert!(parse_object(doc.as_bytes()).is_none(), "{doc}");
        }
    }

    #[test]
    fn a_payload_reads_as_the_same_claims_as_its_object() {
        use crate::strict_json::{parse_entries, parse_object};
        let doc = br#"{"sub":"alice","iat":100,"jti":"j","exp":200,"type":"access",
            "x":{"y":[1,"z"]},"\u0073id":"s","aud":["a","b"],"n":1.5}"#;
        let read = Claims::from_payload(parse_entries(doc).unwrap()).unwrap();
        assert_eq!(read, Claims::from_json_object(parse_object(doc).unwrap()).unwrap());
        assert_eq!(read.sid.as_deref(), Some("s"));
        assert_eq!(read.extra.len(), 2);
        assert_eq!(read.extra["x"], json!({"y": [1, "z"]}));
    }

    #[test]
    fn an_external_token_id_shows_the_providers_own_and_reads_back_namespaced() {
        let mut v = base();
        v["iss"] = json!("https://idp.example");
        v["sub"] = json!("https://idp.example#alice");
        v["jti"] = json!("https://idp.example#j");
        let external = Claims::from_payload(payload(v)).unwrap();
        assert_eq!(external.token_id(), "j");
        let Value::Object(json) = serde_json::to_value(&external).unwrap() else { unreachable!() };
        assert_eq!(json["jti"], "j");
        assert_eq!(Claims::from_json_object(json).unwrap(), external);
        // A local token's id is its jti, whatever it holds.
        let mut v = base();
        v["iss"] = json!("https://idp.example");
        v["jti"] = json!("https://idp.example#j");
        let local = Claims::from_payload(payload(v)).unwrap();
        assert_eq!(local.token_id(), "https://idp.example#j");
        let Value::Object(json) = serde_json::to_value(&local).unwrap() else { unreachable!() };
        assert_eq!(Claims::from_json_object(json).unwrap(), local);
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
