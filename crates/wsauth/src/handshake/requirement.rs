//! What a guarded WebSocket route requires ([`Requirement`]): the check it
//! runs and what its handler receives. The markers [`Access`],
//! [`Optional`], [`Refresh`] and [`Fresh`] are the seed's four checks.

use super::{Authenticated, Check};
use crate::AuthError;

/// What a guarded WebSocket route requires; see [`Access`], [`Optional`],
/// [`Refresh`] and [`Fresh`].
pub trait Requirement: Send + Sync + 'static {
    /// What the handler receives: [`Authenticated`], or an `Option` of it.
    type Output: Send + 'static;
    /// The check to run.
    const CHECK: Check;
    /// Turns the check's outcome into the handler's input.
    fn output(auth: Option<Authenticated>) -> Result<Self::Output, AuthError>;
    /// The authenticated outcome, if any.
    fn authenticated(output: &Self::Output) -> Option<&Authenticated>;
}

macro_rules! required {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Requirement for $name {
            type Output = Authenticated;
            const CHECK: Check = $check;
            fn output(auth: Option<Authenticated>) -> Result<Authenticated, AuthError> {
                auth.ok_or(AuthError::MissingToken("Missing credential"))
            }
            fn authenticated(output: &Authenticated) -> Option<&Authenticated> {
                Some(output)
            }
        }
    };
}

required!(
    /// A valid access token (`jwt_required`). The default.
    Access,
    Check::Access
);
required!(
    /// A valid refresh token (`jwt_refresh_token_required`).
    Refresh,
    Check::Refresh
);
required!(
    /// A fresh access token (`fresh_jwt_required`).
    Fresh,
    Check::Fresh
);

/// No credential is fine; a bad one is refused (`jwt_optional`).
#[derive(Debug)]
pub struct Optional;
impl Requirement for Optional {
    type Output = Option<Authenticated>;
    const CHECK: Check = Check::Optional;
    fn output(auth: Option<Authenticated>) -> Result<Option<Authenticated>, AuthError> {
        Ok(auth)
    }
    fn authenticated(output: &Option<Authenticated>) -> Option<&Authenticated> {
        output.as_ref()
    }
}
