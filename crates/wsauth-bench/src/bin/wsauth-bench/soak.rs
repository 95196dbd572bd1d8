//! Soak: N sockets whose tokens expire 60-120 s after minting, each
//! refreshed in-band with a freshly minted token a few seconds before its
//! expiry; in each token's life a share logs out instead (close 4003
//! expected, then a new socket) and a share lets the token run out (close
//! 4001 expected by `exp` + a tolerance, then a new socket). Every few
//! seconds the server's RSS and its `wsauth_live_sockets` are sampled and
//! set against the generator's own count of open sockets.

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::jwt::{Minter, unix_now, unix_now_millis};
use wsauth_bench::procfs;
use wsauth_bench::stats::{self, Errors};

use crate::api::Api;
use crate::common::{Common, Cred};
use crate::dial::{Dialer, Ws, close_cleanly, finish_server_close};
use crate::hold::check_fd_budget;
use crate::report;

#[derive(Debug, Clone, Args)]
pub(crate) struct SoakArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Sockets kept open.
    #[arg(long, default_value_t = 15_000)]
    pub(crate) connections: u64,
    /// Shortest and longest token lifetime, seconds.
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], default_values_t = [60, 120])]
    pub(crate) ttl: Vec<i64>,
    /// Percent of token lives that end in a logout (then a new socket).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) logout_pct: f64,
    /// Percent of token lives left to expire (close 4001, then a new socket).
    #[arg(long, default_value_t = 2.0)]
    pub(crate) expire_pct: f64,
    /// How late after `exp` a 4001 may come, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) tolerance_ms: i64,
    /// Seconds between two samples of RSS and the live count.
    #[arg(long, default_value_t = 5)]
    pub(crate) sample_secs: u64,
    /// Sockets being opened at once at the start.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
}

/// Counts the socket tasks keep.
#[derive(Default)]
struct Counters {
    /// Welcomed and not yet closed by either side.
    open: AtomicI64,
    /// Dialing, or closing (the server may still count them).
    transit: AtomicI64,
    /// Socket slots whose first socket was welcomed.
    started: AtomicI64,
}

/// What a socket task saw, merged at the end.
struct Seen {
    outcomes: Errors,
    /// Microseconds after `exp` of each expected 4001.
    late: hdrhistogram::Histogram<u64>,
}

/// Per-task pseudo-random numbers (xorshift64*), seeded from a UUID.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        Self((uuid::Uuid::new_v4().as_u128() as u64) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(0) + 1;
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    fn percent(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 10_000.0
    }
}

/// How one token's life is meant to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Refresh in-band this long before `exp`.
    Refresh,
    /// Log out at a random moment, expect 4003.
    Logout,
    /// Do nothing, expect 4001 by `exp` + tolerance.
    Expire,
}

struct Shared {
    dialer: Dialer,
    api: Api,
    minter: Minter,
    counters: Counters,
    args: SoakArgs,
    prefix: String,
    until: Instant,
}

pub(crate) async fn run(args: SoakArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = args.common.clone();
    let pid = c.server_pid.context("soak needs --server-pid to read the server's RSS")?;
    let secret = c.hmac_secret.as_deref().context("soak mints its tokens: give --hmac-secret")?;
    anyhow::ensure!(
        args.ttl.len() == 2 && args.ttl[0] >= 20 && args.ttl[0] <= args.ttl[1],
        "--ttl MIN MAX, MIN at least 20 s"
    );
    check_fd_budget(args.connections.saturating_add(64))?;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        dialer: dialer.clone(),
        api: api.clone(),
        minter: Minter::new(secret),
        counters: Counters::default(),
        prefix: c.user_prefix(),
        until: started + Duration::from_secs(c.duration),
        args: args.clone(),
    });
    // Started in waves of `concurrency`, so the opening is paced by the server.
    let opening = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(socket_task(Arc::clone(&shared), i, Arc::clone(&opening))))
        .collect();
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(args.sample_secs.max(1)));
    let mut all_open_at = None;
    loop {
        ticker.tick().await;
        if Instant::now() >= shared.until {
            // The sockets are closing: the counts no longer describe a steady state.
            break;
        }
        let sample = take_sample(&shared, pid, started).await;
        let first_opened = shared.counters.started.load(Ordering::Acquire);
        if all_open_at.is_none() && i64::try_from(args.connections).ok() == Some(first_opened) {
            all_open_at = sample["t_s"].as_f64();
        }
        samples.push(sample);
    }
    let mut outcomes = Errors::default();
    let mut late = stats::new_histogram();
    for task in tasks {
        match task.await {
            Ok(seen) => {
                outcomes.merge(&seen.outcomes);
                let _ = late.add(&seen.late);
            }
            Err(_) => outcomes.add("task_panicked"),
        }
    }
    let memory = memory_verdict(&samples, all_open_at.unwrap_or(0.0));
    let agree = samples.iter().filter(|s| s["agrees"] == true).count();
    let max_off = samples.iter().filter_map(|s| s["off_by"].as_i64()).max().unwrap_or(0);
    let outlived =
        outcomes_matching(&outcomes, &["expire_outlived", "expire_early", "expire_closed_"]);
    report::emit(
        &c,
        dialer.target(),
        "soak",
        json!({
            "connections": args.connections,
            "duration_s": c.duration,
            "ttl_s": args.ttl,
            "logout_pct": args.logout_pct,
            "expire_pct": args.expire_pct,
            "all_open_after_s": all_open_at,
            "outcomes": outcomes.to_json(),
            "expired_late_us": stats::summary_us(&late),
            "deadline_violations": outlived,
            "unexpected_closes": outcomes_matching(&outcomes, &["unexpected_close"]),
            "samples": samples.len(),
            "samples_agreeing": agree,
            "max_off_by": max_off,
            "memory": memory,
            "series": samples,
        }),
        None,
        format!(
            "{} sockets for {} s: {}; 4001 after exp: {}; deadline violations {outlived}; \
             live count agreed in {agree}/{} samples (max off by {max_off}); memory {}",
            args.connections,
            c.duration,
            outcomes.human(),
            stats::human_ms(&late),
            samples.len(),
            memory
        ),
    );
    Ok(())
}

