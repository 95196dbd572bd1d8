//! Every revocation this process commits goes through one place,
//! [`Propagation::committed`], after the database has it (with its entry in
//! the event log, in the same transaction): the in-memory mirror learns it,
//! this node's live sockets bound to it close (4003), and the other nodes
//! learn it through [`Peers`]: nothing in a single-node server
//! ([`NoPeers`]), Redis in a cluster (`cluster/peers.rs`), before the
//! response that reports success is sent.
//!
//! Redis is the fast path, not the guarantee: every node also follows the
//! event log (`watch.rs`, through `inbound.rs`) and refuses what its
//! mirror cannot vouch for once its last read of the log is over a second
//! old. So a logout answered while Redis is unreachable from this node (or
//! from all of them) still reaches every node within that bound, and the
//! failed write is only logged.

use async_trait::async_trait;
use std::sync::Arc;
use wsauth::{RevocationEvent, StoreError};

use crate::inbound::Inbound;
use crate::mirror::StoredRevocations;
use crate::store::{FamilyExpiry, RevokedFamily, RevokedToken};

/// A revocation (or a change of account state) already committed to the
/// database.
#[derive(Debug, Clone)]
pub enum Committed {
    /// Single tokens, by `jti` (tokens this server did not issue).
    Tokens(Vec<RevokedToken>),
    /// One family (logout, reuse detection), with the tokens of it issued
    /// before families had rows.
    Family {
        /// Its subject.
        sub: String,
        /// The family.
        revoked: RevokedFamily,
    },
    /// Everything of a subject ("log out everywhere", operator actions):
    /// its families, and a mark refusing its tokens without a family issued
    /// before `before`.
    Subject {
        /// The subject.
        sub: String,
        /// Its families, revoked.
        families: Vec<FamilyExpiry>,
        /// The mark.
        before: i64,
    },
    /// An account disabled (every token refused) or enabled again.
    Account {
        /// The subject.
        sub: String,
        /// Whether it is disabled now.
        disabled: bool,
    },
}

impl Committed {
    /// The events that close the live sockets it revokes.
    pub fn events(&self) -> Vec<RevocationEvent> {
        match self {
            Self::Tokens(tokens) if tokens.is_empty() => Vec::new(),
            Self::Tokens(tokens) => vec![RevocationEvent::Tokens(jtis(tokens))],
            Self::Family { sub, revoked } => {
                let mut events = vec![RevocationEvent::Sessions {
                    sub: sub.clone(),
                    sessions: vec![revoked.family.id.clone()],
                }];
                if !revoked.legacy_tokens.is_empty() {
                    events.push(RevocationEvent::Tokens(jtis(&revoked.legacy_tokens)));
                }
                events
            }
            Self::Subject { sub, .. } => vec![RevocationEvent::everything_of(sub.as_str())],
            // Disabling comes with a subject revocation, which closes them.
            Self::Account { .. } => Vec::new(),
        }
    }

    fn note_in(&self, mirror: &StoredRevocations) {
        match self {
            Self::Tokens(tokens) => mirror.note_tokens(tokens),
            Self::Family { revoked, .. } => {
                mirror.note_families(std::slice::from_ref(&revoked.family));
                mirror.note_tokens(&revoked.legacy_tokens);
            }
            Self::Subject { sub, families, before } => {
                mirror.note_families(families);
                mirror.note_subject_mark(sub, *before);
            }
            Self::Account { sub, disabled } => mirror.note_disabled(sub, *disabled),
        }
    }
}

fn jtis(tokens: &[RevokedToken]) -> Vec<String> {
    tokens.iter().map(|token| token.jti.clone()).collect()
}

/// The other nodes of a cluster, as this node tells them what it revoked.
#[async_trait]
pub trait Peers: Send + Sync + 'static {
    /// Makes `change` known to every other node (its facts, for their
    /// handshakes; its `events`, for their live sockets). Returns once they
    /// are stored; an error means some may not be.
    async fn share(&self, change: &Committed, events: &[RevocationEvent])
    -> Result<(), StoreError>;
}

/// A single node: no one else to tell.
#[derive(Debug, Clone, Copy)]
pub struct NoPeers;

#[async_trait]
impl Peers for NoPeers {
    async fn share(&self, _: &Committed, _: &[RevocationEvent]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Applies committed revocations to this process and shares them.
#[derive(Clone)]
pub struct Propagation {
    here: Inbound,
    peers: Arc<dyn Peers>,
}

impl Propagation {
    /// Revocations go to the mirror and sockets of `here`, and to `peers`.
    pub fn new(here: Inbound, peers: Arc<dyn Peers>) -> Self {
        Self { here, peers }
    }

    /// A change this process committed: mirrored, its sockets closed here,
    /// then shared with the other nodes. Never fails: the database has it.
    pub async fn committed(&self, change: Committed) {
        change.note_in(&self.here.mirror);
        let events = change.events();
        for event in &events {
            self.here.live.notify(event);
        }
        if let Err(e) = self.peers.share(&change, &events).await {
            tracing::warn!(
                error = %e,
                "a revocation is in the database but could not be shared through Redis; the \
                 other nodes learn it from the revocation log within a second"
            );
        }
    }
}
