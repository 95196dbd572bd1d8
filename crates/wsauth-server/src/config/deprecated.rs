//! Settings renamed: each is still read under its old name, moved into the
//! new one, and reported so that the server can warn at start. Giving both
//! names at once is refused: which one would win is not obvious.

use figment::Figment;

use super::{Config, ConfigError};

/// A setting given under its old name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedSetting {
    /// The old name, as written (`limits.auth_timeout_ms`).
    pub old: &'static str,
    /// The name to use instead (`limits.auth_timeout`).
    pub new: &'static str,
    /// How to write the value under the new name.
    pub how: &'static str,
}

/// `[limits] auth_timeout_ms` (milliseconds) became `auth_timeout`
/// (seconds, as every other duration in `[limits]`).
const AUTH_TIMEOUT_MS: DeprecatedSetting = DeprecatedSetting {
    old: "limits.auth_timeout_ms",
    new: "limits.auth_timeout",
    how: "in seconds, fractions allowed (auth_timeout_ms = 1500 is auth_timeout = 1.5)",
};

impl std::fmt::Display for DeprecatedSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is deprecated: set {} instead, {}", self.old, self.new, self.how)
    }
}

impl Config {
    /// The settings this configuration was given under an old name.
    pub fn deprecated_settings(&self) -> Vec<DeprecatedSetting> {
        let mut old = Vec::new();
        if self.limits.auth_timeout_ms.is_some() {
            old.push(AUTH_TIMEOUT_MS);
        }
        old
    }

    /// Moves what was `given` under an old name into the new one; refuses
    /// both names at once.
    pub(super) fn resolve_old_names(&mut self, given: &Figment) -> Result<(), ConfigError> {
        if let Some(ms) = self.limits.auth_timeout_ms {
            refuse_both(given, AUTH_TIMEOUT_MS)?;
            // Exact for every value a day allows (at most 86 400 000).
            self.limits.auth_timeout = ms as f64 / 1000.0;
        }
        Ok(())
    }
}

fn refuse_both(given: &Figment, setting: DeprecatedSetting) -> Result<(), ConfigError> {
    if given.contains(setting.new) {
        return Err(ConfigError::Invalid(format!(
            "{} and {} are both set: keep {} alone ({} is its old name)",
            setting.old, setting.new, setting.new, setting.old
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Overrides;
    use super::*;
    use std::time::Duration;

    fn load(toml: &str) -> Result<Config, ConfigError> {
        Config::from_toml(toml, &Overrides::default())
    }

    #[test]
    fn auth_timeout_is_seconds_and_its_old_name_in_milliseconds_still_works() {
        let new = load("[limits]\nauth_timeout = 0.3\n").expect("auth_timeout");
        assert_eq!(new.limits.live_config().auth_timeout, Duration::from_millis(300));
        assert_eq!(new.deprecated_settings(), []);
        let old = load("[limits]\nauth_timeout_ms = 1500\n").expect("auth_timeout_ms");
        assert_eq!(old.limits.auth_timeout, 1.5);
        assert_eq!(old.limits.live_config().auth_timeout, Duration::from_millis(1500));
        assert_eq!(old.deprecated_settings(), [AUTH_TIMEOUT_MS]);
        let default = load("").expect("default");
        assert_eq!(default.limits.live_config().auth_timeout, Duration::from_secs(5));
        assert_eq!(default.deprecated_settings(), []);
    }

    #[test]
    fn both_names_at_once_are_refused() {
        for both in [
            "[limits]\nauth_timeout = 2\nauth_timeout_ms = 2000\n",
            "[limits]\nauth_timeout = 5\nauth_timeout_ms = 5000\n",
        ] {
            let error = load(both).expect_err(both).to_string();
            assert_eq!(
                error,
                "invalid configuration: limits.auth_timeout_ms and limits.auth_timeout are both \
                 set: keep limits.auth_timeout alone (limits.auth_timeout_ms is its old name)"
            );
        }
    }

    #[test]
    fn the_old_name_keeps_its_range_and_its_errors_name_it() {
        let error = load("[limits]\nauth_timeout_ms = 86400001\n").expect_err("a day and 1 ms");
        let message = error.to_string();
        assert!(message.contains("limits.auth_timeout_ms must be at least 0 and at most a day"));
        assert!(load("[limits]\nauth_timeout_ms = 86400000\n").is_ok(), "a day");
        assert!(load("[limits]\nauth_timeout_ms = 0\n").is_ok(), "zero");
        let error = load("[limits]\nauth_timeout = 86400.5\n").expect_err("past a day");
        assert!(error.to_string().contains("limits.auth_timeout must be at least 0"));
    }

    #[test]
    fn the_warning_names_the_new_setting_and_its_unit() {
        let line = AUTH_TIMEOUT_MS.to_string();
        assert_eq!(
            line,
            "limits.auth_timeout_ms is deprecated: set limits.auth_timeout instead, in seconds, \
             fractions allowed (auth_timeout_ms = 1500 is auth_timeout = 1.5)"
        );
    }

    #[test]
    fn the_old_name_is_never_written_back() {
        let old = load("[limits]\nauth_timeout_ms = 250\n").expect("old");
        let written = serde_json::to_value(&old).expect("json");
        assert_eq!(written["limits"]["auth_timeout"], 0.25);
        assert!(written["limits"].get("auth_timeout_ms").is_none());
    }
}
