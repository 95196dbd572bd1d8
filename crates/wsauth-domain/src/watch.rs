//! Following the revocation log: every revocation and account change
//! committed to the database, by any process (another node, a `wsauth user`
//! command), is recorded in the transaction that commits it (`store/`).
//! Each process reads the entries after the last one it applied every
//! [`POLL_INTERVAL`], reloads what each names into its mirror and closes
//! the live sockets of what it did not know (4003). After each complete
//! read the mirror notes when that read started; a mirror whose last
//! complete read started more than `STALE_AFTER` ago refuses the checks it
//! cannot answer (`mirror.rs`).
//!
//! Entries are kept for [`RETENTION`]. A process that could not read the
//! log for over [`RELOAD_AFTER`] (far less) reloads every revocation from
//! the database once it can again, so no purge can hide an entry from it.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use wsauth::StoreError;

use crate::inbound::{Inbound, News};
use crate::store::AdminLog;

/// How often the database is asked for new entries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long entries are kept (seconds).
pub const RETENTION: i64 = 3600;

/// A process that could not read the log for longer reloads everything.
const RELOAD_AFTER: Duration = Duration::from_secs(60);

/// The most entries read in one query.
const BATCH: i64 = 1000;

/// Follows the log for one process.
pub struct Follower {
    log: Arc<dyn AdminLog>,
    /// The id of the last entry applied.
    last: i64,
    inbound: Inbound,
    /// When the last complete read started.
    last_read: Instant,
    failing: bool,
}

impl Follower {
    /// Follows entries after `last` (the latest id before the mirror was
    /// loaded).
    pub fn new(log: Arc<dyn AdminLog>, last: i64, inbound: Inbound) -> Self {
        Self { log, last, inbound, last_read: Instant::now(), failing: false }
    }

    /// Reads and applies every entry committed so far (once before serving,
    /// then every [`POLL_INTERVAL`]).
    pub async fn step(&mut self) {
        let started = Instant::now();
        let away = started.duration_since(self.last_read);
        let result = if away > RELOAD_AFTER { self.reload().await } else { self.catch_up().await };
        match result {
            Ok(()) => {
                self.last_read = started;
                self.inbound.caught_up(started);
                if std::mem::take(&mut self.failing) {
                    tracing::info!("reading the revocation log again");
                }
            }
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(
                    error = %e,
                    "cannot read the revocation log; handshakes are refused (503) until it can \
                     be read again"
                );
            }
            Err(_) => {}
        }
    }

    /// Applies entries until shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(POLL_INTERVAL);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            self.step().await;
        }
    }

    /// Applies every entry after `last`, moving `last` past each one applied.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let entries = self.log.events_after(self.last, BATCH).await?;
            let complete = entries.len() < BATCH as usize;
            for entry in entries {
                // This process applied its own when it committed them.
                let id = entry.id;
                if entry.origin != self.log.origin() {
                    tracing::debug!(sub = %entry.sub, kind = %entry.kind, "applying a change made elsewhere");
                    self.inbound.received(News::Logged(entry)).await?;
                }
                self.last = id;
            }
            if complete {
                return Ok(());
            }
        }
    }

    /// Reloads every revocation, then follows the entries after the latest
    /// one before the reload.
    async fn reload(&mut self) -> Result<(), StoreError> {
        let latest = self.log.latest_event().await?;
        self.inbound.received(News::MaybeMissed).await?;
        self.last = self.last.max(latest);
        tracing::info!("reloaded every revocation after a long time without the revocation log");
        self.catch_up().await
    }
}
