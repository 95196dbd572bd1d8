//! Changes other processes made to the database (the `wsauth user`
//! commands): polled every 250 ms, so they take effect on a running server
//! within a second. Each event names a subject; its revocations and its
//! disabled flag are reloaded into the mirror and, unless it only unblocked
//! the account, its live sockets are closed with 4003.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::propagate::Propagation;
use crate::store::{AdminEvent, AdminLog};

/// How often the database is asked for new events.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Applies events made by other processes until shutdown.
pub async fn run(
    log: Arc<dyn AdminLog>,
    origin: String,
    propagation: Propagation,
    shutdown: CancellationToken,
) {
    let mut last = match log.latest_event().await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "cannot read admin events; changes by other processes need a restart");
            return;
        }
    };
    let mut every = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let events = match log.events_after(last, 1000).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read admin events");
                continue;
            }
        };
        for AdminEvent { id, sub, kind, origin: from } in events {
            if from != origin {
                // Retried on the next tick when the reload fails.
                if let Err(e) = propagation.learned(&sub, kind != "enable").await {
                    tracing::warn!(error = %e, "cannot apply an admin event");
                    break;
                }
                tracing::info!(sub = %sub, action = %kind, "applied an account change made elsewhere");
            }
            last = id;
        }
    }
}
