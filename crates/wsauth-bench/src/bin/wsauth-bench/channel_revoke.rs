//! Channel revocation latency: with `--others` sockets of other users each
//! subscribed to a channel, a victim's socket subscribes to a channel it holds
//! by a per-user grant; the grant is deleted through the admin API and the
//! time to the victim's `unsubscribed` frame (`permission_revoked`) is
//! measured, with the admin call's own time. Repeated `--repeat` times; the other sockets must stay
//! subscribed (a grant of the victim's ends the victim's subscription only).
//! The server needs `admin_api_key` and a rule granting `subscribe` on
//! `room:*` (for the others).

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::api::Api;
use crate::common::{self, Common, Cred};
use crate::dial::{Dialer, Ws};
use crate::handshake::micros;
use crate::hold::{Holders, check_fd_budget};
use crate::report;

#[derive(Debug, Clone, Args)]
pub(crate) struct ChannelRevokeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Sockets of other users, each subscribed to one of `--rooms` channels.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) others: u64,
    /// The channels (`room:0` ...) the other sockets are spread over.
    #[arg(long, default_value_t = 100)]
    pub(crate) rooms: u64,
    /// Grants deleted and measured (also bounded by --count and --duration).
    #[arg(long, default_value_t = 200)]
    pub(crate) repeat: u64,
    /// Sockets being opened and subscribed at once during set-up.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// The server's admin API key.
    #[arg(long, env = "WSAUTH_BENCH_ADMIN_KEY", hide_env_values = true)]
    pub(crate) admin_key: String,
    /// Base URL (`http://HOST:PORT`) of another node of the cluster to make
    /// the admin calls on: the time from one node's change to another
    /// node's `unsubscribed` frame.
    #[arg(long)]
    pub(crate) admin_url: Option<String>,
}

/// Sends `frame` and reads until a frame of `kind` (or an error frame).
async fn answer(ws: &mut Ws, frame: Value, kind: &str, limit: Duration) -> anyhow::Result<Value> {
    ws.send(Message::text(frame.to_string())).await.context("send")?;
    tokio::time::timeout(limit, async {
        while let Some(message) = ws.next().await {
            if let Ok(Message::Text(text)) = message {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if value["type"] == kind || value["type"] == "error" {
                    return Ok(value);
                }
            }
        }
        bail!("the socket ended")
    })
    .await
    .context("no answer in time")?
}

/// Opens a socket with `cred` and subscribes it to `channel`.
async fn subscribed(
    dialer: &Dialer,
    cred: &Cred,
    channel: &str,
    limit: Duration,
) -> anyhow::Result<Ws> {
    let src = dialer.target().sources[0];
    let mut ws = dialer.open(src, cred).await.map_err(|f| anyhow::anyhow!("open: {}", f.kind()))?;
    let reply =
        answer(&mut ws, json!({"type": "subscribe", "channel": channel}), "subscribed", limit)
            .await?;
    if reply["type"] != "subscribed" {
        bail!("subscribe to {channel} refused: {reply}");
    }
    Ok(ws)
}

