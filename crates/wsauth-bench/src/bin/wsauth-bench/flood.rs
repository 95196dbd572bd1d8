//! Floods: one source address (127.0.0.2) attacks as fast as it can, on a
//! thread and runtime of its own, while valid clients from other addresses
//! (127.0.0.3 ...) keep connecting at a steady rate. The valid clients are
//! measured first without the flood, then with it, in the same run: success
//! ratio and latency (connect + upgrade + welcome). Three attacks:
//! handshakes with a bad token, unfinished request heads (slowloris), and
//! first-message sockets that never send their frame.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::common::{Common, Cred, Mode};
use crate::dial::{Dialer, close_cleanly, connect_from};
use crate::handshake::{Tally, micros};
use crate::report;

/// What the flooding address sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Attack {
    /// WebSocket handshakes with a token whose signature is wrong.
    BadToken,
    /// Connections that send part of a request head and wait.
    Slowloris,
    /// First-message sockets (point `--url` at `/ws/deferred`) that never
    /// send their auth frame.
    Deferred,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FloodArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The attack.
    #[arg(long, value_enum)]
    pub(crate) attack: Attack,
    /// The flooding source address.
    #[arg(long, default_value = "127.0.0.2")]
    pub(crate) flood_source: Ipv4Addr,
    /// The first valid client address; `--sources` consecutive ones are used.
    #[arg(long, default_value = "127.0.0.3")]
    pub(crate) valid_source: Ipv4Addr,
    /// Valid handshakes started per second, all addresses together.
    #[arg(long, default_value_t = 200)]
    pub(crate) valid_rate: u64,
    /// Flood connections in flight at once.
    #[arg(long, default_value_t = 256)]
    pub(crate) flood_concurrency: usize,
    /// Pins the flood's thread to this CPU, so that it has a core of its own
    /// and the valid clients (placed with `--worker-cpu`) do not wait
    /// behind it; the process's affinity must allow both.
    #[arg(long)]
    pub(crate) flood_cpu: Option<usize>,
    /// Seconds the flood runs before the loaded measurement starts.
    #[arg(long, default_value_t = 3)]
    pub(crate) flood_warmup: u64,
}

/// What one flood worker needs.
#[derive(Debug)]
struct FloodPlan {
    attack: Attack,
    source: IpAddr,
    addr: SocketAddr,
    /// The WebSocket URL the flood dials (bad token in its query, or `/ws/deferred`).
    url: String,
    /// The unfinished head a slowloris connection sends.
    partial_head: String,
    timeout: Duration,
}

