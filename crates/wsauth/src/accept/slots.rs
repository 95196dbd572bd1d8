//! A pool of places shared fairly among clients: at most `total` in all, and
//! at most `per_client` for one [`ClientKey`], so one address (or one IPv6
//! /64) cannot take every place. Used for sockets awaiting a first-message
//! auth frame; servers use it for connections too.
//!
//! ```
//! use wsauth::ClientKey;
//! use wsauth::accept::{ClientSlots, SlotsFull};
//! let slots = ClientSlots::new(3, 2);
//! let a = ClientKey::from(std::net::IpAddr::from([192, 0, 2, 1]));
//! let first = slots.try_acquire(Some(a)).unwrap();
//! let _second = slots.try_acquire(Some(a)).unwrap();
//! assert_eq!(slots.try_acquire(Some(a)).unwrap_err(), SlotsFull::Client);
//! drop(first);
//! assert!(slots.try_acquire(Some(a)).is_ok());
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ClientKey;

/// Places shared fairly among clients. Cheap to clone (clones share the pool).
#[derive(Debug, Clone)]
pub struct ClientSlots {
    pool: Arc<Pool>,
}

#[derive(Debug)]
struct Pool {
    total: usize,
    per_client: usize,
    used: Mutex<Used>,
}

/// Places in use: in all, and per client. A client with none has no entry,
/// so the map never holds more entries than there are places.
#[derive(Debug, Default)]
struct Used {
    total: usize,
    by_client: HashMap<ClientKey, usize>,
}

/// Which bound a refused acquisition hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotsFull {
    /// Every place is taken.
    Total,
    /// This client holds its whole share.
    Client,
}

/// One place in a [`ClientSlots`] pool, given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    pool: Arc<Pool>,
    client: Option<ClientKey>,
}

impl ClientSlots {
    /// `total` places in all, at most `per_client` of them for one client.
    #[must_use]
    pub fn new(total: usize, per_client: usize) -> Self {
        Self { pool: Arc::new(Pool { total, per_client, used: Mutex::default() }) }
    }

    /// Takes a place for `client`. `None` (a client whose address is not
    /// known, or one that stands for many, such as a trusted proxy) counts
    /// against the total only.
    pub fn try_acquire(&self, client: Option<ClientKey>) -> Result<ClientSlot, SlotsFull> {
        let mut used = self.pool.used.lock().unwrap_or_else(PoisonError::into_inner);
        if used.total >= self.pool.total {
            return Err(SlotsFull::Total);
        }
        if let Some(key) = client {
            if used.by_client.get(&key).copied().unwrap_or(0) >= self.pool.per_client {
                return Err(SlotsFull::Client);
            }
            *used.by_client.entry(key).or_insert(0) += 1;
        }
        used.total += 1;
        Ok(ClientSlot { pool: self.pool.clone(), client })
    }

    /// Places taken now.
    pub fn in_use(&self) -> usize {
        self.pool.used.lock().unwrap_or_else(PoisonError::into_inner).total
    }

    /// The most places in all.
    #[must_use]
    pub fn total(&self) -> usize {
        self.pool.total
    }

    /// The most places one client may hold.
    #[must_use]
    pub fn per_client(&self) -> usize {
        self.pool.per_client
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut used = self.pool.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.total = used.total.saturating_sub(1);
        if let Some(key) = self.client
            && let Some(held) = used.by_client.get_mut(&key)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                used.by_client.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn key(s: &str) -> Option<ClientKey> {
        Some(ClientKey::from(s.parse::<IpAddr>().expect("ip")))
    }

    #[test]
    fn one_client_gets_its_share_and_others_the_rest() {
        let slots = ClientSlots::new(4, 2);
        let held: Vec<_> =
            (0..2).map(|_| slots.try_acquire(key("192.0.2.1")).expect("share")).collect();
        assert_eq!(slots.try_acquire(key("192.0.2.1")).unwrap_err(), SlotsFull::Client);
        // Another address in the same IPv6 /64 is the same client.
        let _v6 = slots.try_acquire(key("2001:db8::1")).expect("v6");
        let _v6b = slots.try_acquire(key("2001:db8::2")).expect("v6");
        assert_eq!(slots.try_acquire(key("2001:db8::3")).unwrap_err(), SlotsFull::Total);
        drop(held);
        assert_eq!(slots.in_use(), 2);
        assert_eq!(slots.try_acquire(key("2001:db8::3")).unwrap_err(), SlotsFull::Client);
        let _unkeyed = slots.try_acquire(None).expect("total only");
        assert_eq!(slots.in_use(), 3);
    }

    #[test]
    fn released_clients_leave_no_entry() {
        let slots = ClientSlots::new(8, 8);
        for i in 0..8u8 {
            drop(slots.try_acquire(Some(ClientKey::from(IpAddr::from([192, 0, 2, i])))));
        }
        assert_eq!(slots.in_use(), 0);
        let used = slots.pool.used.lock().expect("lock");
        assert!(used.by_client.is_empty());
    }
}
