//! Refresh handles: the name a client gives its proxied socket
//! (`?wsauth_handle=`) so that `POST /auth/proxy/refresh` can move that
//! socket to a new access token without a byte on the socket itself.
//!
//! A handle is found only together with the subject of the token that
//! presents it, and is kept as a SHA-256 digest, so neither a lookup's
//! timing nor a memory dump gives it away; a handle alone extends nothing.

use aws_lc_rs::digest::{SHA256, digest};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use wsauth::{AuthError, Claims, SessionBinding};

use super::settings::ProxyCheck;

/// Shortest and longest handle: at least 128 bits of base64url.
const HANDLE_LEN: std::ops::RangeInclusive<usize> = 22..=128;

/// A socket's deadline in Unix milliseconds, shared by its relay (which
/// checks every frame against it) and the refresh route (which moves it).
#[derive(Debug, Clone)]
pub(crate) struct Deadline(Arc<AtomicI64>);

impl Deadline {
    pub(crate) fn new(unix_secs: i64) -> Self {
        Self(Arc::new(AtomicI64::new(unix_secs.saturating_mul(1000))))
    }

    pub(crate) fn set(&self, unix_secs: i64) {
        self.0.store(unix_secs.saturating_mul(1000), Ordering::Release);
    }

    pub(crate) fn passed(&self, now_ms: i64) -> bool {
        now_ms >= self.0.load(Ordering::Acquire)
    }
}

/// What a handle leads to.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub(crate) binding: SessionBinding,
    pub(crate) deadline: Deadline,
    /// The route's check, which every token the socket moves to must meet.
    pub(crate) check: ProxyCheck,
}

impl Bound {
    /// Whether the socket may move to `claims`: on a `fresh` route only a
    /// fresh token, the one its handshake required
    /// (`fresh_token_required` otherwise, as that handshake answers).
    pub(crate) fn admits(&self, claims: &Claims) -> Result<(), AuthError> {
        match self.check {
            ProxyCheck::Fresh if !claims.is_fresh() => Err(AuthError::FreshTokenRequired),
            ProxyCheck::Access | ProxyCheck::Fresh | ProxyCheck::Optional => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    sub: String,
    digest: [u8; 32],
}

impl Key {
    fn new(sub: &str, handle: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, handle.as_bytes()).as_ref());
        Self { sub: sub.to_owned(), digest: out }
    }
}

/// Every proxied socket that has a handle. One entry per such socket, so
/// bounded as sockets are (per user and in all). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefreshHandles {
    inner: Arc<Mutex<HashMap<Key, Bound>>>,
}

/// Why a handle was refused at the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleRefused {
    /// Not 22 to 128 characters of `A-Z a-z 0-9 - _`.
    Malformed,
    /// The subject already has a live socket with this handle.
    InUse,
}

impl RefreshHandles {
    /// Whether `handle` has the accepted form.
    pub(crate) fn well_formed(handle: &str) -> bool {
        HANDLE_LEN.contains(&handle.len())
            && handle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// Names a socket of `sub`; the name is released when the lease drops.
    pub(crate) fn claim(
        &self,
        sub: &str,
        handle: &str,
        bound: Bound,
    ) -> Result<HandleLease, HandleRefused> {
        if !Self::well_formed(handle) {
            return Err(HandleRefused::Malformed);
        }
        let key = Key::new(sub, handle);
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if map.contains_key(&key) {
            return Err(HandleRefused::InUse);
        }
        map.insert(key.clone(), bound);
        Ok(HandleLease { handles: self.clone(), key })
    }

    /// The socket `sub` named `handle`, if it is still open.
    pub(crate) fn find(&self, sub: &str, handle: &str) -> Option<Bound> {
        if !Self::well_formed(handle) {
            return None;
        }
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&Key::new(sub, handle)).cloned()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A claimed handle; dropping it (when the socket ends) frees the name.
#[derive(Debug)]
pub(crate) struct HandleLease {
    handles: RefreshHandles,
    key: Key,
}

impl Drop for HandleLease {
    fn drop(&mut self) {
        let mut map = self.handles.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsauth::{Claims, LiveConfig, LiveSessions, ManualClock};

    fn claims(sub: &str) -> Claims {
        wsauth_testkit::claims(sub, "j", 0, 100)
    }

    #[test]
    fn a_handle_is_found_only_with_its_subject_and_freed_with_its_socket() {
        let live = LiveSessions::new(Arc::new(ManualClock::new(0)), 0, LiveConfig::default());
        let session = live.register(&claims("alice")).expect("registered");
        let handles = RefreshHandles::default();
        let handle = "abcdefghijklmnopqrstuvwxyz";
        let bound = Bound {
            binding: session.binding(),
            deadline: Deadline::new(100),
            check: ProxyCheck::Access,
        };
        let lease = handles.claim("alice", handle, bound.clone()).expect("claimed");
        assert!(handles.find("alice", handle).is_some());
        assert!(handles.find("bob", handle).is_none(), "another subject's token finds nothing");
        assert_eq!(handles.claim("alice", handle, bound.clone()).err(), Some(HandleRefused::InUse));
        assert_eq!(handles.claim("alice", "short", bound).err(), Some(HandleRefused::Malformed));
        drop(lease);
        assert!(handles.find("alice", handle).is_none());
        assert_eq!(handles.len(), 0);
    }

    #[test]
    fn handles_are_base64url_of_at_least_128_bits() {
        assert!(RefreshHandles::well_formed(&"a".repeat(22)));
        assert!(!RefreshHandles::well_formed(&"a".repeat(21)));
        assert!(!RefreshHandles::well_formed(&"a".repeat(129)));
        assert!(!RefreshHandles::well_formed("abcdefghijklmnopqrstuv+"));
    }
}
