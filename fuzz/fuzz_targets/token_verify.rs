//! Token verification: `TokenAuthority::verify` on hostile input. The first
//! byte picks the shape of the rest:
//! - `0`: a compact token as text (header, key and signature checks);
//! - `1`: `<header JSON>\n<payload JSON>`, signed with the current key, so
//!   arbitrary bytes reach the strict JSON reader and the claims parser;
//! - anything else: a structured token (header fields, claims of right and
//!   wrong types, duplicates, the signing key, leeway and clock) read with
//!   `arbitrary`.
//!
//! Oracle: an accepted token satisfies every rule of docs/protocol.md
//! (times, subject, issuer, signature by a known key with its own algorithm,
//! no refused header), signing its claims again verifies to the same claims,
//! and an untouched token signed by a valid key is accepted.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use wsauth::{
    Algorithm, Claims, IssueError, Key, KeySet, ManualClock, TokenAuthority, TokenSettings,
};

const NOW: i64 = 1_700_000_000;
const CURRENT_SECRET: &[u8] = b"wsauth-fuzz-current-secret-of-32-bytes";
const PREVIOUS_SECRET: &[u8] = b"wsauth-fuzz-previous-secret-of-32-bytes";
const STRANGER_SECRET: &[u8] = b"wsauth-fuzz-stranger-secret-of-32-bytes";
/// The previous key verifies until this second.
const PREVIOUS_UNTIL: i64 = NOW + 60;
const ISSUER: &str = "wsauth-fuzz";
const AUDIENCE: &str = "fuzz-clients";
const REFUSED_HEADERS: [&str; 7] = ["jku", "x5u", "jwk", "x5c", "crit", "cty", "zip"];

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let current = Key::hmac(Algorithm::HS256, CURRENT_SECRET).expect("current key");
        let previous = Key::hmac(Algorithm::HS384, PREVIOUS_SECRET).expect("previous key");
        KeySet::new(current).with_previous(previous, PREVIOUS_UNTIL)
    })
}

fn previous_kid() -> &'static str {
    static KID: OnceLock<String> = OnceLock::new();
    KID.get_or_init(|| {
        Key::hmac(Algorithm::HS384, PREVIOUS_SECRET).expect("previous key").kid().to_owned()
    })
}

fn authority(settings: TokenSettings, now: i64) -> TokenAuthority {
    TokenAuthority::with_settings(keys().clone(), settings)
        .with_clock(Arc::new(ManualClock::new(now)))
}

fn hmac(alg: aws_lc_rs::hmac::Algorithm, secret: &[u8], message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(alg, secret);
    URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, message.as_bytes()))
}

fn compact(header: &[u8], payload: &[u8], signer: Signer) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = match signer {
        Signer::Current => hmac(aws_lc_rs::hmac::HMAC_SHA256, CURRENT_SECRET, &message),
        Signer::Previous => hmac(aws_lc_rs::hmac::HMAC_SHA384, PREVIOUS_SECRET, &message),
        Signer::Stranger => hmac(aws_lc_rs::hmac::HMAC_SHA256, STRANGER_SECRET, &message),
    };
    format!("{message}.{signature}")
}

/// What every accepted token must satisfy.
fn check_accepted(auth: &TokenAuthority, claims: &Claims) {
    let settings = auth.settings();
    let (now, leeway) = (auth.clock().now(), settings.leeway);
    assert!(now < claims.exp.saturating_add(leeway), "expired token accepted: {claims:?}");
    assert!(claims.nbf.is_none_or(|nbf| nbf <= now + leeway), "nbf in the future: {claims:?}");
    assert!(claims.iat <= now + leeway, "iat in the future: {claims:?}");
    assert!(!claims.sub.is_empty() && claims.sub.len() <= 256, "bad sub: {claims:?}");
    assert!(!claims.jti.is_empty(), "empty jti: {claims:?}");
    if let Some(issuer) = &settings.issuer {
        assert_eq!(claims.iss.as_deref(), Some(issuer.as_str()));
    }
    if let Some(until) = claims.key_valid_until {
        assert!(now <= until, "a retired key verified a token");
    }
    // Written again they may take more room (`1e2` becomes `100.0`): past
    // the longest token, signing refuses rather than make one that fails.
    match auth.sign(claims) {
        Ok(resigned) => {
            let mut again = auth.verify(&resigned).expect("re-signed claims verify");
            again.key_valid_until = claims.key_valid_until;
            assert_eq!(&again, claims, "claims changed through a sign and verify");
        }
        Err(IssueError::TooLong(len)) => assert!(len > settings.max_token_len),
        Err(e) => panic!("accepted claims cannot be signed again: {e}"),
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Current,
    Previous,
    Stranger,
}

/// A JSON value written by hand, so that duplicate keys, huge numbers and
/// non-finite floats can be expressed.
#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Big(u) => out.push_str(&u.to_string()),
            Json::Float(f) if f.is_nan() => out.push_str("NaN"),
            Json::Float(f) if f.is_infinite() => out.push_str("1e999"),
            Json::Float(f) => out.push_str(&format!("{f:?}")),
            Json::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => write_object(fields.iter().map(|(k, v)| (k.as_str(), v)), out),
        }
    }
}

