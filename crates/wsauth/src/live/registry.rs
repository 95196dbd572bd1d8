//! The registry of live sockets ([`LiveSessions`]): each entry is a socket's
//! subject, token id, session and deadline; one reaper task sleeps until the
//! earliest deadline and ends what has expired, and [`LiveSessions::notify`]
//! ends what a revocation names. A socket's handle on its entry is a
//! [`LiveSession`] (`session.rs`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

use super::{Ended, LiveConfig, LiveSession, RevocationEvent};
use crate::{AuthError, Claims, SharedClock, close_code};

/// Why the registry ends a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kick {
    /// The close code.
    pub code: u16,
    /// The close reason.
    pub reason: &'static str,
}

pub(super) const EXPIRED: Kick = Kick { code: close_code::TOKEN_EXPIRED, reason: "token expired" };
pub(super) const REVOKED: Kick = Kick { code: close_code::TOKEN_REVOKED, reason: "token revoked" };

impl Kick {
    /// How a failed revocation check ends a live socket: 4003 when the token
    /// is revoked; 1013 (try again later) when the store could not answer,
    /// which must never tell a client to stop for good.
    pub(crate) fn refused(error: &AuthError) -> Self {
        match error {
            AuthError::Unavailable => Self {
                code: close_code::TRY_AGAIN_LATER,
                reason: "revocation store unavailable; try again later",
            },
            _ => REVOKED,
        }
    }
}

/// The registry of live sockets. Cheap to clone.
#[derive(Clone)]
pub struct LiveSessions {
    pub(super) inner: Arc<Registry>,
}

impl std::fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSessions").field("live", &self.len()).finish_non_exhaustive()
    }
}

pub(super) struct Registry {
    state: Mutex<State>,
    clock: SharedClock,
    leeway_secs: i64,
    config: LiveConfig,
    pub(super) wake: Arc<Notify>,
    reaper_started: std::sync::Once,
}

#[derive(Default)]
pub(super) struct State {
    next_id: u64,
    pub(super) sessions: HashMap<u64, Entry>,
    by_sub: HashMap<String, Vec<u64>>,
    pub(super) by_jti: HashMap<String, Vec<u64>>,
    pub(super) deadlines: BTreeSet<(i64, u64)>,
}

/// One registered socket: what revocations and its deadline are matched on.
pub(super) struct Entry {
    pub(super) sub: String,
    pub(super) jti: String,
    pub(super) sid: Option<String>,
    pub(super) iat: i64,
    pub(super) deadline_ms: i64,
    /// Taken when the registry ends the socket.
    pub(super) kick: Option<oneshot::Sender<Ended>>,
}

impl State {
    /// Ends socket `id` (once): its deadline is forgotten and its
    /// [`LiveSession`] learns why.
    pub(super) fn kick(&mut self, id: u64, kick: Kick) {
        if let Some(entry) = self.sessions.get_mut(&id) {
            self.deadlines.remove(&(entry.deadline_ms, id));
            if let Some(tx) = entry.kick.take() {
                let _ = tx.send(Ended::now(kick));
            }
        }
    }

    /// Removes socket `id` from the subject and token indexes.
    pub(super) fn unindex(&mut self, id: u64, sub: &str, jti: &str) {
        for (map, key) in [(&mut self.by_sub, sub), (&mut self.by_jti, jti)] {
            if let Some(ids) = map.get_mut(key) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    map.remove(key);
                }
            }
        }
    }
}

