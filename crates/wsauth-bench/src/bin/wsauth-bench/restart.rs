//! Restart under load: revoke some logins, open N sockets, send the server
//! SIGTERM (or SIGKILL) and time each socket's close frame (1001 expected
//! within the shutdown deadline); then wait for whoever supervises the
//! server to start it again on the same address and data directory
//! (bench/load.sh does), and check that every revocation still holds and
//! every other token still works.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::jwt::{Minter, unix_now};
use wsauth_bench::stats::{self, Errors};

use crate::api::Api;
use crate::common::{self, Common, Cred, Mode};
use crate::dial::{Dialer, Fail, Ws, close_cleanly, finish_server_close};
use crate::handshake::micros;
use crate::hold::{check_fd_budget, open_many_into};
use crate::report;

/// The signal sent to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Signal {
    /// A graceful shutdown: every socket should get close 1001.
    Term,
    /// A crash: sockets are dropped without a close frame.
    Kill,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RestartArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Sockets open when the signal is sent.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) connections: u64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// The signal.
    #[arg(long, value_enum, default_value_t = Signal::Term)]
    pub(crate) signal: Signal,
    /// The server's `shutdown_timeout`, seconds: every 1001 must arrive within it.
    #[arg(long, default_value_t = 5)]
    pub(crate) shutdown_timeout: u64,
    /// Logins made over HTTP before the signal; half of them are logged out.
    #[arg(long, default_value_t = 40)]
    pub(crate) logins: usize,
    /// How long to wait for the server to answer again after it exited, seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) restart_wait: u64,
}

/// Tokens whose fate after the restart is known in advance.
#[derive(Debug, Default)]
struct Ledger {
    refused: Vec<String>,
    refused_refresh: Vec<String>,
    kept: Vec<String>,
    kept_refresh: Vec<String>,
}

pub(crate) async fn run(args: RestartArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = &args.common;
    let pid = c.server_pid.context("restart needs --server-pid to signal the server")?;
    let secret = c
        .hmac_secret
        .as_deref()
        .context("restart mints its sockets' tokens: give --hmac-secret")?;
    if !matches!(c.mode, Mode::Query | Mode::Header | Mode::Subprotocol) {
        bail!("restart uses bearer access tokens: --mode query, header or subprotocol");
    }
    check_fd_budget(args.connections.saturating_add(64))?;
    let timeout = c.timeout();
    let prefix = c.user_prefix();
    let ledger = revoke_half(&api, secret, &c.password, &prefix, args.logins).await?;
    eprintln!(
        "{} tokens revoked, {} kept, before the signal",
        ledger.refused.len(),
        ledger.kept.len()
    );

    let creds = Arc::new(common::provision(c, &api, c.mode, c.users, &prefix).await?);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Ws>(1024);
    let deadline = c.deadline() + Duration::from_secs(c.duration.max(60));
    let opening = open_many_into(&dialer, &creds, args.connections, args.concurrency, deadline, tx);
    let collect = async {
        let mut sockets = Vec::new();
        while let Some(ws) = rx.recv().await {
            sockets.push(ws);
        }
        sockets
    };
    let ((opened, open_errors, _), sockets) = tokio::join!(opening, collect);
    eprintln!("{opened} sockets open; errors: {}", open_errors.human());

    // Every socket is watched from before the signal.
    let wait = Duration::from_secs(args.shutdown_timeout) + Duration::from_secs(10);
    let signalled = Instant::now() + Duration::from_millis(200);
    let watchers: Vec<_> =
        sockets.into_iter().map(|ws| tokio::spawn(watch(ws, signalled + wait, timeout))).collect();
    tokio::time::sleep_until(signalled.into()).await;
    send_signal(pid, args.signal)?;
    let sent = Instant::now();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut close_after = stats::new_histogram();
    let mut in_time = 0u64;
    let limit = Duration::from_secs(args.shutdown_timeout);
    for watcher in watchers {
        let (key, at) = watcher.await.unwrap_or_else(|_| ("watcher_panicked".into(), None));
        if let Some(at) = at {
            let after = at.saturating_duration_since(sent);
            stats::record(&mut close_after, micros(after));
            if key == "1001" && after <= limit {
                in_time += 1;
            }
        }
        *codes.entry(key).or_default() += 1;
    }
    let exited = process_gone_within(pid, wait).await.map(|at| at.saturating_duration_since(sent));
    eprintln!("server exited after {:?}; closes: {codes:?}", exited);

    let back = server_back_within(&api, Duration::from_secs(args.restart_wait)).await;
    let downtime = back.map(|at| at.saturating_duration_since(sent));
    let verdict = match back {
        Some(_) => check(&api, &dialer, &ledger).await,
        None => Errors::default(),
    };
    report::emit(
        c,
        dialer.target(),
        "restart",
        json!({
            "signal": format!("{:?}", args.signal).to_lowercase(),
            "connections_requested": args.connections,
            "opened": opened,
            "open_errors": open_errors.to_json(),
            "close_codes": codes,
            "closed_1001_within_deadline": in_time,
            "shutdown_timeout_s": args.shutdown_timeout,
            "close_after_signal_us": stats::summary_us(&close_after),
            "process_exit_after_signal_ms": exited.map(|d| d.as_millis() as u64),
            "back_after_signal_ms": downtime.map(|d| d.as_millis() as u64),
            "revoked_checked": ledger.refused.len() + ledger.refused_refresh.len(),
            "kept_checked": ledger.kept.len() + ledger.kept_refresh.len(),
            "after_restart": verdict.to_json(),
        }),
        None,
        format!(
            "{opened} sockets, SIG{}: {in_time} closed with 1001 within {} s (closes {codes:?}; \
             after the signal {}); exit after {:?}, answering again after {:?}; after the \
             restart: {}",
            format!("{:?}", args.signal).to_uppercase(),
            args.shutdown_timeout,
            stats::human_ms(&close_after),
            exited,
            downtime,
            verdict.human()
        ),
    );
    Ok(())
}

