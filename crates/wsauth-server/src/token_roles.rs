//! The roles a trusted issuer's token carries, for channel rules: the claim
//! its `[[trusted_issuers]]` table names with `roles_claim`, a path of keys
//! (`["realm_access", "roles"]` for Keycloak, `["https://example.com/roles"]`
//! for a namespaced claim). A list of strings, or one string; anything else
//! carries no role. Bounded: at most [`MAX_ROLES`] roles of at most
//! [`MAX_ROLE_LEN`] bytes are taken, the rest ignored.

use serde_json::Value;
use std::collections::HashMap;
use wsauth::Claims;

use crate::trusted_issuers::TrustedIssuerConfig;

/// The most roles taken from one token.
pub(crate) const MAX_ROLES: usize = 64;
/// The longest role taken, in bytes.
pub(crate) const MAX_ROLE_LEN: usize = 64;

/// Each trusted issuer's `roles_claim`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenRoles {
    paths: HashMap<String, Vec<String>>,
}

impl TokenRoles {
    pub(crate) fn new(issuers: &[TrustedIssuerConfig]) -> Self {
        let paths = issuers
            .iter()
            .filter(|i| !i.roles_claim.is_empty())
            .map(|i| (i.issuer.clone(), i.roles_claim.clone()))
            .collect();
        Self { paths }
    }

    /// The roles `claims` carry: none for the server's own tokens (their
    /// roles are stored with the account).
    pub(crate) fn of(&self, claims: &Claims) -> Vec<String> {
        if !claims.is_external() {
            return Vec::new();
        }
        let Some(path) = claims.iss.as_ref().and_then(|iss| self.paths.get(iss)) else {
            return Vec::new();
        };
        let Some((first, rest)) = path.split_first() else { return Vec::new() };
        let mut value = claims.extra.get(first);
        for key in rest {
            value = value.and_then(|v| v.get(key));
        }
        let strings: Vec<&str> = match value {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        };
        strings
            .into_iter()
            .filter(|r| !r.is_empty() && r.len() <= MAX_ROLE_LEN)
            .take(MAX_ROLES)
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer(roles_claim: &[&str]) -> TrustedIssuerConfig {
        let mut table: TrustedIssuerConfig = serde_json::from_value(json!({
            "issuer": "https://idp.example", "jwks_url": "https://idp.example/jwks",
            "audiences": ["api"],
        }))
        .expect("table");
        table.roles_claim = roles_claim.iter().map(|k| (*k).to_owned()).collect();
        table
    }

    fn external(extra: Value) -> Claims {
        let mut claims = Claims::from_json_object(
            json!({"sub": "https://idp.example#u1", "iat": 0, "jti": "j", "exp": 10, "type": "access",
                "iss": "https://idp.example"})
            .as_object()
            .cloned()
            .expect("object"),
        )
        .expect("claims");
        claims.extra = extra.as_object().cloned().expect("object");
        claims
    }

    #[test]
    fn roles_are_read_along_the_path_and_bounded() {
        let roles = TokenRoles::new(&[issuer(&["realm_access", "roles"])]);
        let claims = external(json!({"realm_access": {"roles": ["member", 5, "", "admin"]}}));
        assert_eq!(roles.of(&claims), ["member", "admin"]);
        let many: Vec<String> = (0..100).map(|n| format!("r{n}")).collect();
        assert_eq!(roles.of(&external(json!({"realm_access": {"roles": many}}))).len(), MAX_ROLES);
        assert!(roles.of(&external(json!({"realm_access": {"roles": {"x": 1}}}))).is_empty());
        let one = TokenRoles::new(&[issuer(&["https://example.com/roles"])]);
        assert_eq!(one.of(&external(json!({"https://example.com/roles": "member"}))), ["member"]);
        assert!(TokenRoles::new(&[issuer(&[])]).of(&claims).is_empty(), "no roles_claim: none");
    }
}
