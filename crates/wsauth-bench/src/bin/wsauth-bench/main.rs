//! `wsauth-bench`: a load generator for authenticated WebSocket servers.
//!
//! ```text
//! wsauth-bench handshake --url ws://127.0.0.1:PORT/ws --mode query --hmac-secret "$S" --concurrency 32
//! wsauth-bench hold      --url ... --server-pid PID --connections 10000 [--subscribe shared:room:1|personal]
//! wsauth-bench echo      --url ... --connections 16
//! wsauth-bench revoke    --url ... --idle 1000 --repeat 20
//! wsauth-bench channel-revoke --url ... --admin-key "$K" --others 10000 --repeat 200
//! wsauth-bench channel-latency --url ws://B/ws --publish-url ws://A/ws --rate 1000 --count 10000
//! wsauth-bench expiry    --url ... --hmac-secret "$S" --connections 200
//! wsauth-bench flood     --url ... --hmac-secret "$S" --attack bad-token
//! wsauth-bench restart   --url ... --hmac-secret "$S" --server-pid PID --connections 10000
//! wsauth-bench faults    --url ... --hmac-secret "$S" --fault lock --database DATA/wsauth.db
//! wsauth-bench soak      --url ... --hmac-secret "$S" --server-pid PID --connections 15000 --duration 600
//! ```
//!
//! Every target must be on loopback; every loop is bounded by `--count` and
//! `--duration` (and the whole run by `--max-runtime`). One JSON line per
//! measurement goes to stdout, a human summary to stderr.

mod api;
mod channel_latency;
mod channel_revoke;
mod common;
mod dial;
mod echo;
mod expiry;
mod faults;
mod flood;
mod handshake;
mod hold;
mod raw;
mod report;
mod restart;
mod revoke;
mod soak;
mod subscribe;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::time::Duration;

use crate::api::Api;
use crate::common::{Common, Target};
use crate::dial::Dialer;

#[derive(Debug, Parser)]
#[command(version, about = "Load generator for authenticated WebSocket servers (loopback only)")]
struct Cli {
    /// Runtime worker threads; default: the cores this process may run on.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Pins the runtime's threads to this CPU (the flood's own thread is
    /// placed by `flood --flood-cpu`); the process's affinity must allow it.
    #[arg(long, global = true)]
    worker_cpu: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Throughput and latency of authenticated handshakes.
    Handshake(handshake::HandshakeArgs),
    /// Server memory per held connection (reads /proc/PID/status).
    Hold(hold::HoldArgs),
    /// Round-trip latency of echo frames.
    Echo(echo::EchoArgs),
    /// Time from POST /auth/logout to the victim socket's 4003 close.
    Revoke(revoke::RevokeArgs),
    /// Time from deleting a grant (admin API) to the subscription's `unsubscribed` frame.
    ChannelRevoke(channel_revoke::ChannelRevokeArgs),
    /// Time from a publish on one node to its delivery on another.
    ChannelLatency(channel_latency::ChannelLatencyArgs),
    /// Lateness of 4001 closes after token expiry.
    Expiry(expiry::ExpiryArgs),
    /// Valid clients' success and latency while one address floods the server.
    Flood(flood::FloodArgs),
    /// SIGTERM (or SIGKILL) with sockets open: 1001 closes, then revocations after the restart.
    Restart(restart::RestartArgs),
    /// Every operation while the database is locked or full, and after it recovers.
    Faults(faults::FaultsArgs),
    /// Sockets refreshing in-band, logging out and expiring for a long run: memory and counts.
    Soak(soak::SoakArgs),
}

impl Command {
    fn common(&self) -> &Common {
        match self {
            Self::Handshake(a) => &a.common,
            Self::Hold(a) => &a.common,
            Self::Echo(a) => &a.common,
            Self::Revoke(a) => &a.common,
            Self::ChannelRevoke(a) => &a.common,
            Self::ChannelLatency(a) => &a.common,
            Self::Expiry(a) => &a.common,
            Self::Flood(a) => &a.common,
            Self::Restart(a) => &a.common,
            Self::Faults(a) => &a.common,
            Self::Soak(a) => &a.common,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => eprintln!("open-file limit: {limit}"),
        Err(e) => eprintln!("could not raise the open-file limit: {e}"),
    }
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(threads).enable_all();
    if let Some(cpu) = cli.worker_cpu {
        builder.on_thread_start(move || pin_current_thread(cpu));
    }
    let runtime = builder.build().context("cannot start the async runtime")?;
    let limit = Duration::from_secs(cli.command.common().max_runtime.max(1));
    runtime.block_on(async move {
        tokio::time::timeout(limit, run(cli.command)).await.unwrap_or_else(|_| {
            anyhow::bail!("stopped: --max-runtime of {} s reached", limit.as_secs())
        })
    })?;
    // Sockets still owned by aborted tasks are closed with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Pins the calling thread to one CPU, or says why it could not.
pub(crate) fn pin_current_thread(cpu: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        eprintln!("could not pin a thread to CPU {cpu}");
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let common = command.common().clone();
    let target = Arc::new(Target::parse(&common)?);
    let api = Api::new(&target.http_base, common.timeout())?;
    let dialer = Dialer::new(
        Arc::clone(&target),
        common.mode,
        common.expect(),
        api.clone(),
        common.timeout(),
    );
    match command {
        Command::Handshake(args) => {
            let creds =
                common::provision(&common, &api, common.mode, common.users, &common.user_prefix())
                    .await?;
            handshake::run(args, dialer, creds).await?;
        }
        Command::Hold(args) => {
            let creds =
                common::provision(&common, &api, common.mode, common.users, &common.user_prefix())
                    .await?;
            hold::run(args, dialer, creds).await?;
        }
        Command::Echo(args) => {
            let creds =
                common::provision(&common, &api, common.mode, common.users, &common.user_prefix())
                    .await?;
            echo::run(args, dialer, creds).await?;
        }
        Command::Revoke(args) => revoke::run(args, dialer, api).await?,
        Command::ChannelRevoke(args) => channel_revoke::run(args, dialer, api).await?,
        Command::ChannelLatency(args) => channel_latency::run(args, dialer, api).await?,
        Command::Expiry(args) => expiry::run(args, dialer).await?,
        Command::Flood(args) => {
            let creds =
                common::provision(&common, &api, common.mode, common.users, &common.user_prefix())
                    .await?;
            flood::run(args, dialer, creds).await?;
        }
        Command::Restart(args) => restart::run(args, dialer, api).await?,
        Command::Faults(args) => faults::run(args, dialer, api).await?,
        Command::Soak(args) => soak::run(args, dialer, api).await?,
    }
    Ok(())
}
