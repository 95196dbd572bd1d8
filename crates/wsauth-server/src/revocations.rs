//! Revocations in the database ([`RevocationLog`]), mirrored in memory so
//! that a handshake never waits on the database. Writes go to the database
//! first, then to the mirror. What this process revokes reaches its mirror
//! at once; what other processes change reaches it through the events they
//! record (`watch.rs`) or at the next start, when the mirror is loaded whole.
//!
//! A token is revoked when its `jti` is, when its family (`sid`) is, or, for
//! a token this server did not issue (no `sid`), when its subject's mark
//! covers its `iat`. Tokens this server issued are judged by their family
//! alone, so a login right after "log out everywhere", even within the same
//! second, keeps working. A disabled account's subject is refused outright,
//! whatever the token.

use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use wsauth::{Claims, RevocationEvent, RevocationStore, SharedClock, StoreError};

use crate::store::{AccountState, FamilyExpiry, RevocationLog, RevokedToken, SubjectMark};

/// A [`RevocationStore`] that survives restarts, on any [`RevocationLog`].
pub struct StoredRevocations {
    log: Arc<dyn RevocationLog>,
    clock: SharedClock,
    mirror: RwLock<Mirror>,
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
    pub async fn load(log: Arc<dyn RevocationLog>, clock: SharedClock) -> Result<Self, StoreError> {
        let stored = log.snapshot(clock.now()).await?;
        let mirror = Mirror {
            tokens: stored.tokens.into_iter().map(|t| (t.jti, t.exp)).collect(),
            families: stored.families.into_iter().map(|f| (f.id, f.expires_at)).collect(),
            subjects: stored.subjects.into_iter().map(|m| (m.sub, m.before)).collect(),
            disabled: stored.disabled.into_iter().collect(),
        };
        Ok(Self { log, clock, mirror: RwLock::new(mirror) })
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
    pub async fn reload_subject(&self, sub: &str) -> Result<(), StoreError> {
        let stored = self.log.subject(sub, self.clock.now()).await?;
        self.note_families(&stored.families);
        if let Some(before) = stored.mark {
            self.note_subject_mark(sub, before);
        }
        self.note_disabled(sub, stored.account == AccountState::Disabled);
        Ok(())
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
            if mirror.families.insert(family.id.clone(), family.expires_at).is_none() {
                events
                    .push(RevocationEvent::Sessions { sub: family.sub, sessions: vec![family.id] });
            }
        }
        // A mark closes the subject's sockets with an older `iat`; one of a
        // login made in the mark's own second is closed too (its client
        // reconnects and is let in: its family is not revoked).
        for mark in stored.subjects {
            let before = mirror.subjects.entry(mark.sub.clone()).or_insert(i64::MIN);
            if mark.before > *before {
                *before = mark.before;
                events.push(RevocationEvent::Subject { sub: mark.sub, before: mark.before });
            }
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
        let mirror = self.mirror.read().unwrap_or_else(PoisonError::into_inner);
        if mirror.tokens.contains_key(&claims.jti) || mirror.disabled.contains(&claims.sub) {
            return Ok(true);
        }
        Ok(match &claims.sid {
            Some(family) => mirror.families.contains_key(family),
            None => mirror.subjects.get(&claims.sub).is_some_and(|before| claims.iat < *before),
        })
    }
}
