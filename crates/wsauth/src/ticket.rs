//! One-time tickets: short-lived, single-use, consumed atomically.
//!
//! A ticket is 256 random bits handed to an authenticated client over HTTP,
//! then presented once as `?ticket=` on the WebSocket URL. The store keeps
//! only a SHA-256 digest of it, so lookups leak nothing through timing.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::revocation::StoreError;
use crate::{Claims, Clock, SharedClock, SystemClock};

/// The digest under which a ticket is stored.
pub type TicketDigest = [u8; 32];

/// Where tickets wait to be used. `take` must be atomic: of two concurrent
/// calls with the same digest, at most one gets the claims.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores the claims a ticket stands for, until `expires_at` (Unix ms).
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// Removes and returns the ticket's claims and expiry, if it exists.
    async fn take(&self, digest: &TicketDigest) -> Result<Option<(Claims, i64)>, StoreError>;
}

/// An in-memory ticket store for one process; expired tickets are purged as
/// new ones arrive, so its size is bounded by the tickets still alive.
#[derive(Default)]
pub struct MemoryTicketStore {
    inner: Mutex<Tickets>,
    clock: Option<SharedClock>,
}

#[derive(Default)]
struct Tickets {
    map: HashMap<TicketDigest, (Claims, i64)>,
    purge_at: usize,
}

impl std::fmt::Debug for MemoryTicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTicketStore").finish_non_exhaustive()
    }
}

impl MemoryTicketStore {
    /// An empty store that decides which tickets have expired by the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that decides which tickets have expired by `clock`.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self { clock: Some(clock), ..Self::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl TicketStore for MemoryTicketStore {
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tickets = self.lock();
        tickets.map.insert(digest, (claims, expires_at));
        if tickets.map.len() >= tickets.purge_at {
            let now =
                self.clock.as_ref().map_or_else(|| SystemClock.now_millis(), |c| c.now_millis());
            tickets.map.retain(|_, (_, exp)| *exp > now);
            tickets.purge_at = (tickets.map.len() * 2).max(1024);
        }
        Ok(())
    }

    async fn take(&self, digest: &TicketDigest) -> Result<Option<(Claims, i64)>, StoreError> {
        Ok(self.lock().map.remove(digest))
    }
}

/// The longest ticket string accepted.
pub(crate) const MAX_TICKET_LEN: usize = 64;

/// A new random ticket and its digest.
pub(crate) fn new_ticket() -> Result<(String, TicketDigest), StoreError> {
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
