//! Backend faults under load: every operation of the API runs in a loop of
//! its own while the database is made to fail for a while (its write lock
//! held by another connection, or its disk full) and then comes back.
//! Each attempt is recorded by phase (before, fault, after) with its
//! outcome and latency. A revoking call (logout, logout-all, admin revoke)
//! is followed by a handshake with the token it named: a success must have
//! revoked it (else `fail_open`), a failure must have left it working (else
//! `half_revoked`).

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::jwt::{Minter, unix_now};
use wsauth_bench::stats::{self, Errors};

use crate::api::Api;
use crate::common::{Common, Cred, Expect, Mode};
use crate::dial::{Dialer, Ws, close_cleanly};
use crate::handshake::micros;
use crate::report;

mod inject;
use inject::Injector;

/// How the database fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Fault {
    /// Another connection holds SQLite's write lock (`BEGIN IMMEDIATE`).
    Lock,
    /// The disk the database lives on is full (a file fills `--fill-dir`).
    Full,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FaultsArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The fault.
    #[arg(long, value_enum)]
    pub(crate) fault: Fault,
    /// The server's database file: the lock is taken on it, and before the
    /// disk is filled its write-ahead log is checkpointed and truncated, so
    /// that every write then needs new space (otherwise writes go on into
    /// the log's room for a while).
    #[arg(long)]
    pub(crate) database: Option<PathBuf>,
    /// A directory on the small tmpfs (256 MiB at most) that holds the
    /// server's data directory (`--fault full`).
    #[arg(long)]
    pub(crate) fill_dir: Option<PathBuf>,
    /// Seconds before the fault, of it, and after it.
    #[arg(long, num_args = 3, value_names = ["BEFORE", "FAULT", "AFTER"], default_values_t = [5, 15, 10])]
    pub(crate) phases: Vec<u64>,
    /// Pause between two attempts of one operation, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub(crate) pause_ms: u64,
    /// The admin API key, to include admin revocations.
    #[arg(long, env = "WSAUTH_BENCH_ADMIN_API_KEY", hide_env_values = true)]
    pub(crate) admin_api_key: Option<String>,
}

/// The operations, one loop each.
const OPS: [&str; 10] = [
    "handshake",
    "first_message",
    "in_band_refresh",
    "ticket",
    "login",
    "register",
    "refresh",
    "logout",
    "logout_all",
    "admin_revoke",
];

/// A login the loops spend.
#[derive(Debug, Clone)]
struct Session {
    user: String,
    access: String,
    refresh: String,
}

/// What every loop shares.
struct Ctx {
    api: Api,
    query: Dialer,
    tickets: Dialer,
    first_message: Dialer,
    minter: Minter,
    password: String,
    prefix: String,
    admin_key: Option<String>,
    fault_at: Instant,
    cleared_at: Instant,
    until: Instant,
    pause: Duration,
}

/// One attempt: its outcome, latency and start.
type Attempt = (String, u64, Instant);

pub(crate) async fn run(args: FaultsArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = &args.common;
    let secret = c.hmac_secret.as_deref().context("faults mints tokens: give --hmac-secret")?;
    let [before, fault, after] = <[u64; 3]>::try_from(args.phases.as_slice())
        .map_err(|_| anyhow::anyhow!("--phases takes three numbers"))?;
    let injector = Injector::prepare(&args).await?;
    let target = Arc::new(dialer.target().clone());
    let with_mode = |mode, url: String| {
        let target = Arc::new(crate::common::Target { ws_base: url, ..(*target).clone() });
        Dialer::new(target, mode, Expect::Welcome, api.clone(), c.timeout())
    };
    let prefix = c.user_prefix();
    // Logins for the loops to spend, made before anything fails.
    let mut sessions = BTreeMap::new();
    for op in ["login", "refresh", "ticket", "logout", "logout_all", "admin_revoke"] {
        let n = match op {
            "logout" | "logout_all" => 50,
            "admin_revoke" if args.admin_api_key.is_some() => 50,
            _ => 1,
        };
        let mut list = Vec::new();
        for i in 0..n {
            let user = format!("{prefix}-{op}-{i}");
            api.register(&user, &c.password).await?;
            let (access, refresh) = api.login_pair(&user, &c.password).await?;
            list.push(Session { user, access, refresh });
        }
        sessions.insert(op, list);
    }
    let start = Instant::now() + Duration::from_secs(1);
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        query: with_mode(Mode::Query, target.ws_base.clone()),
        tickets: with_mode(Mode::Ticket, target.ws_base.clone()),
        first_message: with_mode(Mode::FirstMessage, format!("{}/deferred", target.ws_base)),
        minter: Minter::new(secret),
        password: c.password.clone(),
        prefix: prefix.clone(),
        admin_key: args.admin_api_key.clone(),
        fault_at: start + Duration::from_secs(before),
        cleared_at: start + Duration::from_secs(before + fault),
        until: start + Duration::from_secs(before + fault + after),
        pause: Duration::from_millis(args.pause_ms.max(1)),
    });
    tokio::time::sleep_until(start.into()).await;
    let loops: Vec<_> = OPS
        .iter()
        .map(|op| {
            let list = sessions.remove(op).unwrap_or_default();
            tokio::spawn(run_loop(Arc::clone(&ctx), op, list))
        })
        .collect();
    tokio::time::sleep_until(ctx.fault_at.into()).await;
    let held = injector.inject().await?;
    let injected = Instant::now();
    eprintln!("fault injected: {:?}", args.fault);
    tokio::time::sleep_until(ctx.cleared_at.into()).await;
    injector.clear(held).await?;
    let cleared = Instant::now();
    eprintln!("fault cleared");
    let mut table = serde_json::Map::new();
    let mut broken = Errors::default();
    for (op, handle) in OPS.iter().zip(loops) {
        let attempts = handle.await.unwrap_or_default();
        for (outcome, _, _) in &attempts {
            if outcome.starts_with("fail_open") || outcome.starts_with("half_revoked") {
                broken.add(format!("{op}_{outcome}"));
            }
        }
        table.insert((*op).to_owned(), summarize(&attempts, injected, cleared));
    }
    report::emit(
        c,
        dialer.target(),
        "faults",
        json!({
            "fault": format!("{:?}", args.fault).to_lowercase(),
            "phases_s": [before, fault, after],
            "ops": table,
            "broken": broken.to_json(),
        }),
        None,
        format!(
            "{:?} for {fault} s: {}; fail-open or half-revoked: {}",
            args.fault,
            human(&table),
            broken.human()
        ),
    );
    Ok(())
}

