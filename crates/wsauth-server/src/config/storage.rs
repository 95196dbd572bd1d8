//! Where state lives: the database (SQLite or PostgreSQL) and, for a
//! cluster, the Redis the nodes share.

use super::{Config, ConfigError};
use wsauth_domain::store::Database;

impl Config {
    /// The database the stores live in: `database_url`, or by default the
    /// SQLite file [`Database::DEFAULT_FILE`] in `data_dir`.
    pub fn database(&self) -> Result<Database, ConfigError> {
        match &self.database_url {
            Some(url) => Database::parse(url).map_err(|e| ConfigError::Invalid(why_not(url, e))),
            None => Ok(Database::Sqlite(self.data_dir.join(Database::DEFAULT_FILE))),
        }
    }

    /// The Redis key prefix, validated.
    pub fn redis_prefix(&self) -> Result<wsauth_redis::Prefix, ConfigError> {
        wsauth_redis::Prefix::new(self.redis_prefix.clone()).map_err(|e| {
            ConfigError::Invalid(format!(
                "redis_prefix {:?} is refused ({e}): it must be 1 to 64 printable ASCII \
                 characters without spaces, such as \"wsauth:\" (the default) or \"eu1:\"",
                self.redis_prefix
            ))
        })
    }

    /// A database URL, a Redis URL and a Redis prefix that can be used.
    pub(super) fn validate_storage(&self) -> Result<(), ConfigError> {
        self.database()?;
        if let Some(url) = &self.redis_url {
            redis_url(url)?;
        }
        self.redis_prefix()?;
        Ok(())
    }
}

/// The forms `redis_url` takes.
const REDIS_FORMS: &str = "redis://[USER:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH/TO/SOCKET";

/// Refuses a `redis_url` the client cannot read, saying why without
/// quoting it (it may carry a password).
fn redis_url(url: &str) -> Result<(), ConfigError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    let why = match scheme {
        None => format!("redis_url is not a URL: expected {REDIS_FORMS}"),
        Some("rediss") => format!(
            "redis_url uses TLS (rediss://), which wsauth does not speak to Redis: keep Redis on \
             a private network and give {REDIS_FORMS}"
        ),
        Some(scheme) if !["redis", "unix", "redis+unix"].contains(&scheme) => {
            format!("redis_url has the scheme `{scheme}://`: expected {REDIS_FORMS}")
        }
        Some(_) => match wsauth_redis::redis::Client::open(url) {
            Ok(_) => return Ok(()),
            Err(_) => format!(
                "redis_url cannot be read: expected {REDIS_FORMS}, a port of 1 to 65535, and \
                 the password's special characters percent-encoded"
            ),
        },
    };
    Err(ConfigError::Invalid(why))
}

/// What is wrong with a refused `database_url`, where the general rule
/// (`e`) does not say. SQLite URLs only are quoted back.
fn why_not(url: &str, e: wsauth_domain::store::UnknownDatabaseUrl) -> String {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
    match path {
        Some(":memory:") => format!(
            "database_url {url:?} is an in-memory SQLite database, which the server cannot use: \
             accounts would vanish at every stop and `wsauth user` commands would not see them; \
             give a file (sqlite:///var/lib/wsauth/wsauth.db) or leave database_url unset \
             (wsauth.db in data_dir)"
        ),
        Some(path) if path.contains('?') => format!(
            "database_url {url:?}: SQLite options after `?` are not read; give the file alone \
             (sqlite://{})",
            path.split('?').next().unwrap_or_default()
        ),
        // Not printed: another scheme's URL may carry a password.
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Overrides;
    use super::*;
    use std::path::PathBuf;

    fn database_of(toml: &str) -> Result<Database, ConfigError> {
        Config::from_toml(toml, &Overrides::default())?.database()
    }

    #[test]
    fn database_url_picks_the_backend_and_defaults_to_sqlite_in_the_data_dir() {
        let default = database_of("data_dir = \"/srv/w\"").expect("default");
        assert_eq!(default, Database::Sqlite(PathBuf::from("/srv/w/wsauth.db")));
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5433/db"] {
            let toml = format!("database_url = \"{url}\"");
            assert_eq!(database_of(&toml).expect(url), Database::Postgres(url.to_owned()));
        }
        let file = database_of("database_url = \"sqlite:///var/lib/w.db\"").expect("sqlite");
        assert_eq!(file, Database::Sqlite(PathBuf::from("/var/lib/w.db")));
    }

    #[test]
    fn redis_settings_default_to_one_node_and_the_library_prefix() {
        let config = Config::from_toml("", &Overrides::default()).expect("defaults");
        assert_eq!(config.redis_url, None);
        assert_eq!(config.redis_prefix().expect("prefix"), wsauth_redis::Prefix::default());
        let set = "redis_url = \"redis://r:6379\"\nredis_prefix = \"eu1:\"";
        let config = Config::from_toml(set, &Overrides::default()).expect("set");
        assert_eq!(config.redis_url.as_deref(), Some("redis://r:6379"));
        assert_eq!(config.redis_prefix().expect("prefix").as_str(), "eu1:");
        let refused = Config::from_toml("redis_prefix = \"a b\"", &Overrides::default());
        assert!(refused.expect_err("space").to_string().contains("redis_prefix"));
    }

    #[test]
    fn an_unknown_database_url_is_refused_with_the_accepted_forms() {
        let refused = |url: &str| {
            let toml = format!("database_url = \"{url}\"");
            Config::from_toml(&toml, &Overrides::default()).expect_err(url).to_string()
        };
        for url in ["mysql://h/db", "wsauth.db", "sqlite://"] {
            let message = refused(url);
            assert!(message.contains("database_url must be sqlite://PATH"), "{url}: {message}");
        }
        for url in ["sqlite::memory:", "sqlite://:memory:"] {
            let message = refused(url);
            assert!(message.contains("is an in-memory SQLite database"), "{url}: {message}");
        }
        let message = refused("sqlite://x?mode=ro");
        assert!(
            message.contains("options after `?` are not read; give the file alone"),
            "{message}"
        );
    }
}
