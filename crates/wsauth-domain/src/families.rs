//! Token families: every token one login issued carries the family's id as
//! its `sid` claim, and the family is one row however often it rotated.
//!
//! Rotation, reuse detection and revocation each run in one transaction
//! that holds the family's row under the database's lock
//! ([`FamilyStore::rotate`]: SQLite's write lock, PostgreSQL's row lock), so
//! they are ordered: a rotation either commits before a revocation (and its
//! new pair, carrying the same `sid`, is revoked with the family) or it sees
//! the family revoked and fails. The decision is made from the locked row
//! by `Families::judge`, which does no I/O. A failed transaction changes
//! nothing, so a client's retry is never mistaken for reuse. Only the
//! family's current refresh token rotates; an exact retry of the one just
//! rotated, within the grace window, gets the same new pair (two browser
//! tabs refreshing one cookie); any other reuse revokes the family.

use serde_json::{Map, Value};
use std::sync::Arc;
use wsauth::{AuthError, Claims, IssueOptions, IssuedToken, TokenAuthority, TokenKind};

use crate::accounts::VerifiedAccount;
use crate::error::DomainError;
use crate::mirror::StoredRevocations;
use crate::propagate::{Committed, Propagation};
use crate::store::{
    Bucket, Decision, FamilyInsertion, FamilyRow, FamilyStore, NewFamily, RevokedFamily,
    RevokedToken, Rotation,
};

/// A fresh pair from a login or a refresh.
pub struct TokenPair {
    /// The access token.
    pub access: IssuedToken,
    /// The refresh token.
    pub refresh: IssuedToken,
}

/// How a pair travels to the client: cookies add CSRF claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// In the response body, sent back as a bearer token.
    Bearer,
    /// In HttpOnly cookies, with CSRF double submit.
    Cookie,
}

/// Whether an access token comes straight from a password login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Fresh,
    Stale,
}

/// Rotation rules. Every field documents its default (`Config` sets them).
#[derive(Debug, Clone, Copy)]
pub struct RotationRules {
    /// How long an exact retry of a just-rotated refresh token gets the same
    /// pair, milliseconds (at most 10 s).
    pub grace_ms: i64,
    /// Refreshes per second per family, sustained; 0 switches the limit off.
    pub rate: f64,
    /// Refreshes per family in a burst.
    pub burst: f64,
}

/// Issues, rotates and revokes families of tokens.
#[derive(Clone)]
pub struct Families {
    store: Arc<dyn FamilyStore>,
    tokens: TokenAuthority,
    revocations: Arc<StoredRevocations>,
    propagation: Propagation,
    rules: RotationRules,
}

/// What a rotation answers the client.
type Verdict = Result<TokenPair, DomainError>;

const NOT_OURS: AuthError = AuthError::InvalidToken("Refresh token was not issued by this server");

impl Families {
    /// Families in this store, with this authority and revocations; what
    /// they revoke is applied and shared through `propagation`.
    pub fn new(
        store: Arc<dyn FamilyStore>,
        tokens: TokenAuthority,
        revocations: Arc<StoredRevocations>,
        propagation: Propagation,
        rules: RotationRules,
    ) -> Self {
        Self { store, tokens, revocations, propagation, rules }
    }

    /// Issues a pair for a password login: a new family, a fresh access token.
    /// The family is stored only if the account still has the generation
    /// its password was checked against; a login that an operator change
    /// overtook (a new password, a revoke, a deletion) answers as a wrong
    /// password would, one overtaken by a disable as a disabled account.
    pub async fn login(
        &self,
        account: &VerifiedAccount,
        transport: Transport,
    ) -> Result<TokenPair, DomainError> {
        let sub = account.username.as_str();
        let family = uuid::Uuid::new_v4().to_string();
        let pair = self.issue_pair(sub, &family, Freshness::Fresh, transport)?;
        let now_ms = self.tokens.clock().now_millis();
        let stored = self
            .store
            .insert(NewFamily {
                id: family,
                sub: sub.to_owned(),
                generation: account.generation.clone(),
                created_at: now_ms / 1000,
                expires_at: pair_expiry(&pair),
                current_refresh: pair.refresh.claims.jti.clone(),
                bucket: Bucket { tokens: self.rules.burst, at_ms: now_ms },
            })
            .await?;
        match stored {
            FamilyInsertion::Inserted => Ok(pair),
            FamilyInsertion::AccountChanged => {
                tracing::info!(sub, "login refused: the account changed while it was checked");
                Err(DomainError::BadCredentials)
            }
            FamilyInsertion::AccountDisabled => Err(DomainError::AccountDisabled),
        }
    }