/// Runs one operation in a loop until the end, with a pause between attempts.
async fn run_loop(ctx: Arc<Ctx>, op: &'static str, mut sessions: Vec<Session>) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut socket: Option<Ws> = None;
    let mut n = 0u64;
    while Instant::now() < ctx.until {
        let t0 = Instant::now();
        let outcome = attempt(&ctx, op, n, &mut sessions, &mut socket).await;
        attempts.push((outcome, micros(t0.elapsed()), t0));
        n += 1;
        tokio::time::sleep(pause_for(op, ctx.pause)).await;
    }
    if let Some(ws) = socket {
        close_cleanly(ws, Duration::from_secs(5)).await;
    }
    attempts
}

/// Password checks cost the server an Argon2 hash each, and every revoking
/// call spends a login: those loops go ten and five times slower.
fn pause_for(op: &str, pause: Duration) -> Duration {
    match op {
        "login" | "register" => pause * 10,
        "logout" | "logout_all" | "admin_revoke" => pause * 5,
        _ => pause,
    }
}

async fn attempt(
    ctx: &Ctx,
    op: &str,
    n: u64,
    sessions: &mut Vec<Session>,
    socket: &mut Option<Ws>,
) -> String {
    let src = ctx.query.target().sources
        [usize::try_from(n).unwrap_or(0) % ctx.query.target().sources.len()];
    let minted = |sub: &str| ctx.minter.access(sub, unix_now() + 3600, None).unwrap_or_default();
    match op {
        "handshake" => {
            open(&ctx.query, src, &minted(&format!("{}-hs-{}", ctx.prefix, n % 64))).await
        }
        "first_message" => {
            open(&ctx.first_message, src, &minted(&format!("{}-fm-{}", ctx.prefix, n % 64))).await
        }
        "ticket" => match sessions.first() {
            Some(s) => open(&ctx.tickets, src, &s.access).await,
            None => "no_session".into(),
        },
        "in_band_refresh" => {
            in_band_refresh(ctx, src, socket, &minted(&format!("{}-ib", ctx.prefix))).await
        }
        "login" | "register" => {
            let (path, user) = match op {
                "login" => {
                    ("/auth/login", sessions.first().map(|s| s.user.clone()).unwrap_or_default())
                }
                _ => ("/auth/register", format!("{}-new-{n}", ctx.prefix)),
            };
            status(ctx.api.post_credentials(path, &user, &ctx.password).await)
        }
        "refresh" => {
            let Some(session) = sessions.first_mut() else { return "no_session".into() };
            match ctx.api.refresh(&session.refresh).await {
                Ok((access, refresh)) => {
                    (session.access, session.refresh) = (access, refresh);
                    "ok".into()
                }
                Err(e) => short(&e.to_string()),
            }
        }
        _ => revoke(ctx, op, src, sessions).await,
    }
}

