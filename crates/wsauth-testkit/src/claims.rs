//! The one `Claims` literal of the tests. This file is also compiled into
//! the library's own unit tests (`crates/wsauth/src/lib.rs`, `test_claims`),
//! which cannot depend on a crate that depends on the library: so it names
//! `Claims` and `TokenKind` through its parent module, which imports them
//! in either crate.

use super::{Claims, TokenKind};

/// Access-token claims of `sub` with token id `jti`, issued at `iat` and
/// expiring at `exp` (Unix seconds); every optional claim absent. Set
/// others with struct update syntax:
/// `Claims { sid: Some("s".into()), ..claims("alice", "j1", 0, 60) }`.
pub fn claims(sub: &str, jti: &str, iat: i64, exp: i64) -> Claims {
    Claims {
        sub: sub.into(),
        iat,
        nbf: None,
        jti: jti.into(),
        exp,
        kind: TokenKind::Access,
        fresh: None,
        csrf: None,
        iss: None,
        aud: None,
        sid: None,
        key_valid_until: None,
        extra: serde_json::Map::new(),
    }
}
