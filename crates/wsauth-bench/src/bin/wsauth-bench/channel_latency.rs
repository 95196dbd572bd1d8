//! Channel delivery latency across nodes: `--subscribers` sockets on one
//! node (`--url`) subscribed to one channel, one publisher on another node
//! (`--publish-url`) publishing `--rate` messages a second, each carrying its
//! send time; every subscriber records now minus that time (one clock: both
//! ends are on this machine). Bounded by --count messages and --duration.

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats;

use crate::api::Api;
use crate::common::{self, Common, Cred, Target};
use crate::dial::{Dialer, Ws};
use crate::report;

#[derive(Debug, Clone, Args)]
pub(crate) struct ChannelLatencyArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// WebSocket URL of the node the publisher is on (another node of the cluster).
    #[arg(long)]
    pub(crate) publish_url: String,
    /// Subscribed sockets on `--url`.
    #[arg(long, default_value_t = 100)]
    pub(crate) subscribers: u64,
    /// Messages published a second.
    #[arg(long, default_value_t = 1000)]
    pub(crate) rate: u64,
    /// The channel (the servers must grant it `subscribe` and `publish`).
    #[arg(long, default_value = "room:latency")]
    pub(crate) channel: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0))
}

/// Opens a socket on `dialer` and subscribes it to `channel`.
async fn subscribed(dialer: &Dialer, cred: &Cred, channel: &str) -> anyhow::Result<Ws> {
    let src = dialer.target().sources[0];
    let mut ws = dialer.open(src, cred).await.map_err(|f| anyhow::anyhow!("open: {}", f.kind()))?;
    ws.send(Message::text(json!({"type": "subscribe", "channel": channel}).to_string())).await?;
    while let Some(message) = ws.next().await {
        if let Ok(Message::Text(text)) = message {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match value["type"].as_str() {
                Some("subscribed") => return Ok(ws),
                Some("error") => bail!("subscribe refused: {value}"),
                _ => {}
            }
        }
    }
    bail!("the socket ended before it was subscribed")
}

pub(crate) async fn run(args: ChannelLatencyArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = &args.common;
    let creds = Arc::new(common::provision(c, &api, c.mode, c.users, &c.user_prefix()).await?);
    let publisher_at = Common { url: args.publish_url.clone(), http_base: None, ..c.clone() };
    let target = Arc::new(Target::parse(&publisher_at)?);
    let publish_api = Api::new(&target.http_base, c.timeout())?;
    let publisher_dialer = Dialer::new(target, c.mode, c.expect(), publish_api, c.timeout());
    let count = c.count.max(1);
    let mut listeners = JoinSet::new();
    for i in 0..args.subscribers {
        let cred = &creds[usize::try_from(i).unwrap_or(0) % creds.len()];
        let mut ws = subscribed(&dialer, cred, &args.channel).await.context("a subscriber")?;
        let limit = c.deadline();
        listeners.spawn(async move {
            let mut latency = stats::new_histogram();
            let mut received = 0u64;
            while received < count {
                let next = tokio::time::timeout_at(limit.into(), ws.next()).await;
                let Ok(Some(Ok(Message::Text(text)))) = next else {
                    if matches!(next, Ok(Some(Ok(_)))) {
                        continue;
                    }
                    break;
                };
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if value["type"] == "message" {
                    let sent = value["data"]["t"].as_u64().unwrap_or(0);
                    stats::record(&mut latency, now_us().saturating_sub(sent));
                    received += 1;
                }
            }
            (latency, received)
        });
    }
    let publisher = subscribed(&publisher_dialer, &creds[0], &args.channel).await?;
    let cpu = CpuMeter::start(c.server_pid);
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
    let (mut sink, mut stream) = publisher.split();
    // The publisher's own frames (its answers and its copy) are drained.
    let drain = tokio::spawn(async move { while stream.next().await.is_some() {} });
    for _ in 0..count {
        every.tick().await;
        let frame = json!({"type": "publish", "channel": args.channel, "data": {"t": now_us()}});
        sink.send(Message::text(frame.to_string())).await.context("publish")?;
    }
    let mut latency: Histogram<u64> = stats::new_histogram();
    let mut delivered = 0u64;
    while let Some(joined) = listeners.join_next().await {
        if let Ok((h, n)) = joined {
            latency.add(&h).ok();
            delivered += n;
        }
    }
    let cpu = cpu.finish();
    drain.abort();
    let expected = count * args.subscribers;
    report::emit(
        c,
        dialer.target(),
        "channel_latency",
        json!({
            "subscribers": args.subscribers,
            "rate": args.rate,
            "published": count,
            "delivered": delivered,
            "expected": expected,
            "latency_us": stats::summary_us(&latency),
        }),
        Some(cpu),
        format!(
            "{count} messages at {}/s to {} subscribers on another node: {delivered}/{expected} \
             delivered, publish to delivery {}",
            args.rate,
            args.subscribers,
            stats::human_ms(&latency)
        ),
    );
    Ok(())
}