pub(crate) async fn run(args: ChannelRevokeArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = &args.common;
    check_fd_budget(args.others.saturating_add(16))?;
    let timeout = c.timeout();
    let deadline = c.deadline();
    let prefix = c.user_prefix();
    let others = Arc::new(common::provision(c, &api, c.mode, c.users, &prefix).await?);
    let mut holders = Holders::new();
    let mut open_errors = Errors::default();
    let opened: Vec<anyhow::Result<Ws>> = stream::iter(0..args.others)
        .map(|i| {
            let (dialer, others) = (&dialer, Arc::clone(&others));
            async move {
                let cred = &others[usize::try_from(i).unwrap_or(0) % others.len()];
                subscribed(dialer, cred, &format!("room:{}", i % args.rooms.max(1)), timeout).await
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    for ws in opened {
        match ws {
            Ok(ws) => holders.hold(ws, timeout),
            Err(e) => open_errors.add(e.to_string()),
        }
    }
    let held = holders.len();
    eprintln!("{held} sockets of other users subscribed over {} channels", args.rooms);

    let victim = format!("{prefix}-victim");
    api.register(&victim, &c.password).await?;
    let token = api.login(&victim, &c.password).await?;
    let src = dialer.target().sources[0];
    let mut ws = dialer
        .open(src, &Cred { token, csrf: None })
        .await
        .map_err(|f| anyhow::anyhow!("open the victim's socket: {}", f.kind()))?;
    let grants = format!("/admin/users/{victim}/grants");
    let admin = match &args.admin_url {
        Some(base) => Api::new(base, timeout)?,
        None => api.clone(),
    };
    let cpu = CpuMeter::start(c.server_pid);
    let mut to_frame = stats::new_histogram();
    let mut admin_call = stats::new_histogram();
    let mut errors = Errors::default();
    let rounds = args.repeat.min(c.count);
    let mut done = 0u64;
    while done < rounds && Instant::now() < deadline {
        done += 1;
        let channel = format!("doc:{done}");
        let body = json!({"pattern": channel, "actions": ["subscribe"]});
        let (status, created) =
            admin.admin(Method::POST, &grants, &args.admin_key, Some(body)).await?;
        if status != StatusCode::CREATED {
            bail!("granting {channel}: {status} {created}");
        }
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        // A grant made on another node reaches this one through the event
        // log: subscribe until it has.
        let granted_at = Instant::now();
        let subscribe = json!({"type": "subscribe", "channel": channel});
        let mut reply = answer(&mut ws, subscribe.clone(), "subscribed", timeout).await?;
        while reply["type"] != "subscribed" && granted_at.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(20)).await;
            reply = answer(&mut ws, subscribe.clone(), "subscribed", timeout).await?;
        }
        if reply["type"] != "subscribed" {
            errors.add("not_subscribed");
            continue;
        }
        let t0 = Instant::now();
        let delete = {
            let (api, path, key) =
                (admin.clone(), format!("{grants}/{id}"), args.admin_key.clone());
            tokio::spawn(async move {
                let status = api.admin(Method::DELETE, &path, &key, None).await;
                (status.map(|(s, _)| s), t0.elapsed())
            })
        };
        let ended = tokio::time::timeout(timeout, async {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if value["type"] == "unsubscribed" && value["channel"] == channel.as_str() {
                        return Some(value);
                    }
                }
            }
            None
        })
        .await;
        let elapsed = t0.elapsed();
        match ended {
            Ok(Some(frame)) if frame["reason"] == "permission_revoked" => {
                stats::record(&mut to_frame, micros(elapsed));
            }
            Ok(Some(_)) => errors.add("wrong_reason"),
            Ok(None) => errors.add("socket_ended"),
            Err(_) => errors.add("no_unsubscribed"),
        }
        match delete.await {
            Ok((Ok(StatusCode::NO_CONTENT), took)) => stats::record(&mut admin_call, micros(took)),
            Ok((Ok(status), _)) => errors.add(format!("delete_http_{}", status.as_u16())),
            _ => errors.add("delete_failed"),
        }
    }
    let cpu = cpu.finish();
    let alive = held.saturating_sub(holders.dropped());
    holders.close_all(timeout + Duration::from_secs(30)).await;
    report::emit(
        c,
        dialer.target(),
        "channel_revoke",
        json!({
            "others_requested": args.others,
            "others_subscribed": held,
            "others_open_errors": open_errors.to_json(),
            "others_alive_at_end": alive,
            "rounds": done,
            "errors": errors.to_json(),
            "admin_call_to_unsubscribed_us": stats::summary_us(&to_frame),
            "admin_call_us": stats::summary_us(&admin_call),
        }),
        Some(cpu),
        format!(
            "{}/{done} subscriptions ended by deleting their grant: {}; the admin call took {}; \
             {alive}/{held} other subscribed sockets still open; errors: {}",
            to_frame.len(),
            stats::human_ms(&to_frame),
            stats::human_ms(&admin_call),
            errors.human()
        ),
    );
    Ok(())
}
