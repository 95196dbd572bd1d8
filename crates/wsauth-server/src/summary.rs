//! The one line a start logs about what this node serves: its addresses,
//! its database and Redis (without passwords), its keys, proxy routes,
//! trusted issuers, whether the admin API is on and whether it runs as a
//! node of a cluster.

use std::net::SocketAddr;
use wsauth::KeySet;
use wsauth_domain::store::Database;

use crate::config::Config;

/// Where the server listens, as bound (the port is known).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    /// The public address.
    pub(crate) listen: SocketAddr,
    /// `metrics_listen`, when configured.
    pub(crate) internal: Option<SocketAddr>,
}

/// Logs the summary at INFO.
pub(crate) fn log(config: &Config, bound: Bound, keys: &KeySet, metrics_on: bool) {
    let metrics = match (metrics_on, bound.internal) {
        (false, _) => "off".to_owned(),
        (true, Some(internal)) => format!("http://{internal}/metrics"),
        (true, None) => format!("http://{}/metrics", bound.listen),
    };
    let database = match config.database() {
        Ok(Database::Sqlite(path)) => format!("sqlite {}", path.display()),
        Ok(Database::Postgres(url)) => format!("postgres {}", without_password(&url)),
        Err(_) => "invalid database_url".to_owned(),
    };
    let redis = config.redis_url.as_deref().map_or_else(|| "none".to_owned(), without_password);
    let cluster = if config.redis_url.is_some() { "on (shared through Redis)" } else { "off" };
    let current = keys.current();
    let mut key_list = vec![format!("{} {} (signs)", current.kid(), current.algorithm().name())];
    key_list.extend(keys.previous().map(|(key, until)| {
        format!("{} {} (verifies until {until})", key.kid(), key.algorithm().name())
    }));
    let proxy: Vec<String> =
        config.proxy.iter().map(|route| format!("{} -> {}", route.path, route.upstream)).collect();
    let issuers: Vec<&str> =
        config.trusted_issuers.iter().map(|issuer| issuer.issuer.as_str()).collect();
    let admin_api = if config.admin_api_key.is_some() { "on" } else { "off" };
    tracing::info!(
        listen = %format!("http://{}", bound.listen),
        %metrics,
        %database,
        %redis,
        cluster,
        keys = %key_list.join(", "),
        proxy = %list(&proxy),
        trusted_issuers = %list(&issuers),
        admin_api,
        "serving"
    );
}

/// Items joined with `, `, or `none`.
fn list<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// A connection URL with its password replaced by `***` (the user name
/// stays: it says which account is used).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_password_in_a_url_is_masked_and_the_rest_kept() {
        assert_eq!(
            without_password("postgres://wsauth:s3cret@db.internal:5433/wsauth"),
            "postgres://wsauth:***@db.internal:5433/wsauth"
        );
        assert_eq!(
            without_password("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(without_password("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(without_password("postgres://u:p@ss@h/d?x=1"), "postgres://u:***@h/d?x=1");
        assert_eq!(without_password("postgres://u@h/d"), "postgres://u@h/d");
    }
}