impl LiveSessions {
    /// A registry deciding expiry with `clock`; `leeway_secs` is the token
    /// verification leeway, so a socket lives exactly as long as its token
    /// would still verify, plus the configured grace.
    pub fn new(clock: SharedClock, leeway_secs: i64, config: LiveConfig) -> Self {
        Self {
            inner: Arc::new(Registry {
                state: Mutex::new(State::default()),
                clock,
                leeway_secs,
                config,
                wake: Arc::new(Notify::new()),
                reaper_started: std::sync::Once::new(),
            }),
        }
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &LiveConfig {
        &self.inner.config
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many sockets are live.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no socket is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many sockets `sub` holds.
    pub fn count_for(&self, sub: &str) -> usize {
        self.lock().by_sub.get(sub).map_or(0, Vec::len)
    }

    /// The deadline (Unix seconds) of a socket bound to these claims: it is
    /// closed at `exp + leeway + grace`, the instant its token stops verifying
    /// (plus the grace), and never later than the instant the key that signed
    /// it stops being trusted (`key_valid_until + 1`).
    #[must_use]
    pub fn deadline_for(&self, claims: &Claims) -> i64 {
        let by_exp = claims
            .exp
            .saturating_add(self.inner.leeway_secs)
            .saturating_add(self.inner.config.expiry_grace_secs);
        claims.key_valid_until.map_or(by_exp, |until| by_exp.min(until.saturating_add(1)))
    }

    /// Registers a socket bound to `claims`; refuses with 429 when the
    /// subject already holds the most sockets allowed.
    pub fn register(&self, claims: &Claims) -> Result<LiveSession, AuthError> {
        self.start_reaper();
        let (tx, rx) = oneshot::channel();
        let deadline_ms = self.deadline_for(claims).saturating_mul(1000);
        let mut state = self.lock();
        let held = state.by_sub.get(&claims.sub).map_or(0, Vec::len);
        if held >= self.inner.config.max_connections_per_user {
            return Err(AuthError::TooManyRequests { retry_after: 5 });
        }
        state.next_id += 1;
        let id = state.next_id;
        let earliest = state.deadlines.first().map(|(d, _)| *d);
        state.deadlines.insert((deadline_ms, id));
        state.by_sub.entry(claims.sub.clone()).or_default().push(id);
        state.by_jti.entry(claims.jti.clone()).or_default().push(id);
        state.sessions.insert(
            id,
            Entry {
                sub: claims.sub.clone(),
                jti: claims.jti.clone(),
                sid: claims.sid.clone(),
                iat: claims.iat,
                deadline_ms,
                kick: Some(tx),
            },
        );
        drop(state);
        if earliest.is_none_or(|e| deadline_ms < e) {
            self.inner.wake.notify_one();
        }
        Ok(LiveSession::new(id, Arc::downgrade(&self.inner), rx))
    }

    /// Ends every socket a revocation applies to, with 4003.
    pub fn notify(&self, event: &RevocationEvent) {
        let mut state = self.lock();
        let ids: Vec<u64> = match event {
            RevocationEvent::Tokens(jtis) => {
                jtis.iter().filter_map(|jti| state.by_jti.get(jti)).flatten().copied().collect()
            }
            RevocationEvent::Sessions { sub, sessions } => state
                .by_sub
                .get(sub)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| {
                    state.sessions.get(id).is_some_and(|e| {
                        e.sid.as_ref().is_some_and(|sid| sessions.iter().any(|s| s == sid))
                    })
                })
                .collect(),
            RevocationEvent::Subject { sub, before } => state
                .by_sub
                .get(sub)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| state.sessions.get(id).is_some_and(|e| e.iat < *before))
                .collect(),
        };
        for id in ids {
            state.kick(id, REVOKED);
        }
    }

    /// Ends every socket whose deadline has passed at `now_ms`, with 4001;
    /// returns the next deadline, if any.
    pub(super) fn sweep(&self, now_ms: i64) -> Option<i64> {
        let mut state = self.lock();
        while let Some(&(deadline, id)) = state.deadlines.first() {
            if deadline > now_ms {
                return Some(deadline);
            }
            state.kick(id, EXPIRED);
        }
        None
    }

    fn start_reaper(&self) {
        self.inner.reaper_started.call_once(|| {
            if tokio::runtime::Handle::try_current().is_ok() {
                tokio::spawn(reaper(Arc::downgrade(&self.inner)));
            }
        });
    }
}

