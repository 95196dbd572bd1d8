//! Following the event log: every revocation and account change committed
//! to the database, by any process (another node, a `wsauth user` command),
//! is recorded in the transaction that commits it (`store/`). Each process
//! reads the entries after the last one it applied every
//! [`POLL_INTERVAL`], reloads what each names into its mirror and closes
//! the live sockets of what it did not know (4003). After each complete
//! read the mirror notes when that read started; a mirror whose last
//! complete read started more than `STALE_AFTER` ago refuses the checks it
//! cannot answer (`revocations.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use wsauth::StoreError;

use crate::propagate::Propagation;
use crate::store::AdminLog;

/// How often the database is asked for new entries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The most entries read in one query.
const BATCH: i64 = 1000;

/// Applies entries after `last` (the latest id before the mirror was
/// loaded) until shutdown.
pub async fn run(
    log: Arc<dyn AdminLog>,
    mut last: i64,
    propagation: Propagation,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(POLL_INTERVAL);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let started = Instant::now();
        match catch_up(log.as_ref(), &mut last, &propagation).await {
            Ok(()) => {
                propagation.caught_up(started);
                if std::mem::take(&mut failing) {
                    tracing::info!("reading the revocation log again");
                }
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %e,
                    "cannot read the revocation log; handshakes are refused (503) until it can \
                     be read again"
                );
            }
            Err(_) => {}
        }
    }
}

/// Applies every entry after `last`, moving `last` past each one applied.
async fn catch_up(
    log: &dyn AdminLog,
    last: &mut i64,
    propagation: &Propagation,
) -> Result<(), StoreError> {
    loop {
        let entries = log.events_after(*last, BATCH).await?;
        let complete = entries.len() < BATCH as usize;
        for entry in entries {
            // This process applied its own when it committed them.
            if entry.origin != log.origin() {
                propagation.learned(&entry).await?;
                tracing::debug!(sub = %entry.sub, kind = %entry.kind, "applied a change made elsewhere");
            }
            *last = entry.id;
        }
        if complete {
            return Ok(());
        }
    }
}
