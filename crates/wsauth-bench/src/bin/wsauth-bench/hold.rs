//! Memory per held connection: open N authenticated sockets, keep them, and
//! read the server's RSS before and after; also how many survive the hold.

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::procfs::{self, CpuMeter};
use wsauth_bench::stats::{self, Errors};

use crate::common::{Common, Cred, Expect};
use crate::dial::{Dialer, Ws, close_cleanly, finish_server_close};
use crate::handshake::{Pace, Turns, churn, micros};
use crate::report;
use crate::subscribe::Subscription;

#[derive(Debug, Clone, Args)]
pub(crate) struct HoldArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub(crate) connections: u64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// How long to hold the sockets after the RSS reading, seconds.
    #[arg(long, default_value_t = 5)]
    pub(crate) hold_secs: u64,
    /// Pause before each RSS reading, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) settle_ms: u64,
    /// Connections opened and closed before the first RSS reading, so that
    /// one-time allocations are not charged to the held sockets.
    #[arg(long, default_value_t = 200)]
    pub(crate) warmup_conns: u64,
    /// After the welcome, each socket (the warm-up's too) subscribes to a
    /// channel and counts as held once `subscribed` arrives:
    /// `shared:<channel>` (every socket the same one) or `personal` (each
    /// its own `user:<channel_sub>:inbox`); or `joined`: it unsubscribes
    /// from `room:1`, which it does not hold, and counts once `unsubscribed`
    /// arrives (joined to the server's channels, no subscription).
    /// Default: none of these.
    #[arg(long, value_name = "shared:CHANNEL|personal|joined")]
    pub(crate) subscribe: Option<Subscription>,
}

/// Sockets held open until told to stop; counts those the server closed.
pub(crate) struct Holders {
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
    dropped: Arc<AtomicUsize>,
}

impl Holders {
    pub(crate) fn new() -> Self {
        let (stop, _) = watch::channel(false);
        Self { tasks: JoinSet::new(), stop, dropped: Arc::new(AtomicUsize::new(0)) }
    }

