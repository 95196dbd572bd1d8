//! Loading: built-in defaults < the TOML file < `WSAUTH_*` environment
//! variables < flags, then one validation pass, area by area.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::path::Path;

use super::explain::{Sources, explain};
use super::{Config, Overrides, environment};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read, or is out of range: the message names the
    /// setting, who gave it (the file, the variable) and why.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then the file (if given), then the overrides.
    /// Refuses a `WSAUTH_*` variable that is a near miss of one it reads.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        environment::unread(names)?;
        let mut given = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            given = given.merge(Toml::file(path));
        }
        Self::extract(given, overrides, Sources { file })
    }

    /// As [`Config::load`], with the text of a configuration file instead
    /// of its path.
    pub fn from_toml(text: &str, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::extract(Figment::from(Toml::string(text)), overrides, Sources { file: None })
    }

    /// Adds the environment and the overrides to what the file gave, puts
    /// the defaults under them all, extracts and validates.
    fn extract(
        file: Figment,
        overrides: &Overrides,
        sources: Sources<'_>,
    ) -> Result<Self, ConfigError> {
        // `WSAUTH_LIMITS_<KEY>` and `WSAUTH_CHANNELS_<KEY>`: only the keys
        // each table has; any other name is reported by
        // `environment::unread`, as at the top level.
        let mut given = file;
        for table in environment::TABLES {
            let keys = table.keys();
            let variables = Env::prefixed(table.prefix)
                .filter(move |key| {
                    keys.iter().any(|known| key.as_str().eq_ignore_ascii_case(known))
                })
                .map(move |key| format!("{}.{key}", table.name).into());
            given = given.merge(variables);
        }
        // What was given, without the defaults: a renamed setting may be
        // given under one name only.
        let given = given.merge(Serialized::defaults(overrides));
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(given.clone())
            .extract()
            .map_err(|error| ConfigError::Invalid(explain(error, sources)))?;
        config.resolve_old_names(&given)?;
        config.validate()?;
        Ok(config)
    }

    /// Every area's rules. Proxy paths are checked against wsauth's own
    /// routes where the application is assembled (`app.rs`).
    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_tokens()?;
        self.validate_keys()?;
        self.limits.validate()?;
        self.validate_server()?;
        self.validate_cookies()?;
        self.validate_storage()?;
        self.validate_channels()?;
        crate::proxy::settings::validate(&self.proxy).map_err(ConfigError::Invalid)?;
        Ok(())
    }
}