pub(crate) async fn run(args: FloodArgs, dialer: Dialer, creds: Vec<Cred>) -> anyhow::Result<()> {
    let c = &args.common;
    let target = dialer.target().clone();
    if !target.addr.is_ipv4() {
        bail!("flood plays several client addresses: target 127.0.0.1, not ::1");
    }
    if (args.attack == Attack::Deferred) != (c.mode == Mode::FirstMessage) {
        bail!("--attack deferred goes with --mode first-message and a /ws/deferred --url");
    }
    let valid = valid_sources(args.valid_source, c.sources)?;
    if valid.contains(&IpAddr::V4(args.flood_source)) {
        bail!("the flood source {} is among the valid clients' addresses", args.flood_source);
    }
    let creds = Arc::new(creds);
    let phase = Duration::from_secs(c.duration.max(1));
    let timeout = c.timeout();
    // Warm-up, then the unloaded measurement.
    valid_phase(&dialer, &creds, &valid, args.valid_rate, Duration::from_secs(1), timeout).await;
    let unloaded = valid_phase(&dialer, &creds, &valid, args.valid_rate, phase, timeout).await;
    eprintln!("unloaded: {} ok, errors: {}", unloaded.ok, unloaded.errors.human());

    let plan = FloodPlan {
        attack: args.attack,
        source: IpAddr::V4(args.flood_source),
        addr: target.addr,
        url: flood_url(args.attack, &target.ws_base),
        partial_head: partial_head(&target.ws_base, target.addr),
        timeout,
    };
    let flood_until = Instant::now() + Duration::from_secs(args.flood_warmup) + phase;
    let flood = spawn_flood(plan, args.flood_concurrency, args.flood_cpu, flood_until)?;
    tokio::time::sleep(Duration::from_secs(args.flood_warmup)).await;
    let cpu = CpuMeter::start(c.server_pid);
    let loaded = valid_phase(&dialer, &creds, &valid, args.valid_rate, phase, timeout).await;
    let cpu = cpu.finish();
    let flood = tokio::task::spawn_blocking(move || flood.join())
        .await
        .context("the flood thread was lost")?
        .map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;

    let ratio = |t: &Tally| {
        let attempts = t.ok + t.errors.total();
        if attempts == 0 { 0.0 } else { 100.0 * t.ok as f64 / attempts as f64 }
    };
    let p99 = |t: &Tally| t.latency.value_at_quantile(0.99);
    let p99_ratio = p99(&loaded) as f64 / p99(&unloaded).max(1) as f64;
    let success = ratio(&loaded);
    let flood_secs = (phase + Duration::from_secs(args.flood_warmup)).as_secs_f64();
    report::emit(
        c,
        dialer.target(),
        "flood",
        json!({
            "attack": args.attack.to_possible_value().map(|v| v.get_name().to_owned()),
            "valid_rate_per_s": args.valid_rate,
            "valid_sources": valid.len(),
            "phase_s": phase.as_secs(),
            "unloaded": phase_json(&unloaded, ratio(&unloaded)),
            "loaded": phase_json(&loaded, success),
            "p99_ratio": (p99_ratio * 100.0).round() / 100.0,
            "met_success_99pct": success >= 99.0,
            "met_p99_within_3x": p99_ratio <= 3.0,
            "flood_source": args.flood_source.to_string(),
            "flood_concurrency": args.flood_concurrency,
            "flood_attempts": flood.total(),
            "flood_rate_per_s": (flood.total() as f64 / flood_secs).round(),
            "flood_outcomes": flood.to_json(),
        }),
        Some(cpu),
        format!(
            "{:?} flood ({:.0} attempts/s: {}): valid clients {:.2}% ok, p99 {:.2} ms vs {:.2} ms \
             unloaded ({:.2}x); latency loaded {}",
            args.attack,
            flood.total() as f64 / flood_secs,
            flood.human(),
            success,
            p99(&loaded) as f64 / 1000.0,
            p99(&unloaded) as f64 / 1000.0,
            p99_ratio,
            stats::human_ms(&loaded.latency),
        ),
    );
    Ok(())
}

fn phase_json(t: &Tally, success_pct: f64) -> serde_json::Value {
    json!({
        "attempts": t.ok + t.errors.total(),
        "ok": t.ok,
        "success_pct": (success_pct * 1000.0).round() / 1000.0,
        "errors": t.errors.to_json(),
        "latency_us": stats::summary_us(&t.latency),
    })
}

fn valid_sources(first: Ipv4Addr, n: usize) -> anyhow::Result<Vec<IpAddr>> {
    let [a, b, c, d] = first.octets();
    if a != 127 {
        bail!("--valid-source must be in 127.0.0.0/8");
    }
    let n = u8::try_from(n.clamp(1, 250)).unwrap_or(250);
    let last = d.checked_add(n - 1).context("--valid-source plus --sources leaves 127.x.y.254")?;
    Ok((d..=last).map(|d| IpAddr::V4(Ipv4Addr::new(a, b, c, d))).collect())
}

fn flood_url(attack: Attack, base: &str) -> String {
    match attack {
        // A well-formed token with a broken signature: parsed, then refused.
        Attack::BadToken => {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!(
                "{base}{sep}token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmbG9vZCJ9.AAAA"
            )
        }
        Attack::Slowloris | Attack::Deferred => base.to_owned(),
    }
}

fn partial_head(base: &str, addr: SocketAddr) -> String {
    let path = base.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]));
    format!("GET {} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n", path.unwrap_or("/"))
}

/// Valid clients at `rate` per second for `secs`, each from the next
/// address in turn; every socket is closed cleanly once welcomed.
async fn valid_phase(
    dialer: &Dialer,
    creds: &Arc<Vec<Cred>>,
    sources: &[IpAddr],
    rate: u64,
    secs: Duration,
    timeout: Duration,
) -> Tally {
    let mut tally = Tally { ok: 0, errors: Errors::default(), latency: stats::new_histogram() };
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut ticks = tokio::time::interval(period);
    let in_flight = Arc::new(Semaphore::new(1024));
    let mut attempts = tokio::task::JoinSet::new();
    let until = Instant::now() + secs;
    let mut i = 0usize;
    while Instant::now() < until {
        ticks.tick().await;
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            tally.errors.add("generator_backlog");
            continue;
        };
        let (dialer, creds) = (dialer.clone(), Arc::clone(creds));
        let src = sources[i % sources.len()];
        i += 1;
        attempts.spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            let opened = dialer.open(src, &creds[i % creds.len()]).await;
            let elapsed = micros(t0.elapsed());
            match opened {
                Ok(ws) => {
                    close_cleanly(ws, timeout).await;
                    Ok(elapsed)
                }
                Err(fail) => Err(fail.kind()),
            }
        });
    }
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok(Ok(us)) => {
                tally.ok += 1;
                stats::record(&mut tally.latency, us);
            }
            Ok(Err(kind)) => tally.errors.add(kind),
            Err(_) => tally.errors.add("task_panicked"),
        }
    }
    tally
}

