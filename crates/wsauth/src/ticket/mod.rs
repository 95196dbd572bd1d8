//! One-time tickets: short-lived, single-use, consumed atomically.
//!
//! A ticket is 256 random bits handed to an authenticated client over HTTP,
//! then presented once as `?ticket=` on the WebSocket URL. The store keeps
//! only a SHA-256 digest of it, so lookups leak nothing through timing.

mod issue;
mod memory;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Claims;
use crate::revocation::StoreError;

pub use memory::MemoryTicketStore;

/// The digest under which a ticket is stored.
pub type TicketDigest = [u8; 32];

/// Whether a ticket was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketAdmission {
    /// Stored; it can be redeemed once until it expires.
    Stored,
    /// Not stored: the subject already holds the most unredeemed, unexpired
    /// tickets allowed.
    SubjectFull,
}

/// Where tickets wait to be used. `take` must be atomic: of two concurrent
/// calls with the same digest, at most one gets the claims. `insert` must
/// count and store atomically, so concurrent inserts never exceed the cap.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores the claims a ticket stands for, until `expires_at` (Unix ms),
    /// unless `claims.sub` already holds `max_per_subject` tickets that are
    /// neither redeemed nor expired.
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
        max_per_subject: usize,
    ) -> Result<TicketAdmission, StoreError>;

    /// Removes and returns the ticket's claims and expiry, if it exists.
    async fn take(&self, digest: &TicketDigest) -> Result<Option<StoredTicket>, StoreError>;
}

/// What a stored ticket stands for, as [`TicketStore::take`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTicket {
    /// The access-token claims the ticket stands for.
    pub claims: Claims,
    /// When the ticket expires, Unix milliseconds.
    pub expires_at: i64,
}

/// A ticket handed to a client ([`WsAuth::issue_ticket`](crate::WsAuth::issue_ticket)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedTicket {
    /// The ticket, presented once as `?ticket=`.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// The longest ticket string accepted.
pub(crate) const MAX_TICKET_LEN: usize = 64;

/// A new random ticket and its digest.
fn new_ticket() -> Result<(String, TicketDigest), StoreError> {
    let bytes = crate::keys::random_bytes::<32>().map_err(|e| StoreError(e.to_string()))?;
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    let digest = digest(&ticket);
    Ok((ticket, digest))
}

/// The digest of a ticket string.
pub(crate) fn digest(ticket: &str) -> TicketDigest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ticket.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
