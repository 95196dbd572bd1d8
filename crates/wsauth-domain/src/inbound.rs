//! The one way in for revocations committed by another process: every
//! source hands what it heard to [`Inbound::received`] as [`News`], which
//! writes the mirror once for it and closes (4003) the live sockets of
//! whatever the mirror did not know.
//!
//! The sources, from fastest to surest: the Redis bus of a cluster (another
//! node's events, `wsauth-server`'s `cluster/`), its catch-up after every
//! (re)subscription, and the revocation log every process follows
//! (`watch.rs`), which also reloads everything after a long time away.

use std::sync::Arc;
use std::time::Instant;
use wsauth::{LiveSessions, RevocationEvent, StoreError};

use crate::mirror::StoredRevocations;
use crate::store::AdminEvent;

/// What this process heard of a revocation committed elsewhere.
#[derive(Debug, Clone)]
pub enum News {
    /// Another node's event on the bus: its sockets close here at once, and
    /// the subject it names is reloaded from the database.
    Bus(RevocationEvent),
    /// An entry of the revocation log: what it names is reloaded.
    Logged(AdminEvent),
    /// This process may have missed some (a new bus subscription, a long
    /// time without the log): every revocation is reloaded.
    MaybeMissed,
}

/// Where revocations made elsewhere reach this process's mirror and
/// sockets.
#[derive(Clone)]
pub struct Inbound {
    pub(crate) mirror: Arc<StoredRevocations>,
    pub(crate) live: LiveSessions,
}

impl Inbound {
    /// News goes to `mirror` and to the sockets in `live`.
    pub fn new(mirror: Arc<StoredRevocations>, live: LiveSessions) -> Self {
        Self { mirror, live }
    }

    /// Applies `news`: the mirror reloads what it names, once, and the live
    /// sockets of what the mirror did not know close. An error means the
    /// database could not be read; nothing was lost, and the caller's next
    /// read (or the staleness rule, `mirror.rs`) covers it.
    pub async fn received(&self, news: News) -> Result<(), StoreError> {
        let learned = match news {
            News::Bus(event) => {
                self.live.notify(&event);
                match subject_of(&event) {
                    Some(sub) => self.mirror.reload_subject(sub).await?,
                    None => Vec::new(),
                }
            }
            News::Logged(entry) => {
                let mut learned = match &entry.jti {
                    Some(jti) => self.mirror.reload_token(jti).await?,
                    None => Vec::new(),
                };
                if !entry.sub.is_empty() {
                    learned.extend(self.mirror.reload_subject(&entry.sub).await?);
                }
                learned
            }
            News::MaybeMissed => self.mirror.reload_all().await?,
        };
        for event in &learned {
            self.live.notify(event);
        }
        Ok(())
    }

    /// Every entry of the revocation log committed before `read_started`
    /// has been received.
    pub fn caught_up(&self, read_started: Instant) {
        self.mirror.caught_up(read_started);
    }
}

/// The subject whose stored revocations an event's facts live under.
fn subject_of(event: &RevocationEvent) -> Option<&str> {
    match event {
        RevocationEvent::Sessions { sub, .. } | RevocationEvent::Subject { sub, .. } => Some(sub),
        _ => None,
    }
}
