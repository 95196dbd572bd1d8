//! Configuration: built-in defaults < TOML file (`--config`) < `WSAUTH_*`
//! environment variables < command-line flags. See docs/configuration.md.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::store::Database;

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
    /// `data_dir` ([`Database::DEFAULT_FILE`]).
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
    pub proxy: Vec<crate::proxy::ProxyRoute>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text (colour only on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// A key from before a rotation: an HMAC secret or a PEM private key file,
/// accepted for verification until `valid_until` (Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    /// An HS256 secret given as text.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// A PKCS#8 PEM private key file.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The key's algorithm (HS256 for a secret; EdDSA, ES256, RS256 or PS256 for a file).
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Unix seconds after which tokens signed with this key are refused.
    pub valid_until: i64,
}

/// Limits on live sockets and handshakes (`[limits]` in the file,
/// `WSAUTH_LIMITS_<KEY>` in the environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Seconds a socket may outlive its token's `exp` (then close 4001).
    pub expiry_grace: i64,
    /// Largest message and frame a client may send, bytes (close 1009).
    pub max_message_size: usize,
    /// The WebSocket layer's read buffer per connection, bytes (at least
    /// 128). Default 256: one read from the kernel takes up to 4 KiB into a
    /// chunk that exists only while its bytes wait, so this is what an idle
    /// socket keeps; it bounds neither a read nor a message.
    pub read_buffer_size: usize,
    /// Messages per second per connection, sustained (close 1008 past it); 0 = off.
    pub message_rate: f64,
    /// Messages per connection in a burst.
    pub message_burst: f64,
    /// Messages queued for a client that is not reading (close 1008 when full).
    pub outbound_queue: usize,
    /// Bytes queued for a client that is not reading (close 1008 past it);
    /// never less than `max_message_size`.
    pub outbound_queue_bytes: usize,
    /// Seconds between pings to a quiet client.
    pub ping_interval: u64,
    /// Seconds a client may stay silent after a ping (close 1008 after).
    pub pong_timeout: u64,
    /// Seconds one write may take before the client is dropped.
    pub write_timeout: u64,
    /// WebSocket handshakes per second per client address (429 past it); 0 = off.
    pub handshake_rate: f64,
    /// Handshakes per client address in a burst.
    pub handshake_burst: f64,
    /// Password attempts (login, register) per second per client address (429 past it); 0 = off.
    pub password_rate: f64,
    /// Password attempts per client address in a burst.
    pub password_burst: f64,
    /// Password checks (login, register) waiting for or holding one of the
    /// hashing slots; past it, 503 `overloaded` with `Retry-After`.
    pub password_queue: usize,
    /// Refreshes per second per token family, sustained (429 past it); 0 = off.
    pub refresh_rate: f64,
    /// Refreshes per token family in a burst.
    pub refresh_burst: f64,
    /// Unredeemed WebSocket tickets per user (429 past it).
    pub max_tickets_per_user: usize,
    /// Live sockets per user (429 past it).
    pub max_connections_per_user: usize,
    /// Sockets waiting for a first-message auth frame, in all (429 past it).
    pub max_pending_auth: usize,
    /// Of those, how many one client address may hold (429 past it). Default 16.
    pub max_pending_auth_per_address: usize,
    /// Milliseconds a first-message socket may wait for its auth frame (close 4408).
    pub auth_timeout_ms: u64,
    /// Seconds a client has to send a whole request head, counted from the
    /// connection's start or, on a kept-alive connection, from the end of the
    /// previous response; then the connection is closed. Default 10.
    pub header_read_timeout: u64,
    /// Seconds a request body has to arrive in full (408 after it). Default 10.
    pub body_read_timeout: u64,
    /// Seconds an HTTP connection (not an upgraded WebSocket) may go without
    /// a byte moving either way, for instance a client that stopped reading
    /// its responses; then it is closed. Default 60.
    pub http_idle_timeout: u64,
    /// Open connections in all, WebSockets included; past it a new
    /// connection gets 503 and is closed. Default: the soft `RLIMIT_NOFILE`
    /// less a reserve of 64 for the database and logs (at least half of it).
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 client: its /64);
    /// past it 429 and closed. A trusted proxy counts against `max_connections`
    /// only. Default 4096.
    pub max_connections_per_address: usize,
    /// New connections per second per client address, sustained; past it a
    /// connection gets 429 and is closed as soon as it is accepted, before
    /// any parsing. A trusted proxy is not limited. 0 = off. Default 100.
    pub connection_rate: f64,
    /// New connections per client address in a burst. Default 200.
    pub connection_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        // The library's defaults, stated once there; the numbers below are
        // the server's own policy (the library leaves these limits off).
        let live = wsauth::LiveConfig::default();
        let socket = wsauth::SocketLimits::default();
        Self {
            expiry_grace: live.expiry_grace_secs,
            max_message_size: socket.max_message_size,
            // The server's own: its streams read ahead (stream.rs), so the
            // WebSocket layer's buffer, kept by every idle socket, only has
            // to hold a frame header and a small message.
            read_buffer_size: 256,
            message_rate: live.message_rate,
            message_burst: live.message_burst,
            outbound_queue: live.outbound_queue,
            outbound_queue_bytes: live.outbound_queue_bytes,
            ping_interval: live.ping_interval.as_secs(),
            pong_timeout: live.pong_timeout.as_secs(),
            write_timeout: live.write_timeout.as_secs(),
            handshake_rate: 50.0,
            handshake_burst: 100.0,
            password_rate: 5.0,
            password_burst: 20.0,
            password_queue: 32,
            refresh_rate: 0.1,
            refresh_burst: 10.0,
            max_tickets_per_user: wsauth::DEFAULT_MAX_TICKETS_PER_SUBJECT,
            max_connections_per_user: live.max_connections_per_user,
            max_pending_auth: live.max_pending_auth,
            max_pending_auth_per_address: live.max_pending_auth_per_address,
            auth_timeout_ms: u64::try_from(live.auth_timeout.as_millis()).unwrap_or(u64::MAX),
            header_read_timeout: 10,
            body_read_timeout: 10,
            http_idle_timeout: 60,
            max_connections: crate::serve::max_connections_from_nofile(),
            max_connections_per_address: 4096,
            connection_rate: 100.0,
            connection_burst: 200.0,
        }
    }
}

