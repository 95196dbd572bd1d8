//! Round-trip latency of `{"type":"echo","data":...}` frames over already
//! authenticated sockets, one frame in flight per socket.

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::common::{Common, Cred};
use crate::dial::{Dialer, Ws, close_cleanly};
use crate::handshake::micros;
use crate::report;

#[derive(Debug, Clone, Args)]
pub(crate) struct EchoArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Sockets, each with one echo in flight.
    #[arg(long, default_value_t = 16)]
    pub(crate) connections: usize,
    /// Size of the `data` string, bytes.
    #[arg(long, default_value_t = 32)]
    pub(crate) payload_bytes: usize,
    /// Unrecorded warm-up before the measured phase, seconds.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: u64,
}

enum Outcome {
    Ok(u64),
    Failed(&'static str),
}

async fn one_echo(ws: &mut Ws, seq: u64, pad: &str, timeout: Duration) -> Outcome {
    let data = format!("{seq:016}{pad}");
    let frame = json!({ "type": "echo", "data": data }).to_string();
    let t0 = Instant::now();
    let exchange = async {
        ws.send(Message::text(frame)).await.map_err(|_| "send")?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains(&data) => return Ok(()),
                Some(Ok(Message::Text(_))) => return Err("unexpected_frame"),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err("closed"),
                Some(Ok(_)) => {}
            }
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(())) => Outcome::Ok(micros(t0.elapsed())),
        Ok(Err(kind)) => Outcome::Failed(kind),
        Err(_) => Outcome::Failed("timeout"),
    }
}

pub(crate) async fn run(args: EchoArgs, dialer: Dialer, creds: Vec<Cred>) -> anyhow::Result<()> {
    let c = args.common.clone();
    let timeout = c.timeout();
    let pad = "x".repeat(args.payload_bytes.saturating_sub(16));
    let mut sockets = Vec::new();
    let mut open_errors = Errors::default();
    let sources = dialer.target().sources.clone();
    for i in 0..args.connections.max(1) {
        match dialer.open(sources[i % sources.len()], &creds[i % creds.len()]).await {
            Ok(ws) => sockets.push(ws),
            Err(f) => open_errors.add(f.kind()),
        }
    }
    if sockets.is_empty() {
        anyhow::bail!("no socket could be opened: {}", open_errors.human());
    }
    let n_sockets = sockets.len();
    let warm_until = Instant::now() + Duration::from_secs(args.warmup);
    let measure_from = warm_until;
    let deadline = warm_until + Duration::from_secs(c.duration);
    let next = Arc::new(AtomicU64::new(0));
    let pad = Arc::new(pad);
    let mut tasks = JoinSet::new();
    for mut ws in sockets {
        let next = Arc::clone(&next);
        let pad = Arc::clone(&pad);
        let count = c.count;
        tasks.spawn(async move {
            let mut latency = stats::new_histogram();
            let mut errors = Errors::default();
            let mut warm_seq = 0u64;
            while Instant::now() < measure_from {
                warm_seq += 1;
                if let Outcome::Failed(kind) =
                    one_echo(&mut ws, u64::MAX - warm_seq, &pad, timeout).await
                {
                    errors.add(format!("warmup_{kind}"));
                    return (latency, errors, None);
                }
            }
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= count {
                    break;
                }
                match one_echo(&mut ws, seq, &pad, timeout).await {
                    Outcome::Ok(us) => stats::record(&mut latency, us),
                    Outcome::Failed(kind) => {
                        errors.add(kind);
                        return (latency, errors, None);
                    }
                }
            }
            (latency, errors, Some(ws))
        });
    }
    // CPU is measured over the recorded phase only.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = CpuMeter::start(c.server_pid);
    let start = Instant::now();
    let mut latency = stats::new_histogram();
    let mut errors = open_errors;
    let mut open = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((l, e, ws)) => {
                let _ = latency.add(&l);
                errors.merge(&e);
                open.extend(ws);
            }
            Err(_) => errors.add("worker_panicked"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = cpu.finish();
    let closing: Vec<_> = open.into_iter().map(|ws| close_cleanly(ws, timeout)).collect();
    futures_util::future::join_all(closing).await;
    let n = latency.len();
    report::emit(
        &c,
        dialer.target(),
        "echo",
        json!({
            "connections": n_sockets,
            "payload_bytes": args.payload_bytes,
            "duration_s": (elapsed * 1000.0).round() / 1000.0,
            "ok": n,
            "errors": errors.to_json(),
            "rate_per_s": (n as f64 / elapsed).round(),
            "rtt_us": stats::summary_us(&latency),
        }),
        Some(cpu),
        format!(
            "{n} echoes on {n_sockets} sockets, {:.0}/s; errors: {}; round trip {}",
            n as f64 / elapsed,
            errors.human(),
            stats::human_ms(&latency)
        ),
    );
    Ok(())
}
