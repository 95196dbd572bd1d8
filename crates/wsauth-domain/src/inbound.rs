//! The one way in for revocations committed by another process: every
//! source hands what it heard to [`Inbound::received`] as [`News`], which
//! writes the mirror once for it and closes (4003) the live sockets of
//! whatever the mirror did not know.
//!
//! The sources, from fastest to surest: the Redis bus of a cluster (another
//! node's events, `wsauth-server`'s `cluster/`), its catch-up after every
//! (re)subscription, and the revocation log every process follows
//! (`watch.rs`), which also reloads everything after a long time away.
//!
//! The log also carries changes to a local account's channel rights (kind
//! `rights`): given the node's [`Channels`] ([`Inbound::with_channels`]),
//! each re-checks the subject's live subscriptions, and news that may have
//! missed some re-checks every subject's.

use std::sync::Arc;
use std::time::Instant;
use wsauth::channels::Channels;
use wsauth::{LiveSessions, RevocationEvent, StoreError};

use crate::mirror::StoredRevocations;
use crate::store::{AdminEvent, EventKind};

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
    /// The node's channels, whose subscriptions rights changes re-check.
    pub(crate) channels: Option<Channels>,
}

impl Inbound {
    /// News goes to `mirror` and to the sockets in `live`.
    pub fn new(mirror: Arc<StoredRevocations>, live: LiveSessions) -> Self {
        Self { mirror, live, channels: None }
    }

    /// Rights changes in the log re-check the subscriptions of `channels`.
    #[must_use]
    pub fn with_channels(self, channels: Channels) -> Self {
        Self { channels: Some(channels), ..self }
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
            News::Logged(entry) if entry.kind == EventKind::Rights.as_str() => {
                // Nothing was revoked: only what the subject may do on
                // channels changed.
                if let Some(channels) = &self.channels {
                    channels.rights_changed(&entry.sub, Instant::now()).await;
                }
                Vec::new()
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
            News::MaybeMissed => {
                let learned = self.mirror.reload_all().await?;
                if let Some(channels) = &self.channels {
                    channels.recheck_all(Instant::now()).await;
                }
                learned
            }
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