    /// Rotates a verified refresh token: the family's current one yields a
    /// new pair (access token not fresh); an exact retry of the one just
    /// rotated yields the same pair within the grace window; any other token
    /// of the family is reuse, which revokes the family.
    pub async fn rotate(
        &self,
        refresh: &Claims,
        transport: Transport,
    ) -> Result<TokenPair, DomainError> {
        if refresh.kind != TokenKind::Refresh {
            return Err(AuthError::WrongTokenType("Only refresh tokens are allowed").into());
        }
        let family = self.family_of(refresh).await?.ok_or(NOT_OURS)?;
        let now_ms = self.tokens.clock().now_millis();
        let mut verdict: Option<Verdict> = None;
        let slot = &mut verdict;
        let revoked = self
            .store
            .rotate(
                &family,
                Box::new(move |row: &FamilyRow| {
                    let (decision, answer) = self.judge(row, refresh, transport, now_ms);
                    *slot = Some(answer);
                    decision
                }),
            )
            .await?;
        if let Some(revoked) = revoked {
            tracing::warn!(sub = %refresh.sub, "refresh token reused; revoked its family");
            self.after_family_revocation(&refresh.sub, revoked).await;
        }
        // No row: the family is not ours (or was purged).
        verdict.unwrap_or_else(|| Err(NOT_OURS.into()))
    }

    /// Decides a rotation from the family's locked row: what to write, and
    /// what to answer. No I/O: it runs inside the store's transaction.
    fn judge(
        &self,
        row: &FamilyRow,
        refresh: &Claims,
        transport: Transport,
        now_ms: i64,
    ) -> (Decision, Verdict) {
        if row.sub != refresh.sub {
            return (Decision::Refuse, Err(NOT_OURS.into()));
        }
        if row.revoked {
            return (Decision::Refuse, Err(AuthError::TokenRevoked.into()));
        }
        let refused = |e: DomainError| (Decision::Refuse, Err(e));
        if refresh.jti == row.current_refresh {
            let bucket = match self.take_refresh_allowance(row, now_ms) {
                Ok(bucket) => bucket,
                Err(e) => return refused(e),
            };
            let rotated = self
                .issue_pair(&refresh.sub, &row.id, Freshness::Stale, transport)
                .and_then(|pair| successor_json(&pair).map(|successor| (successor, pair)));
            return match rotated {
                Ok((successor, pair)) => {
                    let next = Rotation {
                        current_refresh: pair.refresh.claims.jti.clone(),
                        previous_refresh: refresh.jti.clone(),
                        rotated_at_ms: now_ms,
                        successor,
                        expires_at: pair_expiry(&pair),
                        bucket,
                    };
                    (Decision::Rotate(next), Ok(pair))
                }
                Err(e) => refused(e),
            };
        }
        if self.is_exact_retry(row, refresh, now_ms) {
            let bucket = match self.take_refresh_allowance(row, now_ms) {
                Ok(bucket) => bucket,
                Err(e) => return refused(e),
            };
            match self.reissue(row.successor.as_deref()) {
                Ok(Some(pair)) => return (Decision::Retry(bucket), Ok(pair)),
                Ok(None) => {}
                Err(e) => return refused(e),
            }
        }
        (Decision::Revoke, Err(AuthError::TokenRevoked.into()))
    }

    /// Revokes the family a token belongs to (logout), or the token alone
    /// when this server did not issue it.
    pub async fn revoke_token_family(&self, claims: &Claims) -> Result<(), DomainError> {
        let Some(family) = self.family_of(claims).await? else {
            let token = RevokedToken { jti: claims.jti.clone(), exp: claims.exp };
            self.revocations.revoke_many(std::slice::from_ref(&token)).await?;
            self.propagation.committed(Committed::Tokens(vec![token])).await;
            return Ok(());
        };
        let revoked = self.store.revoke(&family).await?;
        self.after_family_revocation(&claims.sub, revoked).await;
        Ok(())
    }

