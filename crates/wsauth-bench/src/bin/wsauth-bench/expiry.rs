//! Live expiry: open sockets whose locally minted tokens expire at known
//! times and measure how late after `exp` each close frame (expected code
//! 4001) arrives.

use anyhow::Context;
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::jwt::{Minter, unix_now};
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::common::{Common, Cred, Mode};
use crate::dial::{Dialer, close_cleanly, finish_server_close};
use crate::hold::check_fd_budget;
use crate::report;

/// The close code the server uses for expired tokens.
const EXPIRED: u16 = 4001;

#[derive(Debug, Clone, Args)]
pub(crate) struct ExpiryArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Sockets to open.
    #[arg(long, default_value_t = 200)]
    pub(crate) connections: u64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// The earliest expiry, seconds after the tokens are minted.
    #[arg(long, default_value_t = 3)]
    pub(crate) ttl_min: i64,
    /// Expiries are spread over this many further seconds.
    #[arg(long, default_value_t = 4)]
    pub(crate) ttl_spread: i64,
    /// How long after the last expiry to keep waiting for close frames, seconds.
    #[arg(long, default_value_t = 15)]
    pub(crate) grace_secs: u64,
}

enum Seen {
    /// Close frame with this code, at this many microseconds after `exp`
    /// (negative: before it).
    Closed(Option<u16>, i64),
    Dropped,
    StillOpen,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) async fn run(args: ExpiryArgs, dialer: Dialer) -> anyhow::Result<()> {
    let c = &args.common;
    let secret = c
        .hmac_secret
        .as_deref()
        .context("expiry mints its own short-lived tokens: give --hmac-secret")?;
    anyhow::ensure!(args.ttl_min >= 1, "--ttl-min must be at least 1 second");
    anyhow::ensure!(
        c.mode != Mode::Ticket,
        "expiry needs the token itself on the socket: not --mode ticket"
    );
    check_fd_budget(args.connections)?;
    let timeout = c.timeout();
    let minter = Minter::new(secret);
    let prefix = c.user_prefix();
    let n = args.connections.min(c.count);
    let base = unix_now();
    let spread = args.ttl_spread.max(0) + 1;
    let mut creds = Vec::new();
    for i in 0..n {
        let exp = base + args.ttl_min + i64::try_from(i).unwrap_or(0) % spread;
        let sub = format!("{prefix}-{}", i % c.users.max(1) as u64);
        let csrf = (c.mode == Mode::Cookie).then(|| uuid::Uuid::new_v4().to_string());
        let token = minter.access(&sub, exp, csrf.clone())?;
        creds.push((Cred { token, csrf }, exp));
    }
    let last_exp = base + args.ttl_min + spread - 1;
    let wait_secs = (last_exp - unix_now()).max(0).unsigned_abs() + args.grace_secs;
    let watch_until = Instant::now() + Duration::from_secs(wait_secs);
    let creds = Arc::new(creds);
    let cpu = CpuMeter::start(c.server_pid);
    let next = Arc::new(AtomicU64::new(0));
    let mut openers = JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let dialer = dialer.clone();
        let creds = Arc::clone(&creds);
        let next = Arc::clone(&next);
        openers.spawn(async move {
            let mut watchers = Vec::new();
            let mut errors = Errors::default();
            let sources = dialer.target().sources.clone();
            while Instant::now() < watch_until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((cred, exp)) = usize::try_from(i).ok().and_then(|i| creds.get(i)) else {
                    break;
                };
                let idx = usize::try_from(i).unwrap_or(0);
                match dialer.open(sources[idx % sources.len()], cred).await {
                    Ok(ws) => watchers.push(tokio::spawn(watch(ws, *exp, watch_until, timeout))),
                    Err(f) => errors.add(f.kind()),
                }
            }
            (watchers, errors)
        });
    }
    let mut watchers = Vec::new();
    let mut errors = Errors::default();
    while let Some(joined) = openers.join_next().await {
        if let Ok((w, e)) = joined {
            watchers.extend(w);
            errors.merge(&e);
        }
    }
    let opened = watchers.len();
    let mut late = stats::new_histogram();
    // Claims are whole seconds and a token is valid while now <= exp, so the
    // earliest correct close is one second after `exp`.
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut early, mut dropped, mut still_open) = (0u64, 0u64, 0u64);
    let mut earliest_us = i64::MAX;
    for w in watchers {
        match w.await {
            Ok(Seen::Closed(code, late_us)) => {
                let key = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
                *codes.entry(key).or_default() += 1;
                if code == Some(EXPIRED) {
                    earliest_us = earliest_us.min(late_us);
                    if late_us < 0 {
                        early += 1;
                    } else {
                        stats::record(&mut late, late_us.unsigned_abs());
                    }
                }
            }
            Ok(Seen::Dropped) => dropped += 1,
            Ok(Seen::StillOpen) => still_open += 1,
            Err(_) => errors.add("watcher_panicked"),
        }
    }
    let cpu = cpu.finish();
    report::emit(
        c,
        dialer.target(),
        "expiry",
        json!({
            "connections_requested": args.connections,
            "opened": opened,
            "errors": errors.to_json(),
            "close_codes": codes,
            "closed_4001": late.len() + early,
            "closed_before_exp": early,
            "dropped_without_close_frame": dropped,
            "still_open_after_grace": still_open,
            "late_after_exp_us": stats::summary_us(&late),
            "earliest_after_exp_us": if earliest_us == i64::MAX { None } else { Some(earliest_us) },
            "ttl_min_s": args.ttl_min,
            "ttl_spread_s": args.ttl_spread,
        }),
        Some(cpu),
        format!(
            "{}/{opened} sockets closed with 4001; lateness after exp (the first \
             instant the token is invalid): {}; {early} before exp, {dropped} dropped \
             without a close frame, {still_open} still open; errors: {}",
            late.len() + early,
            stats::human_ms(&late),
            errors.human()
        ),
    );
    Ok(())
}

async fn watch(mut ws: crate::dial::Ws, exp: i64, until: Instant, timeout: Duration) -> Seen {
    let waited = tokio::time::timeout_at(until.into(), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    let at = now_micros();
                    return Some((frame.map(|f| u16::from(f.code)), at - exp * 1_000_000));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    match waited {
        Ok(Some((code, late))) => {
            finish_server_close(ws, timeout).await;
            Seen::Closed(code, late)
        }
        Ok(None) => Seen::Dropped,
        Err(_) => {
            close_cleanly(ws, timeout).await;
            Seen::StillOpen
        }
    }
}
