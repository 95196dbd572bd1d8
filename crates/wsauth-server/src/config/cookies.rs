//! Cookies: their names (fastapi-jwt-auth's, optionally `__Host-`
//! prefixed) and their `Secure` flag.

use super::{Config, ConfigError};

impl Config {
    /// Cookie and other credential names: fastapi-jwt-auth's, with the token
    /// cookies `__Host-` prefixed when `cookie_host_prefix` is on.
    pub fn credential_names(&self) -> wsauth::CredentialNames {
        let names = wsauth::CredentialNames::default();
        if !self.cookie_host_prefix {
            return names;
        }
        wsauth::CredentialNames {
            access_cookie: format!("__Host-{}", names.access_cookie),
            refresh_cookie: format!("__Host-{}", names.refresh_cookie),
            ..names
        }
    }

    /// A `__Host-` prefix needs `Secure` cookies.
    pub(super) fn validate_cookies(&self) -> Result<(), ConfigError> {
        if self.cookie_host_prefix && !self.cookie_secure {
            return Err(ConfigError::Invalid(
                "cookie_host_prefix needs cookie_secure (browsers drop __Host- cookies without Secure)"
                    .into(),
            ));
        }
        Ok(())
    }
}
