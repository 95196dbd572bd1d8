//! Property tests: the claims reader and the expiry rule against a reference
//! model written from docs/protocol.md, over generated times, leeways and
//! claims of right and wrong types, with the time on a `ManualClock`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use wsauth::{
    Algorithm, IssueOptions, Key, KeySet, ManualClock, TokenAuthority, TokenKind, TokenSettings,
};

const SECRET: &[u8] = b"wsauth-properties-secret-of-32-bytes";
/// The base of generated times: every time is within a few hours of it.
const T0: i64 = 1_700_000_000;
/// Time claims past this (the year 9999) are refused.
const MAX_TIME: i64 = 253_402_300_799;

/// How one claim is written in the payload.
#[derive(Debug, Clone)]
enum Claim {
    Absent,
    /// A valid JSON value for it.
    Right(Value),
    /// A value of the wrong type or out of range.
    Wrong(Value),
}

impl Claim {
    fn value(&self) -> Option<&Value> {
        match self {
            Claim::Absent => None,
            Claim::Right(v) | Claim::Wrong(v) => Some(v),
        }
    }
}

/// A time claim: an integer near `T0`, absent, or wrongly typed.
fn time_claim() -> impl Strategy<Value = Claim> {
    prop_oneof![
        6 => (-7200i64..7200).prop_map(|d| Claim::Right(json!(T0 + d))),
        1 => Just(Claim::Absent),
        1 => prop_oneof![
            (-7200i64..7200).prop_map(|d| json!((T0 + d).to_string())),
            (-7200i64..7200).prop_map(|d| json!((T0 + d) as f64 + 0.5)),
            (-7200i64..7200).prop_map(|d| json!((T0 + d) as f64)),
            Just(json!(null)),
            Just(json!(true)),
            Just(json!(-1)),
            Just(json!(MAX_TIME + 1)),
            Just(json!(u64::MAX)),
            Just(json!([T0])),
        ]
        .prop_map(Claim::Wrong),
    ]
}

fn string_claim(right: &'static str) -> impl Strategy<Value = Claim> {
    prop_oneof![
        8 => Just(Claim::Right(json!(right))),
        1 => Just(Claim::Absent),
        1 => prop_oneof![Just(json!("")), Just(json!(7)), Just(json!(null)), Just(json!("x".repeat(300)))]
            .prop_map(Claim::Wrong),
    ]
}

fn type_claim() -> impl Strategy<Value = Claim> {
    prop_oneof![
        4 => Just(Claim::Right(json!("access"))),
        2 => Just(Claim::Right(json!("refresh"))),
        1 => Just(Claim::Absent),
        1 => prop_oneof![Just(json!("ticket")), Just(json!("ACCESS")), Just(json!(1))]
            .prop_map(Claim::Wrong),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    sub: Claim,
    jti: Claim,
    kind: Claim,
    exp: Claim,
    iat: Claim,
    nbf: Claim,
    leeway: i64,
    /// Seconds after `T0` at which the token is verified.
    now: i64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        string_claim("alice"),
        string_claim("jti-1"),
        type_claim(),
        time_claim(),
        time_claim(),
        // `nbf` is optional: absent is right.
        prop_oneof![3 => time_claim(), 1 => Just(Claim::Absent)],
        prop_oneof![Just(0i64), 0i64..120],
    )
        .prop_flat_map(|(sub, jti, kind, exp, iat, nbf, leeway)| {
            // Half the time, `now` sits within two seconds of a boundary:
            // `exp + leeway`, `iat - leeway` or `nbf - leeway`.
            let at =
                |c: &Claim, shift: i64| c.value().and_then(Value::as_i64).map(|t| t - T0 + shift);
            let edges: Vec<i64> = [at(&exp, leeway), at(&iat, -leeway), at(&nbf, -leeway)]
                .into_iter()
                .flatten()
                .collect();
            let near = if edges.is_empty() {
                (-7200i64..7200).boxed()
            } else {
                (proptest::sample::select(edges), -2i64..=2).prop_map(|(e, d)| e + d).boxed()
            };
            let now = prop_oneof![-7200i64..7200, near];
            (Just(Case { sub, jti, kind, exp, iat, nbf, leeway, now: 0 }), now)
        })
        .prop_map(|(case, now)| Case { now, ..case })
}