/// Starts the flood on a thread of its own with its own runtime, so that
/// it never delays the valid clients' tasks; returns its outcomes by kind.
fn spawn_flood(
    plan: FloodPlan,
    concurrency: usize,
    cpu: Option<usize>,
    until: Instant,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<Errors>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the flood's runtime")?;
    let plan = Arc::new(plan);
    let thread = std::thread::Builder::new().name("flood".into()).spawn(move || {
        if let Some(cpu) = cpu {
            crate::pin_current_thread(cpu);
        }
        runtime.block_on(async move {
            let workers = (0..concurrency.max(1)).map(|_| flood_worker(Arc::clone(&plan), until));
            let mut all = Errors::default();
            for outcomes in futures_util::future::join_all(workers).await {
                all.merge(&outcomes);
            }
            Ok(all)
        })
    })?;
    Ok(thread)
}

async fn flood_worker(plan: Arc<FloodPlan>, until: Instant) -> Errors {
    let mut outcomes = Errors::default();
    while Instant::now() < until {
        let outcome = match plan.attack {
            Attack::BadToken => bad_token(&plan).await,
            Attack::Slowloris => slowloris(&plan, until).await,
            Attack::Deferred => silent_first_message(&plan, until).await,
        };
        if outcome == "connect" {
            // A server that refuses connections must not turn this into a busy loop.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        outcomes.add(outcome);
    }
    outcomes
}

/// One handshake with a bad token; dropped with a reset whatever the answer.
async fn bad_token(plan: &FloodPlan) -> String {
    let Ok(stream) = connect_from(plan.source, plan.addr).await else {
        return "connect".into();
    };
    let Ok(request) = plan.url.as_str().into_client_request() else {
        return "bad_request".into();
    };
    let shake = tokio_tungstenite::client_async(request, stream);
    match tokio::time::timeout(plan.timeout, shake).await {
        Ok(Ok(_)) => "upgraded".into(),
        Ok(Err(WsError::Http(response))) => format!("http_{}", response.status().as_u16()),
        Ok(Err(_)) => "handshake_error".into(),
        Err(_) => "timeout".into(),
    }
}

/// One unfinished request head, held until the server answers or closes it.
async fn slowloris(plan: &FloodPlan, until: Instant) -> String {
    let Ok(mut stream) = connect_from(plan.source, plan.addr).await else {
        return "connect".into();
    };
    // A refused connection may be reset before the write: still read its answer.
    let _ = stream.write_all(plan.partial_head.as_bytes()).await;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    let ended = tokio::time::timeout_at(until.into(), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return true,
                Ok(n) => head.extend_from_slice(&buf[..n.min(64)]),
                Err(_) => return false,
            }
        }
    })
    .await;
    let status = String::from_utf8_lossy(&head).chars().skip(9).take(3).collect::<String>();
    match ended {
        Err(_) => "held_to_the_end".into(),
        Ok(_) if !status.is_empty() => format!("http_{status}"),
        Ok(true) => "closed_unanswered".into(),
        Ok(false) => "reset_unanswered".into(),
    }
}

/// One first-message socket that never sends its frame, held until closed.
async fn silent_first_message(plan: &FloodPlan, until: Instant) -> String {
    let Ok(stream) = connect_from(plan.source, plan.addr).await else {
        return "connect".into();
    };
    let Ok(request) = plan.url.as_str().into_client_request() else {
        return "bad_request".into();
    };
    let shake = tokio_tungstenite::client_async(request, stream);
    let mut ws = match tokio::time::timeout(plan.timeout, shake).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(WsError::Http(response))) => return format!("http_{}", response.status().as_u16()),
        Ok(Err(_)) => return "handshake_error".into(),
        Err(_) => return "timeout".into(),
    };
    let closed = tokio::time::timeout_at(until.into(), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    match closed {
        Ok(Some(code)) => format!("upgraded_then_closed_{code}"),
        Ok(None) => "upgraded_then_dropped".into(),
        Err(_) => "held_to_the_end".into(),
    }
}