    /// Revokes everything `sub` holds ("log out everywhere"): every family in
    /// one transaction, and a subject mark that refuses tokens this server
    /// did not issue (no family) with an `iat` in or before this second.
    /// Every live socket of the subject is closed, whatever its token.
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), DomainError> {
        let before = self.tokens.clock().now().saturating_add(1);
        let families = self.store.revoke_subject(sub, before).await?;
        let sub = sub.to_owned();
        self.propagation.committed(Committed::Subject { sub, families, before }).await;
        Ok(())
    }

    /// The clock's current second.
    pub fn now(&self) -> i64 {
        self.tokens.clock().now()
    }

    /// Forgets families whose every token has expired.
    pub async fn purge_expired(&self) -> Result<u64, DomainError> {
        Ok(self.store.purge(self.tokens.clock().now()).await?)
    }

    /// The family a token belongs to: its `sid`, or for tokens issued before
    /// families had rows, the record of its `jti`.
    async fn family_of(&self, claims: &Claims) -> Result<Option<String>, DomainError> {
        if let Some(sid) = &claims.sid {
            return Ok(Some(sid.clone()));
        }
        Ok(self.store.legacy_family(&claims.jti).await?)
    }

    /// Takes one refresh from the family's bucket; 429 when it is empty.
    /// Returns the bucket to store.
    fn take_refresh_allowance(&self, row: &FamilyRow, now_ms: i64) -> Result<Bucket, DomainError> {
        let RotationRules { rate, burst, .. } = self.rules;
        if rate <= 0.0 {
            return Ok(Bucket { tokens: burst, at_ms: now_ms });
        }
        let elapsed = (now_ms.saturating_sub(row.bucket_at_ms)).max(0) as f64 / 1000.0;
        let available = (row.bucket_tokens + elapsed * rate).min(burst);
        if available < 1.0 {
            let retry_after = ((1.0 - available) / rate).ceil().max(1.0) as u64;
            return Err(AuthError::TooManyRequests { retry_after }.into());
        }
        Ok(Bucket { tokens: available - 1.0, at_ms: now_ms })
    }

    fn is_exact_retry(&self, row: &FamilyRow, refresh: &Claims, now_ms: i64) -> bool {
        row.previous_refresh.as_deref() == Some(refresh.jti.as_str())
            && row.rotated_at_ms.is_some_and(|at| now_ms.saturating_sub(at) <= self.rules.grace_ms)
    }

    /// Applies and shares a family revocation already committed: its
    /// sockets close on every node.
    async fn after_family_revocation(&self, sub: &str, revoked: RevokedFamily) {
        let sub = sub.to_owned();
        self.propagation.committed(Committed::Family { sub, revoked }).await;
    }

    fn issue_pair(
        &self,
        sub: &str,
        family: &str,
        freshness: Freshness,
        transport: Transport,
    ) -> Result<TokenPair, DomainError> {
        let options = |fresh| IssueOptions {
            fresh,
            csrf: transport == Transport::Cookie,
            session: Some(family.to_owned()),
            ..IssueOptions::default()
        };
        let access = self.tokens.issue_access(sub, options(freshness == Freshness::Fresh))?;
        let refresh = self.tokens.issue_refresh(sub, options(false))?;
        Ok(TokenPair { access, refresh })
    }

    /// Signs again the pair whose claims a rotation kept.
    fn reissue(&self, successor: Option<&str>) -> Result<Option<TokenPair>, DomainError> {
        let Some(text) = successor else { return Ok(None) };
        let stored: Map<String, Value> =
            serde_json::from_str(text).map_err(|_| DomainError::Unavailable)?;
        let claims = |name: &str| match stored.get(name) {
            Some(Value::Object(map)) => {
                Claims::from_json_object(map.clone()).map_err(|_| DomainError::Unavailable)
            }
            _ => Err(DomainError::Unavailable),
        };
        let (access, refresh) = (claims("access")?, claims("refresh")?);
        let access = IssuedToken { token: self.tokens.sign(&access)?, claims: access };
        let refresh = IssuedToken { token: self.tokens.sign(&refresh)?, claims: refresh };
        Ok(Some(TokenPair { access, refresh }))
    }
}

fn pair_expiry(pair: &TokenPair) -> i64 {
    pair.access.claims.exp.max(pair.refresh.claims.exp)
}

fn successor_json(pair: &TokenPair) -> Result<String, DomainError> {
    let value = serde_json::json!({ "access": pair.access.claims, "refresh": pair.refresh.claims });
    serde_json::to_string(&value).map_err(|_| DomainError::Unavailable)
}
