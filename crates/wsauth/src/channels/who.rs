//! Who a socket is, as channel rights see it: its subject, its channel
//! subject, its roles and its per-user grants.

use async_trait::async_trait;
use base64::Engine as _;
use std::borrow::Cow;
use std::sync::Arc;

use super::{Actions, Pattern, Unavailable};
use crate::Claims;

/// The length of the hashed part of a trusted issuer's channel subject.
const HASHED_SUBJECT_LEN: usize = 22;

/// The channel subject of a socket bound to `claims`: a local account's
/// username as it is, or for a trusted issuer's token `@` followed by the
/// first 22 characters of base64url(SHA-256(`<issuer>#<subject>`)). A
/// username cannot hold `@`, so the two never collide.
#[must_use]
pub fn channel_subject(claims: &Claims) -> Cow<'_, str> {
    if !claims.is_external() {
        return Cow::Borrowed(&claims.sub);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, claims.sub.as_bytes());
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    Cow::Owned(format!("@{}", &encoded[..HASHED_SUBJECT_LEN]))
}

/// One per-user grant: the actions a subject holds on the channels a
/// pattern matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    /// The channels.
    pub pattern: Pattern,
    /// What the subject may do on them.
    pub actions: Actions,
}

/// What the server stores of a subject: its roles and its grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The subject's roles (a local account's, as an operator set them).
    pub roles: Vec<String>,
    /// The subject's grants.
    pub grants: Vec<Grant>,
}

/// Where a subject's stored [`Profile`] comes from (the server: its
/// database). Asked when a subject's first socket uses channels, and again
/// whenever [`Channels::rights_changed`](super::Channels::rights_changed)
/// names the subject.
#[async_trait]
pub trait Profiles: Send + Sync + 'static {
    /// The stored profile of `sub` (the claims' subject); an empty one when
    /// nothing is stored.
    async fn profile(&self, sub: &str) -> Result<Profile, Unavailable>;
}

/// No stored profiles: rights come from the other sources alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProfiles;

#[async_trait]
impl Profiles for NoProfiles {
    async fn profile(&self, _sub: &str) -> Result<Profile, Unavailable> {
        Ok(Profile::default())
    }
}

/// A socket's identity as every source of rights sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Who {
    /// The claims' `sub` (a trusted issuer's: `<issuer>#<subject>`).
    pub sub: String,
    /// The trusted issuer, for an external token.
    pub issuer: Option<String>,
    /// The subject as its issuer names it.
    pub subject: String,
    /// The channel subject (`{sub}` in patterns).
    pub channel_sub: String,
    /// Roles from the token and from the stored profile, together.
    pub roles: Vec<String>,
    /// The stored grants.
    #[serde(skip)]
    pub grants: Arc<[Grant]>,
}

impl Who {
    /// The identity of a socket bound to `claims`, with roles taken from
    /// its token (`token_roles`) and its stored `profile`.
    #[must_use]
    pub fn new(claims: &Claims, token_roles: &[String], profile: Profile) -> Self {
        Self {
            sub: claims.sub.clone(),
            issuer: claims.is_external().then(|| claims.iss.clone()).flatten(),
            subject: claims.subject().to_owned(),
            channel_sub: channel_subject(claims).into_owned(),
            roles: merged(token_roles, profile.roles),
            grants: profile.grants.into(),
        }
    }

    /// The same identity with another stored profile.
    #[must_use]
    pub(crate) fn with_profile(&self, token_roles: &[String], profile: Profile) -> Self {
        let roles = merged(token_roles, profile.roles);
        Self { roles, grants: profile.grants.into(), ..self.clone() }
    }
}

/// The token's roles, then the stored ones it does not already hold.
fn merged(token_roles: &[String], stored: Vec<String>) -> Vec<String> {
    let mut roles = token_roles.to_vec();
    for role in stored {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_claims::claims;

    #[test]
    fn a_local_subject_is_its_username_and_an_external_one_is_hashed() {
        assert_eq!(channel_subject(&claims("alice", "j", 0, 10)), "alice");
        let external = Claims {
            iss: Some("https://idp.example".into()),
            ..claims("https://idp.example#alice", "j", 0, 10)
        };
        let hashed = channel_subject(&external);
        assert_eq!(hashed.len(), 23);
        assert!(hashed.starts_with('@'));
        let again = Claims {
            iss: Some("https://other.example".into()),
            sub: "https://other.example#alice".into(),
            ..external.clone()
        };
        assert_ne!(channel_subject(&again), hashed, "issuers are told apart");
        // base64url of SHA-256("https://idp.example#alice"), first 22 characters.
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"https://idp.example#alice");
        let full = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        assert_eq!(hashed, format!("@{}", &full[..22]));
    }
}
