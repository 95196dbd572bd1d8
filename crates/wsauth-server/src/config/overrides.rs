//! Flags and `WSAUTH_*` environment variables: the settings that may be
//! given on the command line, each overriding the file. `[limits]` has no
//! flags; its environment variables are `WSAUTH_LIMITS_<KEY>` (`load.rs`).
//! The `[default: ...]` in each help text is checked against
//! [`Config::default`](super::Config) by the tests.

use ipnet::IpNet;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::LogFormat;

/// Values given on the command line or in the environment; only those set
/// override the file.
#[derive(Debug, Default, Clone, Serialize, clap::Args)]
pub struct Overrides {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long, global = true, env = "WSAUTH_LISTEN", value_parser = super::hints::address)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Directory for the database and generated keys [default: wsauth-data].
    #[arg(long, global = true, env = "WSAUTH_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The database: sqlite://PATH or postgres://USER@HOST/DB [default: wsauth.db in the data dir].
    #[arg(long, global = true, env = "WSAUTH_DATABASE_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// HS256 secret as text (at least 32 bytes), instead of the generated key.
    #[arg(long, global = true, env = "WSAUTH_HMAC_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<String>,
    /// Algorithm of the generated key: HS256, EdDSA or ES256 [default: HS256].
    #[arg(long, global = true, env = "WSAUTH_ALGORITHM")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Allow a weak HMAC secret. Never in production.
    #[arg(long, global = true, env = "WSAUTH_INSECURE_DEV")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_dev: Option<bool>,
    /// An origin allowed on WebSocket handshakes (repeatable).
    #[arg(
        long = "allowed-origin",
        global = true,
        env = "WSAUTH_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// A reverse proxy (CIDR) whose forwarding headers name the client (repeatable) [default: none].
    #[arg(
        long = "trusted-proxy",
        global = true,
        env = "WSAUTH_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = super::hints::network
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<IpNet>,
    /// Access token lifetime in seconds [default: 900].
    #[arg(long, global = true, env = "WSAUTH_ACCESS_TTL", allow_negative_numbers = true, value_parser = super::hints::seconds::<i64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_ttl: Option<i64>,
    /// Refresh token lifetime in seconds [default: 2592000].
    #[arg(long, global = true, env = "WSAUTH_REFRESH_TTL", allow_negative_numbers = true, value_parser = super::hints::seconds::<i64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ttl: Option<i64>,
    /// Whether POST /auth/register is open [default: true].
    #[arg(long, global = true, env = "WSAUTH_REGISTRATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<bool>,
    /// Mark cookies Secure [default: false].
    #[arg(long, global = true, env = "WSAUTH_COOKIE_SECURE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_secure: Option<bool>,
    /// Prefix the token cookie names with __Host- (needs --cookie-secure) [default: false].
    #[arg(long, global = true, env = "WSAUTH_COOKIE_HOST_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_host_prefix: Option<bool>,
    /// Seconds a shutdown may take before open sockets are dropped [default: 5].
    #[arg(long, global = true, env = "WSAUTH_SHUTDOWN_TIMEOUT", allow_negative_numbers = true, value_parser = super::hints::seconds::<u64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout: Option<u64>,
    /// Log filter [default: info].
    #[arg(long, global = true, env = "WSAUTH_LOG")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, global = true, env = "WSAUTH_LOG_FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Record and serve Prometheus metrics [default: true].
    #[arg(long, global = true, env = "WSAUTH_METRICS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<bool>,
    /// Serve /metrics and the admin API on this internal address instead of the main one.
    #[arg(long, global = true, env = "WSAUTH_METRICS_LISTEN", value_parser = super::hints::address)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// The admin API key (at least 32 bytes); without it the admin API is off.
    #[arg(long, global = true, env = "WSAUTH_ADMIN_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_api_key: Option<String>,
    /// The key backends publish to channels with (POST /api/publish; at least 32 bytes).
    #[arg(long, global = true, env = "WSAUTH_PUBLISH_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_api_key: Option<String>,
    /// The Redis nodes of one cluster share: redis://HOST[:PORT][/DB] [default: none, one node].
    #[arg(long, global = true, env = "WSAUTH_REDIS_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// The prefix of every Redis key and channel [default: wsauth:].
    #[arg(long, global = true, env = "WSAUTH_REDIS_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// A proxied WebSocket route, PATH=UPSTREAM (repeatable; replaces the file's [[proxy]] tables).
    #[arg(
        long = "proxy",
        global = true,
        env = "WSAUTH_PROXY",
        value_delimiter = ',',
        value_parser = crate::proxy::settings::ProxyRoute::parse_flag
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proxy: Vec<crate::proxy::settings::ProxyRoute>,
}