/// What docs/protocol.md says the verdict is: `Ok`, or the error code.
fn model(case: &Case, settings: &TokenSettings) -> Result<(), &'static str> {
    const INVALID: Result<(), &str> = Err("invalid_token");
    let right = |c: &Claim| matches!(c, Claim::Right(_));
    let nbf_ok = matches!(case.nbf, Claim::Absent | Claim::Right(_));
    if !(right(&case.sub) && right(&case.jti) && right(&case.kind)) {
        return INVALID;
    }
    if !(right(&case.exp) && right(&case.iat) && nbf_ok) {
        return INVALID;
    }
    let int = |c: &Claim| c.value().and_then(Value::as_i64);
    let (exp, iat) = (int(&case.exp).unwrap_or(0), int(&case.iat).unwrap_or(0));
    let now = T0 + case.now;
    let leeway = case.leeway;
    if now >= exp + leeway {
        return Err("token_expired");
    }
    if int(&case.nbf).is_some_and(|nbf| nbf > now + leeway) || iat > now + leeway {
        return INVALID;
    }
    let longest = match case.kind.value().and_then(Value::as_str) {
        Some("refresh") => settings.max_token_lifetime.max(settings.refresh_ttl),
        _ => settings.max_token_lifetime,
    };
    if exp - iat > longest {
        return INVALID;
    }
    Ok(())
}

/// Signs a payload exactly as given, with the key the authority verifies with.
fn sign(payload: &Map<String, Value>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).expect("json"));
    let message = format!("{header}.{body}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET);
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag))
}

fn authority(leeway: i64, clock: &ManualClock) -> TokenAuthority {
    let key = Key::hmac(Algorithm::HS256, SECRET).expect("key");
    let settings = TokenSettings { leeway, ..TokenSettings::default() };
    TokenAuthority::with_settings(KeySet::new(key), settings).with_clock(Arc::new(clock.clone()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_claims_reader_and_time_checks_follow_the_model(case in case()) {
        let mut payload = Map::new();
        for (name, claim) in [
            ("sub", &case.sub),
            ("jti", &case.jti),
            ("type", &case.kind),
            ("exp", &case.exp),
            ("iat", &case.iat),
            ("nbf", &case.nbf),
        ] {
            if let Some(value) = claim.value() {
                payload.insert(name.to_owned(), value.clone());
            }
        }
        let clock = ManualClock::new(T0 + case.now);
        let tokens = authority(case.leeway, &clock);
        let verdict = tokens.verify(&sign(&payload));
        let expected = model(&case, tokens.settings());
        prop_assert_eq!(verdict.as_ref().map(|_| ()).map_err(|e| e.code()), expected);
        if let Ok(claims) = verdict {
            prop_assert_eq!(Some(&json!(claims.exp)), case.exp.value());
            prop_assert_eq!(Some(&json!(claims.iat)), case.iat.value());
            prop_assert_eq!(claims.nbf.map(|n| json!(n)), case.nbf.value().cloned());
            let kind = if claims.kind == TokenKind::Access { "access" } else { "refresh" };
            prop_assert_eq!(Some(&json!(kind)), case.kind.value());
        }
    }

    #[test]
    fn an_issued_token_is_valid_exactly_until_exp_plus_leeway(
        ttl in 1i64..7200,
        leeway in 0i64..120,
        offset_ms in prop_oneof![-5_000i64..10_000_000, -3_000i64..3_000],
        near_boundary in any::<bool>(),
    ) {
        // Half the time, within three seconds of `exp + leeway`.
        let elapsed_ms = if near_boundary { (ttl + leeway) * 1000 + offset_ms } else { offset_ms };
        let clock = ManualClock::new(T0);
        let key = Key::hmac(Algorithm::HS256, SECRET).expect("key");
        let settings = TokenSettings { leeway, access_ttl: ttl, ..TokenSettings::default() };
        let tokens =
            TokenAuthority::with_settings(KeySet::new(key), settings).with_clock(Arc::new(clock.clone()));
        let issued = tokens.issue_access("alice", IssueOptions::default()).expect("issue");
        clock.advance_millis(elapsed_ms);
        // Whole seconds decide: valid while now < exp + leeway (RFC 7519),
        // and not before iat - leeway.
        let now = (T0 * 1000 + elapsed_ms).div_euclid(1000);
        let expected = if now >= T0 + ttl + leeway {
            Err("token_expired")
        } else if T0 > now + leeway {
            Err("invalid_token")
        } else {
            Ok(())
        };
        let verdict = tokens.verify(&issued.token).map(|_| ()).map_err(|e| e.code());
        prop_assert_eq!(verdict, expected);
        prop_assert_eq!(tokens.is_expired(&issued.claims), now >= T0 + ttl + leeway);
    }
}
