//! Revocations in the database ([`RevocationLog`]), mirrored in memory so
//! that a handshake never waits on the database. Writes go to the database
//! first, then to the mirror. What this process revokes reaches its mirror
//! at once; what other processes commit reaches it through the event log
//! they record it in (`watch.rs` follows it), or at the next start, when the
//! mirror is loaded whole.
//!
//! The mirror is only as good as its last read of the log, so it answers
//! only while that read is recent: a check finds a token revoked from the
//! mirror alone, but a token the mirror does not know is refused with an
//! error (503 before an upgrade) once the last completed read of the log
//! started more than [`STALE_AFTER`] ago. A revocation committed anywhere
//! is therefore refused here within that time, whether this process could
//! read the log or not.
//!
//! A token is revoked when its `jti` is, when its family (`sid`) is, or, for
//! a token this server did not issue (no `sid`), when its subject's mark
//! covers its `iat`. Tokens this server issued are judged by their family
//! alone, so a login right after "log out everywhere", even within the same
//! second, keeps working. A disabled account's subject is refused outright,
//! whatever the token.

use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use wsauth::{Claims, RevocationEvent, RevocationStore, SharedClock, StoreError};

use crate::store::{AccountState, FamilyExpiry, RevocationLog, RevokedToken, SubjectMark};

/// How old the start of the mirror's last completed read of the event log
/// may be before checks of tokens it does not know fail (closed).
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// A [`RevocationStore`] that survives restarts, on any [`RevocationLog`].
pub struct StoredRevocations {
    log: Arc<dyn RevocationLog>,
    clock: SharedClock,
    mirror: RwLock<Mirror>,
    current: Currency,
}

/// When the mirror last caught up with the event log: milliseconds after
/// `since` at which the last completed read of the log started.
struct Currency {
    since: Instant,
    caught_up_ms: AtomicU64,
}

impl Currency {
    fn new() -> Self {
        Self { since: Instant::now(), caught_up_ms: AtomicU64::new(0) }
    }

