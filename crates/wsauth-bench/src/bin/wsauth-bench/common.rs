//! Options shared by every measurement, the parsed target and the credentials.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::http::Uri;
use wsauth_bench::jwt::{Minter, unix_now};
use wsauth_bench::loopback;

use crate::api::Api;

/// How the credential travels on the WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// `?token=<JWT>`.
    Query,
    /// `Authorization: Bearer <JWT>`.
    Header,
    /// `Sec-WebSocket-Protocol: wsauth, bearer.<JWT>`.
    Subprotocol,
    /// `Cookie: access_token_cookie=<JWT>` + `?csrf_token=` + `Origin`.
    Cookie,
    /// `POST /auth/ws-ticket`, then `?ticket=<ticket>`.
    Ticket,
    /// No credential on the handshake (point `--url` at `/ws/deferred`); the
    /// first frame is `{"type":"auth","token":<JWT>}`.
    FirstMessage,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Header => "header",
            Self::Subprotocol => "subprotocol",
            Self::Cookie => "cookie",
            Self::Ticket => "ticket",
            Self::FirstMessage => "first-message",
        }
    }
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// WebSocket URL of the server (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    pub(crate) url: String,
    /// Base URL of the HTTP API; default: the WebSocket URL's host and port over http.
    #[arg(long)]
    pub(crate) http_base: Option<String>,
    /// How the credential travels.
    #[arg(long, value_enum, default_value_t = Mode::Query)]
    pub(crate) mode: Mode,
    /// Mint HS256 tokens locally with this secret (fastapi-jwt-auth claim
    /// layout) instead of registering users and logging in over HTTP.
    #[arg(long, env = "WSAUTH_BENCH_HMAC_SECRET", hide_env_values = true)]
    pub(crate) hmac_secret: Option<String>,
    /// Number of distinct users (subjects) the connections are spread over.
    #[arg(long, default_value_t = 16)]
    pub(crate) users: usize,
    /// Username prefix for registered or minted users; default: random.
    #[arg(long)]
    pub(crate) user_prefix: Option<String>,
    /// Password of registered users.
    #[arg(long, default_value = "bench-password-0123456789")]
    pub(crate) password: String,
    /// Lifetime of locally minted tokens, seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) token_ttl: i64,
    /// `Origin` header sent in cookie mode; default: http://HOST:PORT of the target.
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Count a connection as successful when this exact text frame arrives first
    /// (instead of the JSON welcome frame).
    #[arg(long, conflicts_with = "expect_any")]
    pub(crate) expect_text: Option<String>,
    /// Count a connection as successful as soon as the upgrade completes, whatever
    /// the server sends afterwards (or if it sends nothing).
    #[arg(long)]
    pub(crate) expect_any: bool,
    /// Number of 127.0.0.x source addresses the connections are spread over.
    #[arg(long, default_value_t = 16)]
    pub(crate) sources: usize,
    /// Upper bound on the measured phase, seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) duration: u64,
    /// Upper bound on the number of measured operations.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) count: u64,
    /// Timeout of one operation (connect + upgrade + first frame, one echo, ...), ms.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) timeout_ms: u64,
    /// The server's process id: its CPU use (and for `hold`, its RSS) is read from /proc.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Free text copied into every JSON line (e.g. the server's name).
    #[arg(long, default_value = "")]
    pub(crate) label: String,
    /// Hard limit on the whole run, seconds; the tool exits when it is reached.
    #[arg(long, default_value_t = 900)]
    pub(crate) max_runtime: u64,
}

/// What counts as a successful handshake.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// A JSON text frame with `"type": "welcome"`.
    Welcome,
    /// This exact text frame.
    Text(String),
    /// The upgrade alone.
    Any,
}

/// The `type` of a JSON object, borrowed from the frame when it has no escapes.
#[derive(serde::Deserialize)]
struct Typed<'a> {
    #[serde(borrow, rename = "type")]
    kind: std::borrow::Cow<'a, str>,
}

impl Expect {
    /// Whether the first text frame, `text`, is the one expected.
    pub(crate) fn matches(&self, text: &[u8]) -> bool {
        match self {
            Self::Any => true,
            Self::Text(want) => text == want.as_bytes(),
            // A struct also deserializes from a JSON array: only an object counts.
            Self::Welcome => {
                text.trim_ascii_start().first() == Some(&b'{')
                    && serde_json::from_slice::<Typed<'_>>(text).is_ok_and(|t| t.kind == "welcome")
            }
        }
    }
}

/// The server under test, resolved and checked to be on loopback.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `ws://host:port/path` plus any query given in `--url`.
    pub(crate) ws_base: String,
    pub(crate) addr: SocketAddr,
    pub(crate) http_base: String,
    pub(crate) origin: String,
    pub(crate) sources: Vec<IpAddr>,
}