/// The longest lifetime the server issues tokens with: ten years, so that
/// `exp` stays a valid time claim.
const MAX_TOKEN_TTL: i64 = 10 * 365 * 24 * 3600;
/// The longest `issuer` and `audience`, bytes: every token carries them.
const MAX_CLAIM_TEXT: usize = 256;
/// The longest any live-socket timer may be, seconds.
const MAX_TIMER_SECS: u64 = 24 * 3600;

impl Limits {
    /// Rates and bursts are finite and not negative; timers at most a day.
    fn validate(&self) -> Result<(), ConfigError> {
        let rates = [
            ("message_rate", self.message_rate),
            ("message_burst", self.message_burst),
            ("handshake_rate", self.handshake_rate),
            ("handshake_burst", self.handshake_burst),
            ("password_rate", self.password_rate),
            ("password_burst", self.password_burst),
            ("refresh_rate", self.refresh_rate),
            ("refresh_burst", self.refresh_burst),
        ];
        for (name, value) in rates {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::Invalid(format!(
                    "limits.{name} must be a number of at least 0"
                )));
            }
        }
        let timers = [
            ("ping_interval", self.ping_interval),
            ("pong_timeout", self.pong_timeout),
            ("write_timeout", self.write_timeout),
            ("auth_timeout_ms", self.auth_timeout_ms.div_ceil(1000)),
            ("expiry_grace", u64::try_from(self.expiry_grace).unwrap_or(u64::MAX)),
        ];
        for (name, value) in timers {
            if value > MAX_TIMER_SECS {
                return Err(ConfigError::Invalid(format!(
                    "limits.{name} must be at least 0 and at most a day"
                )));
            }
        }
        Ok(())
    }

    /// The library's live-socket configuration.
    pub fn live_config(&self) -> wsauth::LiveConfig {
        use std::time::Duration;
        wsauth::LiveConfig {
            expiry_grace_secs: self.expiry_grace,
            max_connections_per_user: self.max_connections_per_user,
            max_pending_auth: self.max_pending_auth,
            max_pending_auth_per_address: self.max_pending_auth_per_address,
            auth_timeout: Duration::from_millis(self.auth_timeout_ms),
            message_rate: self.message_rate,
            message_burst: self.message_burst,
            outbound_queue: self.outbound_queue,
            outbound_queue_bytes: self.outbound_queue_bytes,
            ping_interval: Duration::from_secs(self.ping_interval.max(1)),
            pong_timeout: Duration::from_secs(self.pong_timeout.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout.max(1)),
        }
    }

    /// The library's socket buffer and size limits.
    pub fn socket_limits(&self) -> wsauth::SocketLimits {
        wsauth::SocketLimits {
            read_buffer_size: self.read_buffer_size,
            max_message_size: self.max_message_size,
            max_frame_size: self.max_message_size,
            ..wsauth::SocketLimits::default()
        }
    }
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
            redis_url: None,
            redis_prefix: wsauth_redis::Prefix::default().as_str().to_owned(),
            limits: Limits::default(),
            trusted_issuers: Vec::new(),
            proxy: Vec::new(),
        }
    }
}

