//! Revocations across processes: a bus carries each [`RevocationEvent`] to
//! every node of a cluster, so that a logout on one node closes the sockets
//! another node holds. The library knows no transport; backend crates (for
//! example `wsauth-redis`) implement [`RevocationBus`].
//!
//! The node that revokes notifies its own [`LiveSessions`](crate::LiveSessions)
//! itself and publishes the event for the others; each node's subscriber
//! hands what it receives to its registry with
//! [`LiveSessions::notify`](crate::LiveSessions::notify).

use async_trait::async_trait;

use crate::{RevocationEvent, StoreError};

/// Whether a node's view of revocations made elsewhere is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusState {
    /// Subscribed: every event published from now on reaches this node.
    Current,
    /// Not subscribed (the connection is down or being re-established):
    /// events published meanwhile may be missed.
    Behind,
}

/// Publishes revocation events to every node.
#[async_trait]
pub trait RevocationBus: Send + Sync + 'static {
    /// Sends `event` to every subscribed node. Returns once the transport
    /// has accepted it; an error means it may not have reached any node.
    async fn publish(&self, event: &RevocationEvent) -> Result<(), StoreError>;

    /// Whether this node currently receives what others publish.
    fn state(&self) -> BusState;
}
