//! [`MemoryTicketStore`]: the [`TicketStore`] of one process.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

use super::{StoredTicket, TicketAdmission, TicketDigest, TicketStore};
use crate::revocation::StoreError;
use crate::{Claims, Clock, SharedClock, SystemClock};

/// An in-memory ticket store for one process; expired tickets are purged as
/// new ones arrive, so its size is bounded by the tickets still alive.
#[derive(Default)]
pub struct MemoryTicketStore {
    inner: Mutex<Tickets>,
    clock: Option<SharedClock>,
}

#[derive(Default)]
struct Tickets {
    map: HashMap<TicketDigest, StoredTicket>,
    /// Each subject's outstanding tickets: digest and expiry (Unix ms).
    by_sub: HashMap<String, Vec<(TicketDigest, i64)>>,
    purge_at: usize,
}

impl Tickets {
    fn forget(&mut self, sub: &str, digest: &TicketDigest) {
        if let Some(held) = self.by_sub.get_mut(sub) {
            held.retain(|(d, _)| d != digest);
            if held.is_empty() {
                self.by_sub.remove(sub);
            }
        }
    }
}

impl std::fmt::Debug for MemoryTicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTicketStore").finish_non_exhaustive()
    }
}

impl MemoryTicketStore {
    /// An empty store that decides which tickets have expired by the system clock.
    #[must_use]
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

    fn now_millis(&self) -> i64 {
        self.clock.as_ref().map_or_else(|| SystemClock.now_millis(), |c| c.now_millis())
    }
}

#[async_trait]
impl TicketStore for MemoryTicketStore {
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
        max_per_subject: usize,
    ) -> Result<TicketAdmission, StoreError> {
        let now = self.now_millis();
        let mut guard = self.lock();
        let tickets = &mut *guard;
        let held = tickets.by_sub.entry(claims.sub.clone()).or_default();
        for (d, _) in held.iter().filter(|(_, exp)| *exp <= now) {
            tickets.map.remove(d);
        }
        held.retain(|(_, exp)| *exp > now);
        if held.len() >= max_per_subject {
            return Ok(TicketAdmission::SubjectFull);
        }
        held.push((digest, expires_at));
        tickets.map.insert(digest, StoredTicket { claims, expires_at });
        if tickets.map.len() >= tickets.purge_at {
            let expired: Vec<(String, TicketDigest)> = tickets
                .map
                .iter()
                .filter(|(_, ticket)| ticket.expires_at <= now)
                .map(|(d, ticket)| (ticket.claims.sub.clone(), *d))
                .collect();
            for (sub, d) in expired {
                tickets.map.remove(&d);
                tickets.forget(&sub, &d);
            }
            tickets.purge_at = (tickets.map.len() * 2).max(1024);
        }
        Ok(TicketAdmission::Stored)
    }

    async fn take(&self, digest: &TicketDigest) -> Result<Option<StoredTicket>, StoreError> {
        let mut tickets = self.lock();
        let taken = tickets.map.remove(digest);
        if let Some(ticket) = &taken {
            tickets.forget(&ticket.claims.sub, digest);
        }
        Ok(taken)
    }
}