    fn caught_up(&self, read_started: Instant) {
        let ms = read_started.saturating_duration_since(self.since).as_millis();
        self.caught_up_ms.fetch_max(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn is_current(&self) -> bool {
        let caught_up = Duration::from_millis(self.caught_up_ms.load(Ordering::Relaxed));
        self.since.elapsed() <= caught_up + STALE_AFTER
    }
}

/// What is revoked, each entry with the time after which it can be forgotten.
#[derive(Default)]
struct Mirror {
    tokens: HashMap<String, i64>,
    families: HashMap<String, i64>,
    subjects: HashMap<String, i64>,
    disabled: HashSet<String>,
}

impl StoredRevocations {
    /// Loads the revocations still in force.
    /// Read the id of the event log's latest entry first: every entry after
    /// it is to be applied on top of this snapshot.
    pub async fn load(log: Arc<dyn RevocationLog>, clock: SharedClock) -> Result<Self, StoreError> {
        let current = Currency::new();
        let stored = log.snapshot(clock.now()).await?;
        let mirror = Mirror {
            tokens: stored.tokens.into_iter().map(|t| (t.jti, t.exp)).collect(),
            families: stored.families.into_iter().map(|f| (f.id, f.expires_at)).collect(),
            subjects: stored.subjects.into_iter().map(|m| (m.sub, m.before)).collect(),
            disabled: stored.disabled.into_iter().collect(),
        };
        Ok(Self { log, clock, mirror: RwLock::new(mirror), current })
    }

    /// Notes that every entry of the event log committed before
    /// `read_started` has been applied.
    pub fn caught_up(&self, read_started: Instant) {
        self.current.caught_up(read_started);
    }

    /// Whether the mirror's last catch-up with the event log started within
    /// [`STALE_AFTER`].
    pub fn is_current(&self) -> bool {
        self.current.is_current()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Mirror> {
        self.mirror.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Revokes several tokens by `jti` in one transaction.
    pub async fn revoke_many(&self, tokens: &[RevokedToken]) -> Result<(), StoreError> {
        self.log.revoke_tokens(tokens).await?;
        self.note_tokens(tokens);
        Ok(())
    }

    /// Mirrors token revocations already committed to the database.
    pub fn note_tokens(&self, tokens: &[RevokedToken]) {
        if tokens.is_empty() {
            return;
        }
        let mut mirror = self.write();
        for token in tokens {
            mirror.tokens.insert(token.jti.clone(), token.exp);
        }
    }

    /// Mirrors family revocations already committed to the database.
    pub fn note_families(&self, families: &[FamilyExpiry]) {
        let mut mirror = self.write();
        for family in families {
            mirror.families.insert(family.id.clone(), family.expires_at);
        }
    }

    /// Mirrors a subject mark already committed to the database.
    pub fn note_subject_mark(&self, sub: &str, before: i64) {
        let mut mirror = self.write();
        let mark = mirror.subjects.entry(sub.to_owned()).or_insert(before);
        *mark = (*mark).max(before);
    }

    /// Mirrors whether an account is disabled (already committed).
    pub fn note_disabled(&self, sub: &str, disabled: bool) {
        let mut mirror = self.write();
        if disabled {
            mirror.disabled.insert(sub.to_owned());
        } else {
            mirror.disabled.remove(sub);
        }
    }

    /// Reloads everything stored about `sub` (its revoked families, its mark,
    /// whether it is disabled): for changes another process committed.
    /// Returns the events that close the sockets of what the mirror did not
    /// know yet.
    pub async fn reload_subject(&self, sub: &str) -> Result<Vec<RevocationEvent>, StoreError> {
        let stored = self.log.subject(sub, self.clock.now()).await?;
        let mut mirror = self.write();
        let mut events = Vec::new();
        let sessions: Vec<String> = stored
            .families
            .into_iter()
            .filter(|family| mirror.learn_family(family))
            .map(|family| family.id)
            .collect();
        if !sessions.is_empty() {
            events.push(RevocationEvent::Sessions { sub: sub.to_owned(), sessions });
        }
        if let Some(before) = stored.mark {
            events.extend(mirror.learn_mark(sub, before));
        }
        if stored.account == AccountState::Disabled {
            if mirror.disabled.insert(sub.to_owned()) {
                events.push(RevocationEvent::everything_of(sub));
            }
        } else {
            mirror.disabled.remove(sub);
        }
        Ok(events)
    }

    /// Reloads the revoked token `jti` (another process revoked it by id).
    /// Returns the event that closes its sockets, if the mirror did not know it.
    pub async fn reload_token(&self, jti: &str) -> Result<Vec<RevocationEvent>, StoreError> {
        let Some(token) = self.log.token(jti, self.clock.now()).await? else {
            return Ok(Vec::new());
        };
        let known = self.write().tokens.insert(token.jti.clone(), token.exp).is_some();
        Ok(if known { Vec::new() } else { vec![RevocationEvent::Tokens(vec![token.jti])] })
    }

    /// Reads every revocation still in force from the database again and
    /// adds it to the mirror (for a node that may have missed another
    /// node's news). Which accounts are disabled is taken as the database
    /// has it now. Returns the events that close the sockets of what the
    /// mirror did not know yet.
    pub async fn reload_all(&self) -> Result<Vec<RevocationEvent>, StoreError> {
        let stored = self.log.snapshot(self.clock.now()).await?;
        let mut mirror = self.write();
        let mut events = Vec::new();
        let tokens: Vec<String> = stored
            .tokens
            .into_iter()
            .filter_map(|t| mirror.tokens.insert(t.jti.clone(), t.exp).is_none().then_some(t.jti))
            .collect();
        if !tokens.is_empty() {
            events.push(RevocationEvent::Tokens(tokens));
        }
        for family in stored.families {
            let expiry = FamilyExpiry { id: family.id, expires_at: family.expires_at };
            if mirror.learn_family(&expiry) {
                events
                    .push(RevocationEvent::Sessions { sub: family.sub, sessions: vec![expiry.id] });
            }
        }
        for mark in stored.subjects {
            events.extend(mirror.learn_mark(&mark.sub, mark.before));
        }
        let disabled: HashSet<String> = stored.disabled.into_iter().collect();
        for sub in disabled.difference(&mirror.disabled) {
            events.push(RevocationEvent::everything_of(sub.as_str()));
        }
        mirror.disabled = disabled;
        Ok(events)
    }

    /// Forgets revocations of tokens and families that have expired anyway.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let purged = self.log.purge(now).await?;
        let mut mirror = self.write();
        mirror.tokens.retain(|_, exp| *exp >= now);
        mirror.families.retain(|_, expires_at| *expires_at >= now);
        Ok(purged)
    }
}

impl Mirror {
    /// Adds a revoked family; whether it was new.
    fn learn_family(&mut self, family: &FamilyExpiry) -> bool {
        self.families.insert(family.id.clone(), family.expires_at).is_none()
    }

    /// Raises `sub`'s mark to `before`; the event that closes its sockets
    /// when the mark rose. A mark closes the subject's sockets with an older
    /// `iat`; one of a login made in the mark's own second is closed too (its
    /// client reconnects and is let in: its family is not revoked).
    fn learn_mark(&mut self, sub: &str, before: i64) -> Option<RevocationEvent> {
        let mark = self.subjects.entry(sub.to_owned()).or_insert(i64::MIN);
        (before > *mark).then(|| {
            *mark = before;
            RevocationEvent::Subject { sub: sub.to_owned(), before }
        })
    }
}

#[async_trait]
impl RevocationStore for StoredRevocations {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.revoke_many(&[RevokedToken { jti: jti.to_owned(), exp }]).await
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        self.log.mark_subject(&SubjectMark { sub: sub.to_owned(), before }).await?;
        self.note_subject_mark(sub, before);
        Ok(())
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        let revoked = {
            let mirror = self.mirror.read().unwrap_or_else(PoisonError::into_inner);
            mirror.tokens.contains_key(&claims.jti)
                || mirror.disabled.contains(&claims.sub)
                || match &claims.sid {
                    Some(family) => mirror.families.contains_key(family),
                    None => {
                        mirror.subjects.get(&claims.sub).is_some_and(|before| claims.iat < *before)
                    }
                }
        };
        if !revoked && !self.is_current() {
            return Err(StoreError(
                "this node has not read the revocation log for over a second; refusing".into(),
            ));
        }
        Ok(revoked)
    }
}

/// Channels deliver nothing while the mirror is stale: a right taken away
/// on another node may not have reached this one.
impl wsauth::channels::Freshness for StoredRevocations {
    fn is_current(&self) -> bool {
        StoredRevocations::is_current(self)
    }
}