fn outcomes_matching(outcomes: &Errors, prefixes: &[&str]) -> u64 {
    let json = outcomes.to_json();
    json.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// RSS and the live count now, with the generator's bounds around the scrape.
async fn take_sample(shared: &Shared, pid: u32, started: Instant) -> Value {
    let load = |c: &Counters| (c.open.load(Ordering::Acquire), c.transit.load(Ordering::Acquire));
    let before = load(&shared.counters);
    let live = shared.api.metric("wsauth_live_sockets").await.ok().map(|v| v as i64);
    let after = load(&shared.counters);
    let low = before.0.min(after.0);
    let high = (before.0 + before.1).max(after.0 + after.1);
    let off_by = live.map(|l| if l < low { low - l } else { (l - high).max(0) });
    json!({
        "t_s": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "rss_kib": procfs::rss_kib(pid).ok(),
        "live": live,
        "open": after.0,
        "in_transit": after.1,
        "agrees": off_by == Some(0),
        "off_by": off_by,
    })
}

/// The starting plateau (median RSS 60-120 s after every socket was open)
/// against the end (median RSS of the last 60 s).
fn memory_verdict(samples: &[Value], all_open_at: f64) -> Value {
    let rss_between = |from: f64, to: f64| {
        let mut v: Vec<u64> = samples
            .iter()
            .filter(|s| s["t_s"].as_f64().is_some_and(|t| t >= from && t < to))
            .filter_map(|s| s["rss_kib"].as_u64())
            .collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    let end = samples.last().and_then(|s| s["t_s"].as_f64()).unwrap_or(0.0);
    let plateau = rss_between(all_open_at + 60.0, all_open_at + 120.0);
    let last = rss_between(end - 60.0, end + 1.0);
    let peak = samples.iter().filter_map(|s| s["rss_kib"].as_u64()).max();
    let ratio = match (plateau, last) {
        (Some(p), Some(l)) if p > 0 => Some((l as f64 / p as f64 * 1000.0).round() / 1000.0),
        _ => None,
    };
    json!({
        "plateau_kib": plateau,
        "end_kib": last,
        "peak_kib": peak,
        "end_over_plateau": ratio,
        "within_10pct": ratio.map(|r| r <= 1.10),
    })
}

/// One socket slot for the whole soak: open, live out token after token,
/// open again after a logout or an expiry.
async fn socket_task(shared: Arc<Shared>, i: u64, opening: Arc<tokio::sync::Semaphore>) -> Seen {
    let mut seen = Seen { outcomes: Errors::default(), late: stats::new_histogram() };
    let mut rng = Rng::new();
    let users = shared.args.common.users.max(1) as u64;
    let sub = format!("{}-{}", shared.prefix, i % users);
    let sources = &shared.dialer.target().sources;
    let src = sources[usize::try_from(i).unwrap_or(0) % sources.len()];
    let mut first = Some(opening);
    while Instant::now() < shared.until {
        let exp = unix_now() + rng.between(shared.args.ttl[0], shared.args.ttl[1]);
        let token = match shared.minter.access(&sub, exp, None) {
            Ok(t) => t,
            Err(_) => {
                seen.outcomes.add("mint_failed");
                return seen;
            }
        };
        let counters = &shared.counters;
        let first_open = first.take();
        let permit = match &first_open {
            Some(sem) => Arc::clone(sem).acquire_owned().await.ok(),
            None => None,
        };
        counters.transit.fetch_add(1, Ordering::AcqRel);
        let opened = shared.dialer.open(src, &Cred { token: token.clone(), csrf: None }).await;
        drop(permit);
        let ws = match opened {
            Ok(ws) => {
                counters.open.fetch_add(1, Ordering::AcqRel);
                counters.transit.fetch_sub(1, Ordering::AcqRel);
                if first_open.is_some() {
                    counters.started.fetch_add(1, Ordering::AcqRel);
                }
                ws
            }
            Err(f) => {
                counters.transit.fetch_sub(1, Ordering::AcqRel);
                first = first_open;
                seen.outcomes.add(format!("open_{}", f.kind()));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        seen.outcomes.add("opened");
        live(&shared, &sub, ws, token, exp, &mut rng, &mut seen).await;
    }
    seen
}

/// Lives on one socket until it ends; every end is counted by kind.
async fn live(
    shared: &Shared,
    sub: &str,
    mut ws: Ws,
    mut token: String,
    mut exp: i64,
    rng: &mut Rng,
    seen: &mut Seen,
) {
    let args = &shared.args;
    let counters = &shared.counters;
    loop {
        let roll = rng.percent();
        let plan = if roll < args.expire_pct {
            Plan::Expire
        } else if roll < args.expire_pct + args.logout_pct {
            Plan::Logout
        } else {
            Plan::Refresh
        };
        let now_ms = unix_now_millis();
        let act_at_ms = match plan {
            Plan::Refresh => exp * 1000 - rng.between(5_000, 15_000),
            Plan::Logout => now_ms + rng.between(1_000, (exp * 1000 - now_ms - 5_000).max(1_000)),
            Plan::Expire => exp * 1000 + args.tolerance_ms,
        };
        let act_in = Duration::from_millis(u64::try_from((act_at_ms - now_ms).max(0)).unwrap_or(0));
        let act_at = tokio::time::Instant::now() + act_in;
        let mut acted = false;
        let ended = loop {
            let stop = tokio::time::Instant::from_std(shared.until);
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        match v["type"].as_str() {
                            Some("refreshed") => {
                                seen.outcomes.add("refreshed");
                                break None;
                            }
                            Some(kind) => seen.outcomes.add(format!("frame_{kind}")),
                            None => seen.outcomes.add("frame_unreadable"),
                        }
                    }
                    Some(Ok(Message::Close(frame))) => break Some(frame.map(|f| u16::from(f.code))),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Some(None),
                },
                () = tokio::time::sleep_until(act_at), if !acted => {
                    acted = true;
                    match plan {
                        Plan::Refresh => {
                            let next = unix_now() + rng.between(args.ttl[0], args.ttl[1]);
                            let Ok(fresh) = shared.minter.access(sub, next, None) else { continue };
                            let frame = json!({"type": "refresh", "token": fresh}).to_string();
                            if ws.send(Message::text(frame)).await.is_err() {
                                break Some(None);
                            }
                            (token, exp) = (fresh, next);
                        }
                        Plan::Logout => {
                            if !shared.api.logout(&token).await.is_ok_and(|s| s.is_success()) {
                                seen.outcomes.add("logout_failed");
                            }
                        }
                        Plan::Expire => {
                            // Still open past exp + tolerance: the deadline was not kept.
                            seen.outcomes.add("expire_outlived_deadline");
                            counters.open.fetch_sub(1, Ordering::AcqRel);
                            close_cleanly(ws, Duration::from_secs(5)).await;
                            return;
                        }
                    }
                }
                () = tokio::time::sleep_until(stop) => {
                    counters.open.fetch_sub(1, Ordering::AcqRel);
                    close_cleanly(ws, Duration::from_secs(10)).await;
                    return;
                }
            }
        };
        let Some(code) = ended else { continue };
        // The server ended the socket: it may count it until our close reply.
        counters.transit.fetch_add(1, Ordering::AcqRel);
        counters.open.fetch_sub(1, Ordering::AcqRel);
        let after_exp_us = unix_now_micros() - exp * 1_000_000;
        let outcome = match (plan, code) {
            (Plan::Expire, Some(4001)) if after_exp_us < 0 => "expire_early".to_owned(),
            (Plan::Expire, Some(4001)) => {
                stats::record(&mut seen.late, after_exp_us.unsigned_abs());
                "expired_4001".to_owned()
            }
            (Plan::Logout, Some(4003)) => "logged_out_4003".to_owned(),
            (Plan::Expire, other) => format!("expire_closed_{other:?}"),
            (_, other) => format!("unexpected_close_{other:?}"),
        };
        seen.outcomes.add(outcome);
        finish_server_close(ws, Duration::from_secs(5)).await;
        counters.transit.fetch_sub(1, Ordering::AcqRel);
        return;
    }
}

fn unix_now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
