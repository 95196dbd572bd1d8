//! Loading: built-in defaults < the TOML file < `WSAUTH_*` environment
//! variables < flags, then one validation pass, area by area.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::path::Path;

use super::{Config, Overrides};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a value could not be read.
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then the file (if given), then the overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
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
        Self::extract(given, overrides)
    }

    /// As [`Config::load`], with the text of a configuration file instead
    /// of its path.
    pub fn from_toml(text: &str, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::extract(Figment::from(Toml::string(text)), overrides)
    }

    /// Adds the environment and the overrides to what the file gave, puts
    /// the defaults under them all, extracts and validates.
    fn extract(file: Figment, overrides: &Overrides) -> Result<Self, ConfigError> {
        let limits_env = Env::prefixed("WSAUTH_LIMITS_").map(|key| format!("limits.{key}").into());
        // What was given, without the defaults: a renamed setting may be
        // given under one name only.
        let given = file.merge(limits_env).merge(Serialized::defaults(overrides));
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(given.clone())
            .extract()
            .map_err(Box::new)?;
        config.resolve_old_names(&given)?;
        config.validate()?;
        Ok(config)
    }

    /// Every area's rules. Proxy paths are checked against wsauth's own
    /// routes where the application is assembled (`app.rs`).
    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_tokens()?;
        self.limits.validate()?;
        self.validate_server()?;
        self.validate_cookies()?;
        self.validate_storage()?;
        crate::proxy::settings::validate(&self.proxy).map_err(ConfigError::Invalid)?;
        Ok(())
    }
}