fn write_object<'a>(fields: impl Iterator<Item = (&'a str, &'a Json)>, out: &mut String) {
    out.push('{');
    for (i, (key, value)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(key).to_string());
        out.push(':');
        value.write(out);
    }
    out.push('}');
}

#[derive(Arbitrary, Debug)]
enum Kid {
    Absent,
    Current,
    Previous,
    Other(Json),
}

#[derive(Arbitrary, Debug)]
enum HeaderName {
    Refused(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ClaimName {
    Sub,
    Iat,
    Nbf,
    Jti,
    Exp,
    Type,
    Fresh,
    Csrf,
    Iss,
    Aud,
    Sid,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ClaimValue {
    /// `NOW` plus this many seconds, as an integer.
    Time(i32),
    /// `"access"` or `"refresh"`.
    Kind(bool),
    Json(Json),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    None,
    ExtraSegment,
    TruncatedSignature,
    PaddedHeader,
}

#[derive(Arbitrary, Debug)]
struct Structured {
    kid: Kid,
    /// `None`: the algorithm of the key named by `kid`.
    alg: Option<Json>,
    typ: Option<Json>,
    header_extra: Vec<(HeaderName, Json)>,
    /// Start from a valid set of claims.
    base_claims: bool,
    /// Each claim replaces one of the same name, or is appended (a duplicate).
    claims: Vec<(ClaimName, ClaimValue, bool)>,
    signer: Signer,
    leeway: u8,
    clock: i16,
    issuer: bool,
    audience: bool,
    damage: Damage,
}

fn claim_name(name: &ClaimName) -> &str {
    match name {
        ClaimName::Sub => "sub",
        ClaimName::Iat => "iat",
        ClaimName::Nbf => "nbf",
        ClaimName::Jti => "jti",
        ClaimName::Exp => "exp",
        ClaimName::Type => "type",
        ClaimName::Fresh => "fresh",
        ClaimName::Csrf => "csrf",
        ClaimName::Iss => "iss",
        ClaimName::Aud => "aud",
        ClaimName::Sid => "sid",
        ClaimName::Other(name) => name,
    }
}

fn claim_value(value: ClaimValue) -> Json {
    match value {
        ClaimValue::Time(offset) => Json::Int(NOW + i64::from(offset)),
        ClaimValue::Kind(access) => Json::Str(if access { "access" } else { "refresh" }.into()),
        ClaimValue::Json(json) => json,
    }
}

fn structured(input: Structured) {
    let settings = TokenSettings {
        leeway: i64::from(input.leeway % 121),
        issuer: input.issuer.then(|| ISSUER.to_owned()),
        audience: input.audience.then(|| AUDIENCE.to_owned()),
        ..TokenSettings::default()
    };
    let now = NOW + i64::from(input.clock);
    let auth = authority(settings.clone(), now);
    let current_kid = keys().current().kid().to_owned();
    let named_alg = match &input.kid {
        Kid::Previous => Some("HS384"),
        Kid::Absent | Kid::Current => Some("HS256"),
        Kid::Other(_) => None,
    };
    let alg = match &input.alg {
        None => Json::Str(named_alg.unwrap_or("HS256").to_owned()),
        Some(json) => clone_json(json),
    };
    let mut header: Vec<(String, Json)> = vec![("alg".into(), alg)];
    match &input.kid {
        Kid::Absent => {}
        Kid::Current => header.push(("kid".into(), Json::Str(current_kid))),
        Kid::Previous => header.push(("kid".into(), Json::Str(previous_kid().to_owned()))),
        Kid::Other(json) => header.push(("kid".into(), clone_json(json))),
    }
    if let Some(typ) = &input.typ {
        header.push(("typ".into(), clone_json(typ)));
    }
    let mut refused = false;
    for (name, value) in &input.header_extra {
        let name = match name {
            HeaderName::Refused(i) => {
                REFUSED_HEADERS[usize::from(*i) % REFUSED_HEADERS.len()].to_owned()
            }
            HeaderName::Other(name) => name.clone(),
        };
        refused |= REFUSED_HEADERS.contains(&name.as_str());
        header.push((name, clone_json(value)));
    }

    let mut claims: Vec<(String, Json)> = Vec::new();
    if input.base_claims {
        claims.push(("sub".into(), Json::Str("alice".into())));
        claims.push(("iat".into(), Json::Int(NOW)));
        claims.push(("nbf".into(), Json::Int(NOW)));
        claims.push(("jti".into(), Json::Str("jti-1".into())));
        claims.push(("exp".into(), Json::Int(NOW + 600)));
        claims.push(("type".into(), Json::Str("access".into())));
        claims.push(("iss".into(), Json::Str(ISSUER.into())));
        claims.push(("aud".into(), Json::Str(AUDIENCE.into())));
    }
    let pristine_claims = input.claims.is_empty();
    for (name, value, append) in input.claims {
        let name = claim_name(&name).to_owned();
        let value = claim_value(value);
        match claims.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) if !append => slot.1 = value,
            _ => claims.push((name, value)),
        }
    }

    let mut header_text = String::new();
    write_object(header.iter().map(|(k, v)| (k.as_str(), v)), &mut header_text);
    let mut payload_text = String::new();
    write_object(claims.iter().map(|(k, v)| (k.as_str(), v)), &mut payload_text);
    let mut token = compact(header_text.as_bytes(), payload_text.as_bytes(), input.signer);
    match input.damage {
        Damage::None => {}
        Damage::ExtraSegment => token.push_str(".x"),
        Damage::TruncatedSignature => {
            token.pop();
        }
        Damage::PaddedHeader => token.insert(token.find('.').unwrap_or(0), '='),
    }

    let result = auth.verify(&token);
    if let Ok(claims) = &result {
        check_accepted(&auth, claims);
        assert_ne!(input.signer, Signer::Stranger, "a token signed with an unknown key verified");
        assert!(!refused, "a refused header parameter was accepted: {header_text}");
        if let Some(alg) = named_alg {
            assert_eq!(header.first().map(|(_, v)| json_str(v)), Some(Some(alg)), "alg mismatch");
        }
    }
    // The reference decision for an untouched token from the base claims.
    let typ_ok = match &input.typ {
        None => true,
        Some(Json::Str(t)) => t.eq_ignore_ascii_case("JWT"),
        Some(_) => false,
    };
    let key_ok = match (&input.kid, input.signer) {
        (Kid::Absent | Kid::Current, Signer::Current) => true,
        (Kid::Previous, Signer::Previous) => now <= PREVIOUS_UNTIL,
        _ => false,
    };
    let pristine = input.base_claims
        && pristine_claims
        && input.alg.is_none()
        && typ_ok
        && input.header_extra.is_empty()
        && matches!(input.damage, Damage::None)
        && key_ok;
    if pristine {
        let leeway = settings.leeway;
        let in_time = NOW <= now + leeway && now < NOW + 600 + leeway;
        assert_eq!(result.is_ok(), in_time, "pristine token at now={now}: {result:?}");
    }
}

fn json_str(json: &Json) -> Option<&str> {
    match json {
        Json::Str(s) => Some(s),
        _ => None,
    }
}

fn clone_json(json: &Json) -> Json {
    match json {
        Json::Null => Json::Null,
        Json::Bool(b) => Json::Bool(*b),
        Json::Int(i) => Json::Int(*i),
        Json::Big(u) => Json::Big(*u),
        Json::Float(f) => Json::Float(*f),
        Json::Str(s) => Json::Str(s.clone()),
        Json::Array(items) => Json::Array(items.iter().map(clone_json).collect()),
        Json::Object(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), clone_json(v))).collect())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode {
        b'0' => {
            let Ok(token) = std::str::from_utf8(rest) else { return };
            let auth = authority(TokenSettings::default(), NOW);
            if let Ok(claims) = auth.verify(token) {
                check_accepted(&auth, &claims);
            }
        }
        b'1' => {
            let (header, payload) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], rest),
            };
            let auth = authority(TokenSettings::default(), NOW);
            if let Ok(claims) = auth.verify(&compact(header, payload, Signer::Current)) {
                check_accepted(&auth, &claims);
            }
        }
        _ => {
            if let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
                structured(input);
            }
        }
    }
});
