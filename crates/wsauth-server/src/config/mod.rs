//! Configuration: built-in defaults < TOML file (`--config`) < `WSAUTH_*`
//! environment variables < command-line flags. See docs/configuration.md.
//!
//! [`Config`] aggregates the settings of every part of the server, and each
//! area has a file of its own: the listening side (`server.rs`), keys and
//! tokens (`tokens.rs`, which key signs in `keys.rs`), cookies (`cookies.rs`), `[limits]` (`limits.rs`),
//! the database and Redis (`storage.rs`), and the one mapping to the
//! library's builder (`library.rs`). Loading and validation are in
//! `load.rs`, flags and environment variables in `overrides.rs`, settings
//! renamed in `deprecated.rs`. Parts that own their settings keep them:
//! `[[proxy]]` (`proxy::settings`), `[[trusted_issuers]]`
//! (`trusted_issuers`), the log format (`telemetry`).
//!
//! Configuration knows nothing of the routes or the accept loop: proxy
//! paths are checked against the route table where the application is
//! assembled (`app::load_config`, `Application::build`).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

mod channels;
mod cookies;
mod deprecated;
mod environment;
mod explain;
mod flag_errors;
mod hints;
mod keys;
mod library;
mod limits;
mod load;
mod nearest;
mod overrides;
mod server;
mod storage;
mod tokens;

pub use crate::telemetry::LogFormat;
pub use channels::ChannelSettings;
pub use deprecated::DeprecatedSetting;
pub use environment::UnreadVariable;
pub use flag_errors::name_the_variable;
pub use limits::Limits;
pub use load::ConfigError;
pub use overrides::Overrides;
pub use tokens::PreviousKey;

/// The server's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Directory for the generated keys and the default SQLite database.
    pub data_dir: PathBuf,
    /// The database: `sqlite://PATH` or `postgres://...` (also
    /// `postgresql://`). Default (unset): the SQLite file `wsauth.db` in
    /// `data_dir` ([`wsauth_domain::store::Database::DEFAULT_FILE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// An HS256 secret given as text, used instead of the generated key.
    pub hmac_secret: Option<String>,
    /// Signing algorithm: HS256, EdDSA or ES256 for a generated key; also
    /// RS256 or PS256 with `private_key_file`.
    pub algorithm: String,
    /// A PKCS#8 PEM private key to sign with (instead of a generated key).
    pub private_key_file: Option<PathBuf>,
    /// Keys that signed earlier tokens and still verify them until their
    /// `valid_until` (rotation).
    pub previous_keys: Vec<PreviousKey>,
    /// Allow weak HMAC secrets (under 32 bytes). Local experiments only.
    pub insecure_dev: bool,
    /// Origins allowed on WebSocket handshakes. Empty: the server's own origins.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (CIDRs) whose `Forwarded` / `X-Forwarded-For` name the
    /// client address that per-address limits count by. Default: none.
    pub trusted_proxies: Vec<IpNet>,
    /// Access token lifetime, seconds.
    pub access_ttl: i64,
    /// Refresh token lifetime, seconds.
    pub refresh_ttl: i64,
    /// Clock skew tolerated on token times, seconds.
    pub leeway: i64,
    /// `iss` to issue and require.
    pub issuer: Option<String>,
    /// `aud` to issue and require.
    pub audience: Option<String>,
    /// Whether `POST /auth/register` is open.
    pub registration: bool,
    /// Mark cookies `Secure` (set when serving over HTTPS).
    pub cookie_secure: bool,
    /// Name the token cookies `__Host-access_token_cookie` and
    /// `__Host-refresh_token_cookie`, which a sibling subdomain cannot set
    /// or shadow. Needs `cookie_secure`.
    pub cookie_host_prefix: bool,
    /// The longest lifetime (`exp - iat`, seconds) an access token may have
    /// been minted with; refresh tokens may live up to `refresh_ttl`.
    pub max_token_lifetime: i64,
    /// How long an exact retry of a just-rotated refresh token gets the same
    /// new pair, seconds (0 to 10).
    pub refresh_grace: i64,
    /// One-time ticket lifetime, seconds.
    pub ticket_ttl: i64,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) may take: live sockets are sent
    /// close 1001 and requests in flight finish; whatever is still open after
    /// it is dropped. Default 5.
    pub shutdown_timeout: u64,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// Log line format: `text` or `json`.
    pub log_format: LogFormat,
    /// Whether Prometheus metrics are recorded and served at `/metrics`.
    pub metrics: bool,
    /// An internal address to serve `/metrics` on instead of `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// The admin API's bearer key (at least 32 bytes); without it the admin
    /// API is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_api_key: Option<String>,
    /// The key backends publish to channels with (`POST /api/publish`, at
    /// least 32 bytes); without it the endpoint does not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_api_key: Option<String>,
    /// The Redis that nodes of one cluster share (`redis://HOST[:PORT][/DB]`).
    /// Unset (the default): one node, nothing shared beyond the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// The first characters of every Redis key and channel of this
    /// deployment (printable ASCII, no spaces, at most 64). Default `wsauth:`
    /// ([`wsauth_redis::Prefix::default`]).
    pub redis_prefix: String,
    /// Limits on sockets and handshakes.
    pub limits: Limits,
    /// External issuers whose tokens are accepted (`[[trusted_issuers]]`).
    /// Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_issuers: Vec<crate::trusted_issuers::TrustedIssuerConfig>,
    /// Proxied WebSocket routes (`[[proxy]]`). Default: none.
    pub proxy: Vec<crate::proxy::settings::ProxyRoute>,
    /// Channel rules and limits (`[channels]`).
    pub channels: ChannelSettings,
}

impl Default for Config {
    fn default() -> Self {
        let tokens = wsauth::TokenSettings::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("wsauth-data"),
            database_url: None,
            hmac_secret: None,
            algorithm: "HS256".into(),
            private_key_file: None,
            previous_keys: Vec::new(),
            insecure_dev: false,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            access_ttl: tokens.access_ttl,
            refresh_ttl: tokens.refresh_ttl,
            leeway: tokens.leeway,
            issuer: None,
            audience: None,
            registration: true,
            cookie_secure: false,
            cookie_host_prefix: false,
            max_token_lifetime: tokens.max_token_lifetime,
            refresh_grace: 10,
            ticket_ttl: wsauth::DEFAULT_TICKET_TTL_SECS,
            shutdown_timeout: 5,
            log: "info".into(),
            log_format: LogFormat::Text,
            metrics: true,
            metrics_listen: None,
            admin_api_key: None,
            publish_api_key: None,
            redis_url: None,
            redis_prefix: wsauth_redis::Prefix::default().as_str().to_owned(),
            limits: Limits::default(),
            trusted_issuers: Vec::new(),
            proxy: Vec::new(),
            channels: ChannelSettings::default(),
        }
    }
}
