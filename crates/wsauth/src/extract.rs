//! The seed's four checks as axum extractors for HTTP routes:
//! [`AccessToken`] (`jwt_required`), `Option<AccessToken>` (`jwt_optional`),
//! [`RefreshToken`] (`jwt_refresh_token_required`) and [`FreshAccessToken`]
//! (`fresh_jwt_required`). Each hands the handler the verified claims.
//!
//! ```
//! use axum::{Router, routing::get};
//! use wsauth::{AccessToken, WsAuth};
//!
//! async fn me(AccessToken(claims): AccessToken) -> String {
//!     format!("hello {}", claims.sub)
//! }
//! fn app(auth: WsAuth) -> Router {
//!     Router::new().route("/me", get(me)).with_state(auth)
//! }
//! ```

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use crate::auth::WsAuth;
use crate::handshake::{Authenticated, Check};
use crate::{AuthError, Claims};

/// Runs `check`; a missing credential is an error.
async fn required(parts: &Parts, auth: &WsAuth, check: Check) -> Result<Authenticated, AuthError> {
    auth.authenticate_http(parts, check).await?.ok_or(AuthError::MissingToken("Missing credential"))
}

macro_rules! claims_extractor {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Claims);

        impl $name {
            /// The verified claims. To also learn how the credential
            /// travelled, extract [`Authenticated`] instead.
            pub fn claims(&self) -> &Claims {
                &self.0
            }
        }

        impl<S> FromRequestParts<S> for $name
        where
            WsAuth: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = AuthError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
                required(parts, &WsAuth::from_ref(state), $check).await.map(|a| Self(a.claims))
            }
        }
    };
}

claims_extractor!(
    /// A valid access token is required (`jwt_required`).
    AccessToken,
    Check::Access
);
claims_extractor!(
    /// A valid refresh token is required (`jwt_refresh_token_required`).
    RefreshToken,
    Check::Refresh
);
claims_extractor!(
    /// A fresh access token is required (`fresh_jwt_required`).
    FreshAccessToken,
    Check::Fresh
);
claims_extractor!(
    /// A valid access token on a route that only revokes it (logout): as
    /// [`AccessToken`], but admitted while the revocation store cannot
    /// answer (see [`Check::Revoking`]).
    RevokingToken,
    Check::Revoking
);

/// `Option<AccessToken>`: no credential is fine; a malformed, expired,
/// revoked or wrong-type one is still refused (`jwt_optional`).
impl<S> OptionalFromRequestParts<S> for AccessToken
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, AuthError> {
        let auth = WsAuth::from_ref(state);
        Ok(auth.authenticate_http(parts, Check::Optional).await?.map(|a| Self(a.claims)))
    }
}

/// The claims and how the credential travelled, for routes that care (for
/// example to know whether a response may set cookies).
impl<S> FromRequestParts<S> for Authenticated
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        required(parts, &WsAuth::from_ref(state), Check::Access).await
    }
}
