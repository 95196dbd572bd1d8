//! Revocation latency: with N idle sockets of other users open, log a victim
//! in, open its socket, `POST /auth/logout`, and time the victim's close
//! frame (expected code 4003). Repeated R times; the idle sockets must survive.
//! With `--peer` (other nodes of one cluster) the idle sockets are spread over
//! every node, the victim's socket opens on `--url` and the logout goes to
//! the first peer: the time from one node's logout to another node's 4003.

use anyhow::bail;
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use wsauth_bench::procfs::CpuMeter;
use wsauth_bench::stats::{self, Errors};

use crate::api::Api;
use crate::common::{self, Common, Cred, Mode, Target};
use crate::dial::{Dialer, close_cleanly, finish_server_close};
use crate::handshake::micros;
use crate::hold::{Holders, check_fd_budget, open_many};
use crate::report;

/// The close code the server uses for revoked tokens.
const REVOKED: u16 = 4003;

#[derive(Debug, Clone, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Idle sockets of other users held open during the measurement.
    #[arg(long, default_value_t = 1000)]
    pub(crate) idle: u64,
    /// Logouts to measure (also bounded by --count and --duration).
    #[arg(long, default_value_t = 20)]
    pub(crate) repeat: u64,
    /// Connections being opened at once while setting up the idle sockets.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// How long to wait for the victim's close frame after the logout, ms.
    #[arg(long, default_value_t = 5000)]
    pub(crate) close_wait_ms: u64,
    /// WebSocket URL of another node of the same cluster (repeatable): idle
    /// sockets are spread over every node and the logout goes to the first.
    #[arg(long = "peer")]
    pub(crate) peers: Vec<String>,
}

/// Dialers and APIs of the other nodes named by `--peer`.
fn peer_nodes(common: &Common, peers: &[String]) -> anyhow::Result<Vec<Dialer>> {
    peers
        .iter()
        .map(|url| {
            let at = Common { url: url.clone(), http_base: None, ..common.clone() };
            let target = Arc::new(Target::parse(&at)?);
            let api = Api::new(&target.http_base, at.timeout())?;
            Ok(Dialer::new(target, at.mode, at.expect(), api, at.timeout()))
        })
        .collect()
}

pub(crate) async fn run(args: RevokeArgs, dialer: Dialer, api: Api) -> anyhow::Result<()> {
    let c = &args.common;
    if !matches!(c.mode, Mode::Query | Mode::Header | Mode::Subprotocol) {
        bail!("revoke uses a bearer access token: --mode query, header or subprotocol");
    }
    check_fd_budget(args.idle.saturating_add(16))?;
    let timeout = c.timeout();
    let deadline = c.deadline();
    let prefix = c.user_prefix();
    let others = Arc::new(common::provision(c, &api, c.mode, c.users, &prefix).await?);
    let peers = peer_nodes(c, &args.peers)?;
    let logout_api = peers.first().map_or_else(|| api.clone(), |peer| peer.api().clone());
    let nodes: Vec<&Dialer> = std::iter::once(&dialer).chain(&peers).collect();
    let mut holders = Holders::new();
    let mut opened = 0;
    let mut open_errors = Errors::default();
    for (i, node) in (0u64..).zip(&nodes) {
        let share = args.idle / nodes.len() as u64 + u64::from(i < args.idle % nodes.len() as u64);
        let (n, errors, _) =
            open_many(node, &others, share, args.concurrency, deadline, &mut holders, timeout)
                .await;
        opened += n;
        open_errors.merge(&errors);
    }
    eprintln!(
        "{opened} idle sockets of {} other users open on {} node(s)",
        others.len(),
        nodes.len()
    );

    let victim = format!("{prefix}-victim");
    api.register(&victim, &c.password).await?;
    let src = dialer.target().sources[0];
    let cpu = CpuMeter::start(c.server_pid);
    let mut close_latency = stats::new_histogram();
    let mut logout_latency = stats::new_histogram();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors = Errors::default();
    let rounds = args.repeat.min(c.count);
    let mut done = 0u64;
    while done < rounds && Instant::now() < deadline {
        done += 1;
        let token = match api.login(&victim, &c.password).await {
            Ok(t) => t,
            Err(_) => {
                errors.add("login");
                continue;
            }
        };
        let cred = Cred { token: token.clone(), csrf: None };
        let mut ws = match dialer.open(src, &cred).await {
            Ok(ws) => ws,
            Err(f) => {
                errors.add(format!("open_{}", f.kind()));
                continue;
            }
        };
        let t0 = Instant::now();
        let logout = {
            let api = logout_api.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let status = api.logout(&token).await;
                (status, t.elapsed())
            })
        };
        let wait = Duration::from_millis(args.close_wait_ms);
        let closed = tokio::time::timeout(wait, async {
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
        let elapsed = t0.elapsed();
        match closed {
            Ok(Some(Some(REVOKED))) => {
                stats::record(&mut close_latency, micros(elapsed));
                *codes.entry(REVOKED.to_string()).or_default() += 1;
                finish_server_close(ws, timeout).await;
            }
            Ok(Some(code)) => {
                let key = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
                *codes.entry(key).or_default() += 1;
                errors.add("wrong_close_code");
                finish_server_close(ws, timeout).await;
            }
            Ok(None) => {
                errors.add("dropped_without_close_frame");
            }
            Err(_) => {
                errors.add("not_closed");
                close_cleanly(ws, timeout).await;
            }
        }
        match logout.await {
            Ok((Ok(status), t)) if status.is_success() => {
                stats::record(&mut logout_latency, micros(t));
            }
            Ok((Ok(status), _)) => errors.add(format!("logout_http_{}", status.as_u16())),
            _ => errors.add("logout_failed"),
        }
    }
    let cpu = cpu.finish();
    let others_alive = opened.saturating_sub(holders.dropped() as u64);
    holders.close_all(timeout + Duration::from_secs(30)).await;
    report::emit(
        c,
        dialer.target(),
        "revoke",
        json!({
            "nodes": nodes.len(),
            "idle_requested": args.idle,
            "idle_opened": opened,
            "idle_open_errors": open_errors.to_json(),
            "idle_alive_at_end": others_alive,
            "rounds": done,
            "closed_4003": close_latency.len(),
            "close_codes": codes,
            "errors": errors.to_json(),
            "close_after_logout_us": stats::summary_us(&close_latency),
            "logout_http_us": stats::summary_us(&logout_latency),
        }),
        Some(cpu),
        format!(
            "{}/{done} victims closed with 4003 after logout: {}; logout response {}; \
             {others_alive}/{opened} idle sockets still open; errors: {}",
            close_latency.len(),
            stats::human_ms(&close_latency),
            stats::human_ms(&logout_latency),
            errors.human()
        ),
    );
    Ok(())
}
