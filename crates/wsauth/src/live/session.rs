//! [`LiveSession`]: a socket's handle on its registry entry. It learns why
//! the registry ended the socket, and leaves the registry when dropped;
//! its [`SessionBinding`] moves the socket to a refreshed token.

use std::sync::Weak;
use std::time::Instant;
use tokio::sync::oneshot;

use super::registry::{Kick, LiveSessions, Registry};
use crate::{AuthError, Claims, WsAuth, close_code};

/// One registered socket. Dropping it unregisters the socket.
#[derive(Debug)]
pub struct LiveSession {
    binding: SessionBinding,
    kicked: oneshot::Receiver<Ended>,
}

impl LiveSession {
    pub(super) fn new(id: u64, registry: Weak<Registry>, kicked: oneshot::Receiver<Ended>) -> Self {
        Self { binding: SessionBinding { id, registry }, kicked }
    }

    /// Whether the registry has ended this socket (its token expired or was
    /// revoked, here or, through a [`RevocationBus`](crate::cluster::RevocationBus),
    /// on another node). A [`LiveSocket`](crate::LiveSocket) then sends its close frame.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.binding.registry.upgrade().is_none_or(|inner| {
            let sessions = LiveSessions { inner };
            sessions.lock().sessions.get(&self.binding.id).is_none_or(|entry| entry.kick.is_none())
        })
    }

    /// Completes when the registry ends this socket (expiry or revocation),
    /// with when it did.
    pub(crate) fn kicked(&mut self) -> &mut oneshot::Receiver<Ended> {
        &mut self.kicked
    }

    /// This socket's binding, for a rebind by the socket itself (in-band refresh).
    pub(crate) fn binding_ref(&self) -> &SessionBinding {
        &self.binding
    }

    /// Completes when the registry ends this socket: 4001 at its deadline,
    /// 4003 on a revocation, 1001 if the registry itself is gone; with the
    /// instant it did. For callers that run a socket themselves (a relay)
    /// instead of through a [`LiveSocket`](crate::LiveSocket). Cancel-safe.
    pub async fn ended(&mut self) -> Ended {
        (&mut self.kicked).await.unwrap_or_else(|_| Ended::registry_gone())
    }

    /// A second handle on this socket's registration, for another task
    /// (an out-of-band refresh): it can rebind the socket to a new token,
    /// but does not keep it registered.
    #[must_use]
    pub fn binding(&self) -> SessionBinding {
        self.binding.clone()
    }
}

/// Why and when the registry ended a socket ([`LiveSession::ended`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ended {
    /// The close code and reason the socket is to be closed with.
    pub kick: Kick,
    /// When the registry ended it (for revocation-to-close latency).
    pub at: Instant,
}

impl Ended {
    pub(super) fn now(kick: Kick) -> Self {
        Self { kick, at: Instant::now() }
    }

    /// The registry itself is gone (the application is shutting down): 1001.
    pub(crate) fn registry_gone() -> Self {
        Self::now(Kick { code: close_code::GOING_AWAY, reason: "session ended" })
    }
}

/// Another task's handle on a registered socket (see
/// [`LiveSession::binding`]): it rebinds the socket to a new access token
/// of the same subject. Dropping it changes nothing.
#[derive(Debug, Clone)]
pub struct SessionBinding {
    id: u64,
    registry: Weak<Registry>,
}

/// Why [`SessionBinding::rebind`] did not move a socket to a new token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RebindError {
    /// The socket has closed, or the registry has already ended it.
    #[error("the socket has ended")]
    Ended,
    /// The token is for another subject than the socket's.
    #[error("the token is for another subject")]
    OtherSubject,
    /// The new token is revoked (the socket was ended with 4003), or its
    /// revocation could not be checked (ended with 1013, try again later),
    /// as a [`LiveSocket`](crate::LiveSocket) does.
    #[error(transparent)]
    Refused(AuthError),
}

impl SessionBinding {
    /// Binds the socket to `claims` (verified access-token claims of the
    /// socket's own subject): new `jti`, `sid`, `iat` and deadline. Then it
    /// checks the new token's revocation, rebound first as everywhere else,
    /// so a revocation landing in between ends the socket with 4003 (1013
    /// when the store cannot answer).
    /// Returns the new deadline in Unix seconds.
    pub async fn rebind(&self, auth: &WsAuth, claims: &Claims) -> Result<i64, RebindError> {
        let rebound = crate::handshake::rebind(auth, self, claims).await;
        if let Err(RebindError::Refused(e)) = &rebound
            && let Some(inner) = self.registry.upgrade()
        {
            LiveSessions { inner }.lock().kick(self.id, Kick::refused(e));
        }
        rebound
    }

    /// Moves the socket to `claims` of its own subject: new `jti`, `sid`,
    /// `iat` and deadline (Unix seconds, returned). Its revocation is the
    /// caller's to check next (`handshake::rebind`).
    pub(crate) fn move_to(&self, claims: &Claims) -> Result<i64, RebindError> {
        let inner = self.registry.upgrade().ok_or(RebindError::Ended)?;
        let sessions = LiveSessions { inner };
        let deadline = sessions.deadline_for(claims);
        let deadline_ms = deadline.saturating_mul(1000);
        let mut state = sessions.lock();
        // A socket already ended by the registry stays ended.
        let entry = state
            .sessions
            .get_mut(&self.id)
            .filter(|entry| entry.kick.is_some())
            .ok_or(RebindError::Ended)?;
        if entry.sub != claims.sub {
            return Err(RebindError::OtherSubject);
        }
        let (old_deadline, old_jti) = (entry.deadline_ms, std::mem::take(&mut entry.jti));
        entry.jti = claims.jti.clone();
        entry.sid = claims.sid.clone();
        entry.iat = claims.iat;
        entry.deadline_ms = deadline_ms;
        state.deadlines.remove(&(old_deadline, self.id));
        state.deadlines.insert((deadline_ms, self.id));
        if let Some(ids) = state.by_jti.get_mut(&old_jti) {
            ids.retain(|x| *x != self.id);
            if ids.is_empty() {
                state.by_jti.remove(&old_jti);
            }
        }
        state.by_jti.entry(claims.jti.clone()).or_default().push(self.id);
        drop(state);
        sessions.inner.wake.notify_one();
        Ok(deadline)
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let SessionBinding { id, registry } = &self.binding;
        let Some(inner) = registry.upgrade() else { return };
        let sessions = LiveSessions { inner };
        let mut state = sessions.lock();
        if let Some(entry) = state.sessions.remove(id) {
            state.deadlines.remove(&(entry.deadline_ms, *id));
            state.unindex(*id, &entry.sub, &entry.jti);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::REVOKED;
    use super::*;
    use crate::RevocationEvent;
    use crate::live::registry::tests::registry;
    use crate::test_claims::claims;

    #[test]
    fn rebind_moves_the_deadline_and_the_jti() {
        let live = registry(16);
        let mut s = live.register(&claims("a", "old", 0, 10)).unwrap();
        assert_eq!(s.binding().move_to(&claims("a", "new", 5, 100)), Ok(100));
        assert_eq!(live.sweep(50_000), Some(100_000));
        live.notify(&RevocationEvent::Tokens(vec!["old".into()]));
        assert!(s.kicked().try_recv().is_err(), "no longer bound to the old token");
        live.notify(&RevocationEvent::Tokens(vec!["new".into()]));
        assert_eq!(s.kicked().try_recv().unwrap().kick, REVOKED);
        let ended = s.binding().move_to(&claims("a", "newer", 6, 200));
        assert_eq!(ended, Err(RebindError::Ended), "an ended socket stays ended");
    }
}
