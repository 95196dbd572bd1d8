//! `[channels]`: the server's channel rules and how many channels one
//! socket may hold, and `publish_api_key`, the key backends publish with.

use serde::{Deserialize, Serialize};
use wsauth::channels::{ChannelLimits, Rule};

use super::{Config, ConfigError};

/// The most `[[channels.rules]]` a configuration may hold.
const MAX_RULES: usize = 1000;
/// The most subscriptions `max_subscriptions` may allow one socket.
const MAX_SUBSCRIPTIONS: usize = 10_000;

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
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self { rules: Vec::new(), max_subscriptions: ChannelLimits::default().max_subscriptions }
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
        Ok(())
    }
}