/// Values given on the command line or in the environment; only those set
/// override the file.
#[derive(Debug, Default, Clone, Serialize, clap::Args)]
pub struct Overrides {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long, global = true, env = "WSAUTH_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Directory for the database and generated keys [default: ./wsauth-data].
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
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<IpNet>,
    /// Access token lifetime in seconds [default: 900].
    #[arg(long, global = true, env = "WSAUTH_ACCESS_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_ttl: Option<i64>,
    /// Refresh token lifetime in seconds [default: 2592000].
    #[arg(long, global = true, env = "WSAUTH_REFRESH_TTL")]
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
    #[arg(long, global = true, env = "WSAUTH_SHUTDOWN_TIMEOUT")]
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
    #[arg(long, global = true, env = "WSAUTH_METRICS_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// The admin API key (at least 32 bytes); without it the admin API is off.
    #[arg(long, global = true, env = "WSAUTH_ADMIN_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_api_key: Option<String>,
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
        value_parser = crate::proxy::ProxyRoute::parse_flag
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proxy: Vec<crate::proxy::ProxyRoute>,
}

/// The longest connection timeout accepted, seconds (a day).
const MAX_TIMEOUT_SECS: u64 = 24 * 3600;

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
    /// Cookie and other credential names: fastapi-jwt-auth's, with the token
    /// cookies `__Host-` prefixed when `cookie_host_prefix` is on.
    pub fn credential_names(&self) -> wsauth::CredentialNames {
        let names = wsauth::CredentialNames::default();
        if !self.cookie_host_prefix {
            return names;
        }
        wsauth::CredentialNames {
            access_cookie: format!("__Host-{}", names.access_cookie),
            refresh_cookie: format!("__Host-{}", names.refresh_cookie),
            ..names
        }
    }

    /// The database the stores live in: `database_url`, or by default the
    /// SQLite file [`Database::DEFAULT_FILE`] in `data_dir`.
    pub fn database(&self) -> Result<Database, ConfigError> {
        match &self.database_url {
            Some(url) => Database::parse(url).map_err(|e| ConfigError::Invalid(e.to_string())),
            None => Ok(Database::Sqlite(self.data_dir.join(Database::DEFAULT_FILE))),
        }
    }

    /// The Redis key prefix, validated.
    pub fn redis_prefix(&self) -> Result<wsauth_redis::Prefix, ConfigError> {
        wsauth_redis::Prefix::new(self.redis_prefix.clone())
            .map_err(|e| ConfigError::Invalid(format!("redis_prefix: {e}")))
    }

    /// The refresh rotation rules.
    pub fn rotation_rules(&self) -> crate::families::RotationRules {
        crate::families::RotationRules {
            grace_ms: self.refresh_grace.saturating_mul(1000),
            rate: self.limits.refresh_rate,
            burst: self.limits.refresh_burst.max(1.0),
        }
    }

    /// Loads defaults, then the file (if given), then the overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        Self::extract(figment, overrides)
    }

    /// As [`Config::load`], with the text of a configuration file instead
    /// of its path.
    pub fn from_toml(text: &str, overrides: &Overrides) -> Result<Self, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Config::default()));
        Self::extract(figment.merge(Toml::string(text)), overrides)
    }

    /// Adds the environment and the overrides, extracts and validates.
    fn extract(figment: Figment, overrides: &Overrides) -> Result<Self, ConfigError> {
        let limits_env = Env::prefixed("WSAUTH_LIMITS_").map(|key| format!("limits.{key}").into());
        let config: Config = figment
            .merge(limits_env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("ticket_ttl", self.ticket_ttl),
            ("max_token_lifetime", self.max_token_lifetime),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        // Found by the server_config fuzz target: each of these once loaded
        // and then made every socket panic, refuse every message (NaN rates)
        // or issue tokens that never verify.
        for (name, value) in [("access_ttl", self.access_ttl), ("refresh_ttl", self.refresh_ttl)] {
            if value > MAX_TOKEN_TTL {
                return Err(ConfigError::Invalid(format!("{name} must be at most ten years")));
            }
        }
        self.limits.validate()?;
        for (name, value) in [("issuer", &self.issuer), ("audience", &self.audience)] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_CLAIM_TEXT) {
                return Err(ConfigError::Invalid(format!("{name} must be at most 256 bytes")));
            }
        }
        if self.limits.max_message_size < 1024 || self.limits.read_buffer_size < 128 {
            return Err(ConfigError::Invalid(
                "limits.max_message_size must be at least 1024 and limits.read_buffer_size at least 128"
                    .into(),
            ));
        }
        if let Some(key) = &self.admin_api_key {
            admin_api_key_rule(key)?;
        }
        if self.cookie_host_prefix && !self.cookie_secure {
            return Err(ConfigError::Invalid(
                "cookie_host_prefix needs cookie_secure (browsers drop __Host- cookies without Secure)"
                    .into(),
            ));
        }
        if self.access_ttl > self.max_token_lifetime {
            return Err(ConfigError::Invalid(
                "access_ttl must not exceed max_token_lifetime".into(),
            ));
        }
        if !(0..=10).contains(&self.refresh_grace) {
            return Err(ConfigError::Invalid("refresh_grace must be 0 to 10 seconds".into()));
        }
        let limits = &self.limits;
        let timeouts = [
            ("shutdown_timeout", self.shutdown_timeout),
            ("limits.header_read_timeout", limits.header_read_timeout),
            ("limits.body_read_timeout", limits.body_read_timeout),
            ("limits.http_idle_timeout", limits.http_idle_timeout),
        ];
        for (name, secs) in timeouts {
            if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be 1 to {MAX_TIMEOUT_SECS} seconds"
                )));
            }
        }
        let counts = [
            ("limits.max_connections", limits.max_connections),
            ("limits.max_connections_per_address", limits.max_connections_per_address),
            ("limits.max_pending_auth_per_address", limits.max_pending_auth_per_address),
        ];
        for (name, count) in counts {
            if count == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        self.database()?;
        self.redis_prefix()?;
        let own = crate::proxy::OwnPaths::new(crate::routes::own_paths());
        crate::proxy::settings::validate(&self.proxy, &own).map_err(ConfigError::Invalid)?;
        if self.leeway < 0 {
            return Err(ConfigError::Invalid("leeway must not be negative".into()));
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return Err(ConfigError::Invalid(format!(
                    "allowed origin {origin:?} must look like scheme://host[:port], without a path"
                )));
            }
        }
        Ok(())
    }
}