    /// Keeps `ws` open, reading and discarding frames, until [`Holders::close_all`].
    pub(crate) fn hold(&mut self, ws: Ws, close_timeout: Duration) {
        let mut stop = self.stop.subscribe();
        let dropped = Arc::clone(&self.dropped);
        self.tasks.spawn(async move {
            let mut ws = ws;
            loop {
                tokio::select! {
                    _ = stop.changed() => {
                        close_cleanly(ws, close_timeout).await;
                        return;
                    }
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Close(_))) => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            finish_server_close(ws, close_timeout).await;
                            return;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    },
                }
            }
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    pub(crate) fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Closes every held socket cleanly and waits (bounded) for all of them.
    pub(crate) async fn close_all(mut self, limit: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Opens up to `n` sockets with `concurrency` openers and hands each to `holders`.
/// Returns (opened, errors, latency histogram).
pub(crate) async fn open_many(
    dialer: &Dialer,
    creds: &Arc<Vec<Cred>>,
    n: u64,
    concurrency: usize,
    deadline: Instant,
    holders: &mut Holders,
    close_timeout: Duration,
) -> (u64, Errors, hdrhistogram::Histogram<u64>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Ws>(1024);
    let opening = open_many_into(dialer, creds, n, concurrency, deadline, tx);
    let holding = async {
        while let Some(ws) = rx.recv().await {
            holders.hold(ws, close_timeout);
        }
    };
    let (opened, ()) = tokio::join!(opening, holding);
    opened
}

/// Opens up to `n` sockets with `concurrency` openers and sends each to `to`.
/// Returns (opened, errors, latency histogram).
pub(crate) async fn open_many_into(
    dialer: &Dialer,
    creds: &Arc<Vec<Cred>>,
    n: u64,
    concurrency: usize,
    deadline: Instant,
    to: tokio::sync::mpsc::Sender<Ws>,
) -> (u64, Errors, hdrhistogram::Histogram<u64>) {
    let next = Arc::new(AtomicU64::new(0));
    let mut openers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let dialer = dialer.clone();
        let creds = Arc::clone(creds);
        let next = Arc::clone(&next);
        let tx = to.clone();
        openers.spawn(async move {
            let mut opened = 0u64;
            let mut errors = Errors::default();
            let mut latency = stats::new_histogram();
            let sources = &dialer.target().sources;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let idx = usize::try_from(i).unwrap_or(0);
                let t0 = Instant::now();
                match dialer.open(sources[idx % sources.len()], &creds[idx % creds.len()]).await {
                    Ok(ws) => {
                        stats::record(&mut latency, micros(t0.elapsed()));
                        if tx.send(ws).await.is_err() {
                            break;
                        }
                        opened += 1;
                    }
                    Err(fail) => {
                        errors.add(fail.kind());
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (opened, errors, latency)
        });
    }
    drop(to);
    let mut opened = 0u64;
    let mut errors = Errors::default();
    let mut latency = stats::new_histogram();
    while let Some(joined) = openers.join_next().await {
        if let Ok((o, e, l)) = joined {
            opened += o;
            errors.merge(&e);
            let _ = latency.add(&l);
        }
    }
    (opened, errors, latency)
}

/// Fails early when the file limit cannot hold `n` sockets.
pub(crate) fn check_fd_budget(n: u64) -> anyhow::Result<()> {
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).context("getrlimit failed")?;
    if n.saturating_add(128) > soft {
        bail!("{n} sockets do not fit in the open-file limit of {soft} (128 are kept spare)");
    }
    Ok(())
}

pub(crate) async fn run(args: HoldArgs, dialer: Dialer, creds: Vec<Cred>) -> anyhow::Result<()> {
    let c = &args.common;
    let pid = c.server_pid.context("hold needs --server-pid to read the server's RSS")?;
    check_fd_budget(args.connections)?;
    let dialer = match args.subscribe.clone() {
        Some(_) if !matches!(c.expect(), Expect::Welcome) => {
            bail!("--subscribe needs the JSON welcome frame (no --expect-text or --expect-any)")
        }
        Some(subscription) => dialer.subscribing(subscription),
        None => dialer,
    };
    let creds = Arc::new(creds);
    let close_timeout = c.timeout();
    let settle = Duration::from_millis(args.settle_ms);
    let deadline = c.deadline();
    if args.warmup_conns > 0 {
        let turns = Turns::new(args.warmup_conns, deadline, Pace::new(0.0));
        let warm = churn(&dialer, &creds, args.concurrency, turns, close_timeout).await;
        eprintln!("warm-up: {} ok, errors: {}", warm.ok, warm.errors.human());
    }
    tokio::time::sleep(settle).await;
    let rss_before = procfs::rss_kib(pid)?;
    let cpu = CpuMeter::start(Some(pid));
    let start = Instant::now();
    let mut holders = Holders::new();
    let (opened, errors, latency) = open_many(
        &dialer,
        &creds,
        args.connections.min(c.count),
        args.concurrency,
        deadline,
        &mut holders,
        close_timeout,
    )
    .await;
    let open_secs = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = cpu.finish();
    tokio::time::sleep(settle).await;
    let rss_after = procfs::rss_kib(pid)?;
    let alive_at_reading = opened.saturating_sub(holders.dropped() as u64);
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    let alive_after_hold = opened.saturating_sub(holders.dropped() as u64);
    let held = holders.len();
    holders.close_all(close_timeout + Duration::from_secs(30)).await;
    let per_conn =
        if opened > 0 { (rss_after as f64 - rss_before as f64) / opened as f64 } else { 0.0 };
    // The RSS difference is a per-connection figure only if every socket was
    // still open when it was read.
    let held_at_reading = opened > 0 && alive_at_reading == opened;
    let verdict = if alive_after_hold < opened {
        format!(
            "; the server closed {} of them (so the RSS figure is not per held connection)",
            opened - alive_after_hold
        )
    } else {
        String::new()
    };
    report::emit(
        c,
        dialer.target(),
        "hold",
        json!({
            "connections_requested": args.connections,
            "subscribe": args.subscribe.as_ref().map(Subscription::describe),
            "opened": opened,
            "errors": errors.to_json(),
            "open_rate_per_s": (opened as f64 / open_secs).round(),
            "open_latency_us": stats::summary_us(&latency),
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "kib_per_conn": (per_conn * 100.0).round() / 100.0,
            "all_held_at_reading": held_at_reading,
            "alive_at_reading": alive_at_reading,
            "alive_after_hold": alive_after_hold,
            "hold_secs": args.hold_secs,
            "tasks_at_close": held,
        }),
        Some(cpu),
        format!(
            "{opened} held: RSS {rss_before} -> {rss_after} KiB = {per_conn:.2} KiB per connection; \
             {alive_after_hold} still open after {} s{verdict}; errors: {}",
            args.hold_secs,
            errors.human()
        ),
    );
    Ok(())
}