/// Logs `n` users in (some twice), then revokes half of what it holds in
/// each way the API offers: logout, a rotation then logout, logout-all, a
/// foreign token (no family) logged out by its `jti`.
async fn revoke_half(
    api: &Api,
    secret: &str,
    password: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Ledger> {
    let mut ledger = Ledger::default();
    let minter = Minter::new(secret);
    for i in 0..n.max(4) {
        let user = format!("{prefix}-login-{i}");
        api.register(&user, password).await?;
        let (access, refresh) = api.login_pair(&user, password).await?;
        let revoked = match i % 4 {
            0 => expect_ok(api.logout(&access).await?, "logout")?,
            1 => {
                let (access, refresh) = api.refresh(&refresh).await?;
                expect_ok(api.logout(&access).await?, "logout")?;
                ledger.refused.push(access);
                ledger.refused_refresh.push(refresh);
                true
            }
            2 => expect_ok(api.post_bearer("/auth/logout-all", &access).await?, "logout-all")?,
            _ => false,
        };
        if revoked {
            ledger.refused.push(access);
            ledger.refused_refresh.push(refresh);
        } else {
            ledger.kept.push(access);
            ledger.kept_refresh.push(refresh);
        }
        let foreign = minter.access(&format!("{prefix}-foreign-{i}"), unix_now() + 3600, None)?;
        if i % 2 == 0 {
            expect_ok(api.logout(&foreign).await?, "logout")?;
            ledger.refused.push(foreign);
        } else {
            ledger.kept.push(foreign);
        }
    }
    Ok(ledger)
}

fn expect_ok(status: reqwest::StatusCode, what: &str) -> anyhow::Result<bool> {
    if !status.is_success() {
        bail!("POST /auth/{what} answered {status}");
    }
    Ok(true)
}

/// After the restart: revoked tokens refused (handshake and refresh), the
/// others accepted. Counts `held` / `kept` and any `fail_open` / `lost`.
async fn check(api: &Api, dialer: &Dialer, ledger: &Ledger) -> Errors {
    let mut verdict = Errors::default();
    let src = dialer.target().sources[0];
    for token in &ledger.refused {
        let cred = Cred { token: token.clone(), csrf: None };
        match dialer.open(src, &cred).await {
            Err(Fail::Status(401)) => verdict.add("revocation_held"),
            Ok(ws) => {
                verdict.add("fail_open");
                close_cleanly(ws, Duration::from_secs(5)).await;
            }
            Err(f) => verdict.add(format!("revoked_token_{}", f.kind())),
        }
    }
    for token in &ledger.kept {
        let cred = Cred { token: token.clone(), csrf: None };
        match dialer.open(src, &cred).await {
            Ok(ws) => {
                verdict.add("token_kept");
                close_cleanly(ws, Duration::from_secs(5)).await;
            }
            Err(f) => verdict.add(format!("lost_{}", f.kind())),
        }
    }
    for (tokens, expected, held, broken) in [
        (&ledger.refused_refresh, 401, "refresh_revocation_held", "refresh_fail_open"),
        (&ledger.kept_refresh, 200, "refresh_kept", "refresh_lost"),
    ] {
        for token in tokens {
            match api.post_bearer("/auth/refresh", token).await {
                Ok(s) if s.as_u16() == expected => verdict.add(held),
                _ => verdict.add(broken),
            }
        }
    }
    verdict
}

/// Watches one socket until its close (its code, or `dropped`) or `until`.
async fn watch(mut ws: Ws, until: Instant, timeout: Duration) -> (String, Option<Instant>) {
    let seen = tokio::time::timeout_at(until.into(), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return Some(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    let at = Instant::now();
    match seen {
        Ok(Some(code)) => {
            finish_server_close(ws, timeout).await;
            (code.map_or_else(|| "no_code".to_owned(), |c| c.to_string()), Some(at))
        }
        Ok(None) => ("dropped_without_close_frame".into(), Some(at)),
        Err(_) => ("still_open".into(), None),
    }
}

fn send_signal(pid: u32, signal: Signal) -> anyhow::Result<()> {
    let name = match signal {
        Signal::Term => "-TERM",
        Signal::Kill => "-KILL",
    };
    let status = std::process::Command::new("kill")
        .args([name, &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("kill {name} {pid} failed");
    }
    Ok(())
}

/// When the process disappeared, polled every 10 ms; `None` past `limit`.
async fn process_gone_within(pid: u32, limit: Duration) -> Option<Instant> {
    let until = Instant::now() + limit;
    let path = format!("/proc/{pid}/stat");
    while Instant::now() < until {
        // A zombie (state Z) has exited; only its parent has not reaped it yet.
        match std::fs::read_to_string(&path) {
            Err(_) => return Some(Instant::now()),
            Ok(stat)
                if stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')) =>
            {
                return Some(Instant::now());
            }
            Ok(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// When the server answered `/healthz` again, polled every 50 ms.
async fn server_back_within(api: &Api, limit: Duration) -> Option<Instant> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if api.healthy().await {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