/// A logout, logout-all or admin revoke, then a handshake with its token.
async fn revoke(ctx: &Ctx, op: &str, src: std::net::IpAddr, sessions: &mut Vec<Session>) -> String {
    let Some(session) = sessions.pop() else { return "no_session_left".into() };
    let answer = match (op, &ctx.admin_key) {
        ("logout", _) => ctx.api.post_bearer("/auth/logout", &session.access).await,
        ("logout_all", _) => ctx.api.post_bearer("/auth/logout-all", &session.access).await,
        (_, Some(key)) => {
            ctx.api.post_bearer(&format!("/admin/users/{}/revoke", session.user), key).await
        }
        (_, None) => return "skipped_no_admin_key".into(),
    };
    let still_works = open(&ctx.query, src, &session.access).await == "ok";
    match answer {
        Ok(s) if s.is_success() && still_works => "fail_open".into(),
        Ok(s) if s.is_success() => "ok".into(),
        Ok(s) if still_works => {
            // Nothing changed: the same logout is tried again later.
            sessions.insert(0, session);
            format!("http_{}", s.as_u16())
        }
        Ok(s) => format!("half_revoked_http_{}", s.as_u16()),
        Err(_) => "transport".into(),
    }
}

async fn open(dialer: &Dialer, src: std::net::IpAddr, token: &str) -> String {
    let cred = Cred { token: token.to_owned(), csrf: None };
    match dialer.open(src, &cred).await {
        Ok(ws) => {
            close_cleanly(ws, Duration::from_secs(5)).await;
            "ok".into()
        }
        Err(f) => f.kind(),
    }
}

/// One refresh frame on a long-lived socket (opened again if it ended).
async fn in_band_refresh(
    ctx: &Ctx,
    src: std::net::IpAddr,
    socket: &mut Option<Ws>,
    token: &str,
) -> String {
    if socket.is_none() {
        let cred = Cred { token: token.to_owned(), csrf: None };
        match ctx.query.open(src, &cred).await {
            Ok(ws) => *socket = Some(ws),
            Err(f) => return format!("open_{}", f.kind()),
        }
    }
    let Some(ws) = socket.as_mut() else { return "no_socket".into() };
    let frame = json!({"type": "refresh", "token": token}).to_string();
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        ws.send(Message::text(frame)).await.ok()?;
        loop {
            match ws.next().await? {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).ok()?;
                    return v["type"].as_str().map(|t| match t {
                        "refreshed" => "ok".to_owned(),
                        _ => format!("{t}_{}", v["error"].as_str().unwrap_or("")),
                    });
                }
                Ok(Message::Close(f)) => {
                    return Some(format!("closed_{:?}", f.map(|f| u16::from(f.code))));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    })
    .await;
    match answered {
        Ok(Some(outcome)) if outcome == "ok" => outcome,
        Ok(Some(outcome)) => {
            *socket = None;
            outcome
        }
        _ => {
            *socket = None;
            "socket_lost".into()
        }
    }
}

fn status(answer: anyhow::Result<reqwest::StatusCode>) -> String {
    match answer {
        Ok(s) if s.is_success() => "ok".into(),
        Ok(s) => format!("http_{}", s.as_u16()),
        Err(_) => "transport".into(),
    }
}

/// `POST /auth/refresh answered 503 Service Unavailable` -> `http_503`.
fn short(error: &str) -> String {
    error
        .split_whitespace()
        .find_map(|w| w.parse::<u16>().ok().filter(|s| (100..600).contains(s)))
        .map_or_else(|| "transport".into(), |s| format!("http_{s}"))
}

/// Outcomes and latency by phase, an attempt counted in the phase it
/// started in; and how soon after the fault was cleared each op first worked.
fn summarize(attempts: &[Attempt], injected: Instant, cleared: Instant) -> Value {
    let phase_of = |t0: Instant| match t0 {
        t if t < injected => "before",
        t if t < cleared => "fault",
        _ => "after",
    };
    let mut phases = serde_json::Map::new();
    for phase in ["before", "fault", "after"] {
        let mut outcomes = Errors::default();
        let mut latency = stats::new_histogram();
        for (outcome, us, _) in attempts.iter().filter(|a| phase_of(a.2) == phase) {
            outcomes.add(outcome.clone());
            stats::record(&mut latency, *us);
        }
        phases.insert(
            phase.into(),
            json!({"outcomes": outcomes.to_json(), "latency_us": stats::summary_us(&latency)}),
        );
    }
    let recovered = attempts
        .iter()
        .filter(|(outcome, _, t0)| *t0 >= cleared && outcome == "ok")
        .map(|(_, _, t0)| t0.saturating_duration_since(cleared).as_millis() as u64)
        .min();
    phases.insert("first_ok_after_clear_ms".into(), json!(recovered));
    Value::Object(phases)
}

fn human(table: &serde_json::Map<String, Value>) -> String {
    table
        .iter()
        .map(|(op, v)| format!("{op} during: {}", v["fault"]["outcomes"]))
        .collect::<Vec<_>>()
        .join("; ")
}
