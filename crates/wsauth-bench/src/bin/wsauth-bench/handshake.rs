//! Throughput and latency of authenticated handshakes: connect + upgrade +
//! expected first frame, then a clean close, by `--concurrency` workers.
//! The sockets are opened by the lean client in `raw` where the mode allows
//! it, so that the generator is not the bottleneck, or by `dial`'s
//! tokio-tungstenite client (`--client tungstenite`).

use anyhow::bail;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::common::{Common, Cred};
use crate::dial::{Dialer, Fail, close_cleanly};
use crate::raw::{self, RawDialer};
use crate::report;

/// Which client opens the sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Client {
    /// Pre-built upgrade requests and a minimal frame reader (query, header,
    /// subprotocol and cookie modes).
    Raw,
    /// tokio-tungstenite, as every other command uses.
    Tungstenite,
}

impl Client {
    fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Tungstenite => "tungstenite",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct HandshakeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Connections in flight at once.
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Unrecorded warm-up before the measured phase, seconds.
    #[arg(long, default_value_t = 2)]
    pub(crate) warmup: u64,
    /// Client that opens the sockets: `raw` builds each credential's upgrade
    /// request once and reads the reply with a minimal frame parser, so that
    /// the generator spends less CPU per handshake; `tungstenite` is the
    /// tokio-tungstenite client the other commands use, kept for comparison.
    /// Default: `raw` in the query, header, subprotocol and cookie modes,
    /// `tungstenite` in the others (which `raw` does not support).
    #[arg(long, value_enum)]
    pub(crate) client: Option<Client>,
    /// Handshakes started per second (open loop, at most `--concurrency` in
    /// flight); 0 starts the next as soon as a worker is free (closed loop).
    /// At an offered rate that neither side saturates, the servers' core
    /// time per handshake can be compared with the generator below
    /// saturation.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rate: f64,
}

/// When each attempt may start: the `i`-th at `i / rate` seconds after the
/// phase began, or at once without a rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    start: Instant,
    interval: Option<Duration>,
}

impl Pace {
    pub(crate) fn new(rate: f64) -> Self {
        let interval =
            (rate.is_finite() && rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        Self { start: Instant::now(), interval }
    }

    /// Waits for the `i`-th attempt's turn.
    pub(crate) async fn turn(&self, i: u64) {
        if let Some(interval) = self.interval {
            let due = self.start + interval.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

/// What a set of workers did.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) ok: u64,
    pub(crate) errors: Errors,
    pub(crate) latency: Histogram<u64>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self { ok: 0, errors: Errors::default(), latency: stats::new_histogram() }
    }

    /// Adds up the tallies of finished workers.
    pub(crate) async fn gather(mut tasks: tokio::task::JoinSet<Self>) -> Self {
        let mut total = Self::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(t) = joined {
                total.ok += t.ok;
                total.errors.merge(&t.errors);
                let _ = total.latency.add(&t.latency);
            } else {
                total.errors.add("worker_panicked");
            }
        }
        total
    }
}

/// The workers' way of opening sockets, chosen by `--client`.
enum Opener {
    Raw(Arc<RawDialer>),
    Tungstenite(Dialer, Arc<Vec<Cred>>),
}

impl Opener {
    async fn churn(
        &self,
        concurrency: usize,
        count: u64,
        deadline: Instant,
        close_timeout: Duration,
        rate: f64,
    ) -> Tally {
        let turns = Turns::new(count, deadline, Pace::new(rate));
        match self {
            Self::Raw(dialer) => raw::churn(dialer, concurrency, turns, close_timeout).await,
            Self::Tungstenite(dialer, creds) => {
                churn(dialer, creds, concurrency, turns, close_timeout).await
            }
        }
    }
}

/// Hands out attempt numbers to workers, each at its turn, until `deadline`
/// or until `count` attempts were made.
#[derive(Debug)]
pub(crate) struct Turns {
    next: AtomicU64,
    count: u64,
    deadline: Instant,
    pace: Pace,
}

impl Turns {
    pub(crate) fn new(count: u64, deadline: Instant, pace: Pace) -> Arc<Self> {
        Arc::new(Self { next: AtomicU64::new(0), count, deadline, pace })
    }