impl Target {
    pub(crate) fn parse(common: &Common) -> anyhow::Result<Self> {
        let uri: Uri = common.url.parse().context("--url is not a valid URL")?;
        if uri.scheme_str() != Some("ws") {
            bail!("--url must be a ws:// URL on loopback");
        }
        let host = uri.host().context("--url has no host")?;
        let ip = loopback::resolve(host)?;
        let port = uri.port_u16().unwrap_or(80);
        let addr = SocketAddr::new(ip, port);
        let hostport = match ip {
            IpAddr::V4(_) => format!("{ip}:{port}"),
            IpAddr::V6(_) => format!("[{ip}]:{port}"),
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let http_base = match &common.http_base {
            Some(base) => {
                let u: Uri = base.parse().context("--http-base is not a valid URL")?;
                if u.scheme_str() != Some("http") {
                    bail!("--http-base must be an http:// URL on loopback");
                }
                loopback::resolve(u.host().context("--http-base has no host")?)?;
                base.trim_end_matches('/').to_owned()
            }
            None => format!("http://{hostport}"),
        };
        Ok(Self {
            ws_base: format!("ws://{hostport}{path}"),
            addr,
            http_base,
            origin: common.origin.clone().unwrap_or_else(|| format!("http://{hostport}")),
            sources: loopback::sources(ip, common.sources),
        })
    }

    /// The URL without credentials, for reports.
    pub(crate) fn display_url(&self) -> &str {
        &self.ws_base
    }
}

impl Common {
    pub(crate) fn expect(&self) -> Expect {
        match (&self.expect_text, self.expect_any) {
            (_, true) => Expect::Any,
            (Some(t), false) => Expect::Text(t.clone()),
            (None, false) => Expect::Welcome,
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.duration)
    }

    pub(crate) fn user_prefix(&self) -> String {
        self.user_prefix.clone().unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            format!("bench-{}", &id[..8])
        })
    }
}

/// One user's credential.
#[derive(Debug, Clone)]
pub(crate) struct Cred {
    /// The access token (in cookie mode: the access cookie's value).
    pub(crate) token: String,
    /// Cookie mode: the CSRF value sent as `?csrf_token=`.
    pub(crate) csrf: Option<String>,
}

/// Credentials for `n` users: minted locally with `--hmac-secret`, or obtained
/// by registering and logging in over HTTP.
pub(crate) async fn provision(
    common: &Common,
    api: &Api,
    mode: Mode,
    n: usize,
    prefix: &str,
) -> anyhow::Result<Vec<Cred>> {
    let n = n.max(1);
    let mut creds = Vec::with_capacity(n);
    if let Some(secret) = &common.hmac_secret {
        let minter = Minter::new(secret);
        let exp = unix_now() + common.token_ttl;
        for i in 0..n {
            let sub = format!("{prefix}-{i}");
            let csrf = (mode == Mode::Cookie).then(|| uuid::Uuid::new_v4().to_string());
            let token = minter.access(&sub, exp, csrf.clone())?;
            creds.push(Cred { token, csrf });
        }
        return Ok(creds);
    }
    for i in 0..n {
        let sub = format!("{prefix}-{i}");
        api.register(&sub, &common.password).await?;
        let cred = if mode == Mode::Cookie {
            let (token, csrf) = api.cookie_login(&sub, &common.password).await?;
            Cred { token, csrf: Some(csrf) }
        } else {
            let token = api.login(&sub, &common.password).await?;
            Cred { token, csrf: None }
        };
        creds.push(cred);
    }
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        c: Common,
    }

    fn common(args: &[&str]) -> Common {
        let mut v = vec!["t"];
        v.extend_from_slice(args);
        T::parse_from(v).c
    }

    #[test]
    fn welcome_is_a_json_object_typed_welcome() {
        assert!(Expect::Welcome.matches(br#"{"type":"welcome","sub":"a"}"#));
        assert!(Expect::Welcome.matches(br#" {"x":[1],"type":"welc\u006fme"}"#));
        assert!(!Expect::Welcome.matches(br#"{"type":"error"}"#));
        assert!(!Expect::Welcome.matches(br#"["welcome"]"#));
        assert!(!Expect::Welcome.matches(b"Successfully Login!"));
        let seed = Expect::Text("Successfully Login!".into());
        assert!(seed.matches(b"Successfully Login!"));
        assert!(!seed.matches(b"Signature verification failed"));
    }

    #[test]
    fn non_loopback_targets_are_refused() {
        for url in ["ws://10.1.2.3:80/ws", "ws://example.com/ws", "wss://127.0.0.1/ws"] {
            assert!(Target::parse(&common(&["--url", url])).is_err(), "{url}");
        }
        let c = common(&["--url", "ws://127.0.0.1:1/ws", "--http-base", "http://192.168.0.1"]);
        assert!(Target::parse(&c).is_err());
    }

    #[test]
    fn target_derives_http_base_and_origin() -> anyhow::Result<()> {
        let t = Target::parse(&common(&["--url", "ws://localhost:9000/ws", "--sources", "4"]))?;
        assert_eq!(t.http_base, "http://127.0.0.1:9000");
        assert_eq!(t.origin, "http://127.0.0.1:9000");
        assert_eq!(t.ws_base, "ws://127.0.0.1:9000/ws");
        assert_eq!(t.sources.len(), 4);
        Ok(())
    }
}
