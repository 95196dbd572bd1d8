//! The server's own side: where it listens, which origins may open
//! WebSockets on it, who may call its admin API, and how long it takes to
//! stop.

use super::limits::A_DAY_SECS;
use super::{Config, ConfigError};

impl Config {
    /// The origins allowed on WebSocket handshakes: `allowed_origins`, or by
    /// default the server's own on `port` (`127.0.0.1` and `localhost`).
    pub fn allowed_origins_on(&self, port: u16) -> Vec<String> {
        if self.allowed_origins.is_empty() {
            vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]
        } else {
            self.allowed_origins.clone()
        }
    }

    /// A usable admin key (if any), a shutdown timeout of 1 second to a day,
    /// origins of the form `scheme://host[:port]`, a log filter that parses
    /// (one that did not was replaced by `info` without a word).
    pub(super) fn validate_server(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.admin_api_key {
            api_key_rule("admin_api_key", key)?;
        }
        if !(1..=A_DAY_SECS).contains(&self.shutdown_timeout) {
            return Err(ConfigError::Invalid(format!(
                "shutdown_timeout must be 1 to {A_DAY_SECS} seconds"
            )));
        }
        for origin in &self.allowed_origins {
            if !is_origin(origin) {
                let separator = if origin.contains(';') {
                    "; origins are separated by `,`, not `;`"
                } else {
                    ""
                };
                return Err(ConfigError::Invalid(format!(
                    "allowed origin {origin:?} must look like scheme://host[:port], without a path \
                     (a browser's Origin header never has one, so it could never match){separator}"
                )));
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(ConfigError::Invalid(format!(
                "log {:?} is not a log filter ({e}): write a level such as \"info\" or \
                 directives such as \"info,wsauth=debug\"",
                self.log
            )));
        }
        Ok(())
    }
}

/// `http://` or `https://`, then a host and perhaps a port: nothing a
/// browser leaves out of an `Origin` header (a path, a query, a user).
fn is_origin(origin: &str) -> bool {
    let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    host.is_some_and(|host| {
        !host.is_empty()
            && !host.contains(['/', '?', '#', '@'])
            && !host.contains(char::is_whitespace)
    })
}

/// What an API key (`name`) must be: a random secret of at least 32 bytes,
/// which a header can carry as it is.
pub(super) fn api_key_rule(name: &str, key: &str) -> Result<(), ConfigError> {
    const WHAT_TO_DO: &str =
        "set a random key of at least 32 bytes, e.g. the output of `openssl rand -base64 32`";
    if key.trim().is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{name} is blank (empty or only whitespace): {WHAT_TO_DO}"
        )));
    }
    if key.trim() != key {
        return Err(ConfigError::Invalid(format!(
            "{name} begins or ends with whitespace, which an Authorization header \
             cannot carry, so no request could match it: {WHAT_TO_DO}, without spaces around it"
        )));
    }
    if key.len() < 32 {
        return Err(ConfigError::Invalid(format!(
            "{name} must be at least 32 bytes: {WHAT_TO_DO}"
        )));
    }
    Ok(())
}