    /// The next attempt's number once its turn came, or `None` when done.
    pub(crate) async fn next(&self) -> Option<usize> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.count {
            return None;
        }
        self.pace.turn(i).await;
        Some(usize::try_from(i).unwrap_or(0))
    }
}

impl Tally {
    /// A socket opened `started` ago.
    pub(crate) fn opened(&mut self, started: Instant) {
        stats::record(&mut self.latency, micros(started.elapsed()));
        self.ok += 1;
    }

    /// A failed attempt; waits a moment, so that a refused or broken server
    /// does not turn the worker into a busy loop.
    pub(crate) async fn failed(&mut self, fail: &Fail) {
        self.errors.add(fail.kind());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs `concurrency` workers that open and close sockets while `turns`
/// hands out attempts.
pub(crate) async fn churn(
    dialer: &Dialer,
    creds: &Arc<Vec<Cred>>,
    concurrency: usize,
    turns: Arc<Turns>,
    close_timeout: Duration,
) -> Tally {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let dialer = dialer.clone();
        let creds = Arc::clone(creds);
        let turns = Arc::clone(&turns);
        tasks.spawn(async move {
            let mut tally = Tally::new();
            let sources = &dialer.target().sources;
            while let Some(idx) = turns.next().await {
                let started = Instant::now();
                match dialer.open(sources[idx % sources.len()], &creds[idx % creds.len()]).await {
                    Ok(ws) => {
                        tally.opened(started);
                        close_cleanly(ws, close_timeout).await;
                    }
                    Err(fail) => tally.failed(&fail).await,
                }
            }
            tally
        });
    }
    Tally::gather(tasks).await
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub(crate) async fn run(
    args: HandshakeArgs,
    dialer: Dialer,
    creds: Vec<Cred>,
) -> anyhow::Result<()> {
    let c = &args.common;
    let client = match args.client {
        Some(Client::Raw) if !raw::supports(c.mode) => {
            bail!("--client raw does not support --mode {}", c.mode.as_str())
        }
        Some(client) => client,
        None if raw::supports(c.mode) => Client::Raw,
        None => Client::Tungstenite,
    };
    // Requests are built here, before anything is measured.
    let opener = match client {
        Client::Raw => Opener::Raw(Arc::new(RawDialer::new(
            dialer.target(),
            c.mode,
            c.expect(),
            c.timeout(),
            &creds,
        )?)),
        Client::Tungstenite => Opener::Tungstenite(dialer.clone(), Arc::new(creds)),
    };
    let close_timeout = c.timeout();
    if args.warmup > 0 {
        let until = Instant::now() + Duration::from_secs(args.warmup);
        let warm = opener.churn(args.concurrency, u64::MAX, until, close_timeout, args.rate).await;
        eprintln!("warm-up: {} ok, errors: {}", warm.ok, warm.errors.human());
    }
    let cpu = CpuMeter::start(c.server_pid);
    let start = Instant::now();
    let tally =
        opener.churn(args.concurrency, c.count, c.deadline(), close_timeout, args.rate).await;
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = cpu.finish();
    let rate = tally.ok as f64 / elapsed;
    report::emit(
        c,
        dialer.target(),
        "handshake",
        json!({
            "concurrency": args.concurrency,
            "offered_rate_per_s": args.rate,
            "client": client.as_str(),
            "duration_s": (elapsed * 1000.0).round() / 1000.0,
            "attempts": tally.ok + tally.errors.total(),
            "ok": tally.ok,
            "errors": tally.errors.to_json(),
            "rate_per_s": rate.round(),
            "latency_us": stats::summary_us(&tally.latency),
        }),
        Some(cpu),
        format!(
            "{:.0} handshakes/s ({} ok in {:.2} s, concurrency {}, {} client); errors: {}; latency {}",
            rate,
            tally.ok,
            elapsed,
            args.concurrency,
            client.as_str(),
            tally.errors.human(),
            stats::human_ms(&tally.latency)
        ),
    );
    Ok(())
}
