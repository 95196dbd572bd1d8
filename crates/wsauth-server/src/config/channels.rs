//! `[channels]`: the server's channel rules and how many channels one
//! socket may hold, and `publish_api_key`, the key backends publish with.

use serde::{Deserialize, Serialize};
use wsauth::channels::{ChannelLimits, Rule};

use super::{Config, ConfigError};

/// The most `[[channels.rules]]` a configuration may hold.
const MAX_RULES: usize = 1000;
/// The most subscriptions `max_subscriptions` may allow one socket.
const MAX_SUBSCRIPTIONS: usize = 10_000;
/// How long the authorizer may take to answer, by default.
const AUTHORIZER_TIMEOUT_SECS: f64 = 2.0;
/// The longest `authorizer_timeout`.
const MAX_AUTHORIZER_TIMEOUT_SECS: f64 = 60.0;

/// `[channels]`. Without the table, channels still work: rights then come
/// from roles and per-user grants alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// `[[channels.rules]]`: `pattern`, `actions`, optional `roles` (any of).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Channels one socket may be subscribed to at once
    /// ([`ChannelLimits::default`]: 64).
    pub max_subscriptions: usize,
    /// The application's backend asked for what the rules and grants do
    /// not grant: `https://`, or `http://` to a loopback address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_url: Option<String>,
    /// Sent to the authorizer as `Authorization: Bearer` (at least 32 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_secret: Option<String>,
    /// Seconds the authorizer has to answer (then `unavailable`). Default 2.
    pub authorizer_timeout: f64,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            max_subscriptions: ChannelLimits::default().max_subscriptions,
            authorizer_url: None,
            authorizer_secret: None,
            authorizer_timeout: AUTHORIZER_TIMEOUT_SECS,
        }
    }
}

impl ChannelSettings {
    /// The hub's limits.
    pub fn limits(&self) -> ChannelLimits {
        ChannelLimits { max_subscriptions: self.max_subscriptions, ..ChannelLimits::default() }
    }
}

impl Config {
    /// Rules within bounds, a usable `max_subscriptions` and publish key.
    pub(super) fn validate_channels(&self) -> Result<(), ConfigError> {
        let channels = &self.channels;
        if !(1..=MAX_SUBSCRIPTIONS).contains(&channels.max_subscriptions) {
            return Err(ConfigError::Invalid(format!(
                "[channels] max_subscriptions must be 1 to {MAX_SUBSCRIPTIONS} (default {})",
                ChannelLimits::default().max_subscriptions
            )));
        }
        if channels.rules.len() > MAX_RULES {
            return Err(ConfigError::Invalid(format!(
                "[channels] holds {} rules; at most {MAX_RULES} are allowed",
                channels.rules.len()
            )));
        }
        for (i, rule) in channels.rules.iter().enumerate() {
            if rule.roles.iter().any(|role| role.is_empty() || role.len() > 64) {
                return Err(ConfigError::Invalid(format!(
                    "[[channels.rules]] number {} ({}): a role is 1 to 64 bytes",
                    i + 1,
                    rule.pattern
                )));
            }
        }
        if let Some(key) = &self.publish_api_key {
            super::server::api_key_rule("publish_api_key", key)?;
        }
        if let Some(url) = &channels.authorizer_url {
            authorizer_url_rule(url)?;
        }
        if let Some(secret) = &channels.authorizer_secret {
            if channels.authorizer_url.is_none() {
                return Err(ConfigError::Invalid(
                    "[channels] authorizer_secret is set without authorizer_url".to_owned(),
                ));
            }
            super::server::api_key_rule("[channels] authorizer_secret", secret)?;
        }
        let timeout = channels.authorizer_timeout;
        if !(timeout > 0.0 && timeout <= MAX_AUTHORIZER_TIMEOUT_SECS) {
            return Err(ConfigError::Invalid(format!(
                "[channels] authorizer_timeout must be more than 0 and at most \
                 {MAX_AUTHORIZER_TIMEOUT_SECS} seconds (default {AUTHORIZER_TIMEOUT_SECS})"
            )));
        }
        Ok(())
    }
}

/// The authorizer is asked over HTTPS, or plain HTTP on this machine only,
/// with no credentials in the URL (the secret goes in a header).
fn authorizer_url_rule(url: &str) -> Result<(), ConfigError> {
    let refuse =
        |why: &str| Err(ConfigError::Invalid(format!("[channels] authorizer_url {url:?}: {why}")));
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return refuse("not a URL; write https://HOST/PATH");
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refuse("remove the user:password@ part; set authorizer_secret instead");
    }
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host.eq_ignore_ascii_case("localhost");
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => refuse(
            "the authorizer is asked over https:// only; plain http:// is allowed for a \
             loopback address (127.0.0.1, [::1], localhost) alone",
        ),
        _ => refuse("write https://HOST/PATH"),
    }
}