/// The one task that enforces every deadline: it sleeps until the earliest
/// one, or until a nearer deadline is registered, or the clock jumps.
async fn reaper(registry: Weak<Registry>) {
    loop {
        let Some(inner) = registry.upgrade() else { return };
        let wake = inner.wake.clone();
        let jumped = inner.clock.changed();
        let now = inner.clock.now_millis();
        let next = LiveSessions { inner }.sweep(now);
        let wait = next.map_or(Duration::from_secs(3600), |d| {
            Duration::from_millis(u64::try_from(d.saturating_sub(now)).unwrap_or(0))
        });
        let jumped = async move {
            match jumped {
                Some(change) => change.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
            () = jumped => {}
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::test_claims::claims;

    pub(in crate::live) fn registry(max_per_user: usize) -> LiveSessions {
        let config = LiveConfig { max_connections_per_user: max_per_user, ..LiveConfig::default() };
        LiveSessions::new(Arc::new(ManualClock::new(0)), 0, config)
    }

    #[test]
    fn sweep_kicks_exactly_the_expired_sockets_with_4001() {
        let live = registry(16);
        let mut early = live.register(&claims("a", "j1", 0, 10)).unwrap();
        let mut late = live.register(&claims("b", "j2", 0, 20)).unwrap();
        assert_eq!(live.sweep(9_999), Some(10_000));
        assert!(early.kicked().try_recv().is_err());
        assert_eq!(live.sweep(10_000), Some(20_000));
        assert_eq!(early.kicked().try_recv().unwrap().kick, EXPIRED);
        assert!(late.kicked().try_recv().is_err());
    }

    #[test]
    fn revocation_events_kick_by_jti_and_by_subject_mark() {
        let live = registry(16);
        let mut a1 = live.register(&claims("a", "j1", 100, 1000)).unwrap();
        let mut a2 = live.register(&claims("a", "j2", 200, 1000)).unwrap();
        let mut b = live.register(&claims("b", "j3", 100, 1000)).unwrap();
        live.notify(&RevocationEvent::Tokens(vec!["j1".into()]));
        assert_eq!(a1.kicked().try_recv().unwrap().kick, REVOKED);
        assert!(a2.kicked().try_recv().is_err());
        live.notify(&RevocationEvent::Subject { sub: "a".into(), before: 150 });
        assert!(a2.kicked().try_recv().is_err(), "issued after the mark");
        live.notify(&RevocationEvent::Subject { sub: "a".into(), before: 201 });
        assert_eq!(a2.kicked().try_recv().unwrap().kick, REVOKED);
        assert!(b.kicked().try_recv().is_err());
    }

    #[test]
    fn session_events_kick_the_sessions_sockets_and_everything_of_kicks_all() {
        let live = registry(16);
        let with_sid = |jti: &str, sid: &str, iat: i64| Claims {
            sid: Some(sid.into()),
            ..claims("a", jti, iat, 1000)
        };
        let mut s1 = live.register(&with_sid("j1", "fam-1", 100)).unwrap();
        let mut s2 = live.register(&with_sid("j2", "fam-2", 100)).unwrap();
        let mut future = live.register(&with_sid("j3", "fam-3", 900)).unwrap();
        let mut other = live.register(&claims("b", "j4", 100, 1000)).unwrap();
        live.notify(&RevocationEvent::Sessions { sub: "a".into(), sessions: vec!["fam-1".into()] });
        assert_eq!(s1.kicked().try_recv().unwrap().kick, REVOKED);
        assert!(s2.kicked().try_recv().is_err());
        live.notify(&RevocationEvent::everything_of("a"));
        assert_eq!(s2.kicked().try_recv().unwrap().kick, REVOKED);
        assert_eq!(future.kicked().try_recv().unwrap().kick, REVOKED, "whatever its iat");
        assert!(other.kicked().try_recv().is_err());
    }

    #[test]
    fn a_socket_never_outlives_the_key_that_signed_its_token() {
        let live = registry(16);
        let rotated_out = Claims { key_valid_until: Some(499), ..claims("a", "j1", 0, 1000) };
        assert_eq!(live.deadline_for(&rotated_out), 500);
        assert_eq!(live.deadline_for(&claims("a", "j2", 0, 1000)), 1000);
        let mut s = live.register(&rotated_out).unwrap();
        assert_eq!(live.sweep(499_999), Some(500_000));
        assert!(s.kicked().try_recv().is_err());
        live.sweep(500_000);
        assert_eq!(s.kicked().try_recv().unwrap().kick, EXPIRED);
    }

    #[test]
    fn per_user_cap_and_unregister_on_drop() {
        let live = registry(2);
        let first = live.register(&claims("a", "j1", 0, 10)).unwrap();
        let _second = live.register(&claims("a", "j2", 0, 10)).unwrap();
        assert!(matches!(
            live.register(&claims("a", "j3", 0, 10)),
            Err(AuthError::TooManyRequests { .. })
        ));
        assert!(live.register(&claims("b", "j4", 0, 10)).is_ok());
        drop(first);
        assert_eq!(live.count_for("a"), 1);
        assert!(live.register(&claims("a", "j5", 0, 10)).is_ok());
        assert_eq!(live.sweep(0), Some(10_000));
    }
}