/// What an admin API key must be: a random secret of at least 32 bytes,
/// which a header can carry as it is.
fn admin_api_key_rule(key: &str) -> Result<(), ConfigError> {
    const WHAT_TO_DO: &str =
        "set a random key of at least 32 bytes, e.g. the output of `openssl rand -base64 32`";
    if key.trim().is_empty() {
        return Err(ConfigError::Invalid(format!(
            "admin_api_key is blank (empty or only whitespace): {WHAT_TO_DO}"
        )));
    }
    if key.trim() != key {
        return Err(ConfigError::Invalid(format!(
            "admin_api_key begins or ends with whitespace, which an Authorization header \
             cannot carry, so no request could match it: {WHAT_TO_DO}, without spaces around it"
        )));
    }
    if key.len() < 32 {
        return Err(ConfigError::Invalid(format!(
            "admin_api_key must be at least 32 bytes: {WHAT_TO_DO}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for url in
            ["mysql://h/db", "wsauth.db", "sqlite://", "sqlite::memory:", "sqlite://x?mode=ro"]
        {
            let toml = format!("database_url = \"{url}\"");
            let refused = Config::from_toml(&toml, &Overrides::default()).expect_err(url);
            let message = refused.to_string();
            assert!(message.contains("database_url must be sqlite://PATH"), "{url}: {message}");
        }
    }
}
