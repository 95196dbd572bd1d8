//! Token families: every token one login issued carries the family's id as
//! its `sid` claim, and the family is one row however often it rotated.
//!
//! Rotation, reuse detection and revocation each run in one `BEGIN IMMEDIATE`
//! transaction, so SQLite's write lock orders them: a rotation either commits
//! before a revocation (and its new pair, carrying the same `sid`, is revoked
//! with the family) or it sees the family revoked and fails. A failed
//! transaction changes nothing, so a client's retry is never mistaken for
//! reuse. Only the family's current refresh token rotates; an exact retry of
//! the one just rotated, within the grace window, gets the same new pair
//! (two browser tabs refreshing one cookie); any other reuse revokes the family.

use serde_json::{Map, Value};
use sqlx::SqlitePool;
use std::sync::Arc;
use wsauth::{
    AuthError, Claims, IssueOptions, IssuedToken, LiveSessions, RevocationEvent, TokenAuthority,
    TokenKind,
};

use crate::error::ApiError;
use crate::revocations::SqliteRevocationStore;

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
    pool: SqlitePool,
    tokens: TokenAuthority,
    revocations: Arc<SqliteRevocationStore>,
    live: LiveSessions,
    rules: RotationRules,
}

#[derive(sqlx::FromRow)]
struct FamilyRow {
    id: String,
    sub: String,
    revoked: bool,
    current_refresh: String,
    previous_refresh: Option<String>,
    rotated_at_ms: Option<i64>,
    successor: Option<String>,
    bucket_tokens: f64,
    bucket_at_ms: i64,
}

const NOT_OURS: AuthError = AuthError::InvalidToken("Refresh token was not issued by this server");

impl Families {
    /// Families over this database, authority and revocation store; live
    /// sockets of revoked tokens are closed through `live`.
    pub fn new(
        pool: SqlitePool,
        tokens: TokenAuthority,
        revocations: Arc<SqliteRevocationStore>,
        live: LiveSessions,
        rules: RotationRules,
    ) -> Self {
        Self { pool, tokens, revocations, live, rules }
    }

    /// Issues a pair for a password login: a new family, a fresh access token.
    pub async fn login(&self, sub: &str, transport: Transport) -> Result<TokenPair, ApiError> {
        let family = uuid::Uuid::new_v4().to_string();
        let pair = self.issue_pair(sub, &family, Freshness::Fresh, transport)?;
        let now_ms = self.tokens.clock().now_millis();
        sqlx::query(
            "INSERT INTO families (id, sub, created_at, expires_at, current_refresh,
                                   bucket_tokens, bucket_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&family)
        .bind(sub)
        .bind(now_ms / 1000)
        .bind(pair_expiry(&pair))
        .bind(&pair.refresh.claims.jti)
        .bind(self.rules.burst)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(pair)
    }

    /// Rotates a verified refresh token: the family's current one yields a
    /// new pair (access token not fresh); an exact retry of the one just
    /// rotated yields the same pair within the grace window; any other token
    /// of the family is reuse, which revokes the family.
    pub async fn rotate(
        &self,
        refresh: &Claims,
        transport: Transport,
    ) -> Result<TokenPair, ApiError> {
        if refresh.kind != TokenKind::Refresh {
            return Err(AuthError::WrongTokenType("Only refresh tokens are allowed").into());
        }
        let family = self.family_of(refresh).await?.ok_or(NOT_OURS)?;
        let now_ms = self.tokens.clock().now_millis();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row: Option<FamilyRow> = sqlx::query_as(
            "SELECT id, sub, revoked, current_refresh, previous_refresh, rotated_at_ms,
                    successor, bucket_tokens, bucket_at_ms
             FROM families WHERE id = ?",
        )
        .bind(&family)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.filter(|row| row.sub == refresh.sub).ok_or(NOT_OURS)?;
        if row.revoked {
            return Err(AuthError::TokenRevoked.into());
        }
        if refresh.jti == row.current_refresh {
            let tokens = self.take_refresh_allowance(&row, now_ms)?;
            let pair = self.issue_pair(&refresh.sub, &row.id, Freshness::Stale, transport)?;
            sqlx::query(
                "UPDATE families SET current_refresh = ?, previous_refresh = ?,
                        rotated_at_ms = ?, successor = ?, expires_at = max(expires_at, ?),
                        bucket_tokens = ?, bucket_at_ms = ?
                 WHERE id = ?",
            )
            .bind(&pair.refresh.claims.jti)
            .bind(&refresh.jti)
            .bind(now_ms)
            .bind(successor_json(&pair)?)
            .bind(pair_expiry(&pair))
            .bind(tokens)
            .bind(now_ms)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(pair);
        }
        if self.is_exact_retry(&row, refresh, now_ms) {
            let tokens = self.take_refresh_allowance(&row, now_ms)?;
            if let Some(pair) = self.reissue(row.successor.as_deref())? {
                sqlx::query("UPDATE families SET bucket_tokens = ?, bucket_at_ms = ? WHERE id = ?")
                    .bind(tokens)
                    .bind(now_ms)
                    .bind(&row.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(pair);
            }
        }
        tracing::warn!(sub = %refresh.sub, "refresh token reused; revoking its family");
        let revoked = revoke_family_rows(&mut tx, &row.id).await?;
        tx.commit().await?;
        self.after_family_revocation(&refresh.sub, &revoked);
        Err(AuthError::TokenRevoked.into())
    }

    /// Revokes the family a token belongs to (logout), or the token alone
    /// when this server did not issue it.
    pub async fn revoke_token_family(&self, claims: &Claims) -> Result<(), ApiError> {
        let Some(family) = self.family_of(claims).await? else {
            self.revocations.revoke_many(&[(claims.jti.clone(), claims.exp)]).await?;
            self.live.notify(&RevocationEvent::Tokens(vec![claims.jti.clone()]));
            return Ok(());
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let revoked = revoke_family_rows(&mut tx, &family).await?;
        tx.commit().await?;
        self.after_family_revocation(&claims.sub, &revoked);
        Ok(())
    }

    /// Revokes everything `sub` holds ("log out everywhere"): every family in
    /// one transaction, and a subject mark that refuses tokens this server
    /// did not issue (no family) with an `iat` in or before this second.
    /// Every live socket of the subject is closed, whatever its token.
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), ApiError> {
        let before = self.tokens.clock().now().saturating_add(1);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let families = revoke_subject_rows(&mut tx, sub, before).await?;
        tx.commit().await?;
        self.apply_subject_revocation(sub, &families, before);
        Ok(())
    }

    /// Mirrors a subject revocation already committed and closes every live
    /// socket of the subject.
    pub fn apply_subject_revocation(&self, sub: &str, families: &[(String, i64)], before: i64) {
        self.revocations.note_families(families);
        self.revocations.note_subject_mark(sub, before);
        self.live.notify(&RevocationEvent::everything_of(sub));
    }

    /// The clock's current second.
    pub fn now(&self) -> i64 {
        self.tokens.clock().now()
    }

    /// Forgets families whose every token has expired.
    pub async fn purge_expired(&self) -> Result<u64, ApiError> {
        let now = self.tokens.clock().now();
        let families = sqlx::query("DELETE FROM families WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM legacy_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(families.rows_affected())
    }

    /// The family a token belongs to: its `sid`, or for tokens issued before
    /// families had rows, the record of its `jti`.
    async fn family_of(&self, claims: &Claims) -> Result<Option<String>, ApiError> {
        if let Some(sid) = &claims.sid {
            return Ok(Some(sid.clone()));
        }
        let legacy: Option<(String,)> =
            sqlx::query_as("SELECT family FROM legacy_tokens WHERE jti = ?")
                .bind(&claims.jti)
                .fetch_optional(&self.pool)
                .await?;
        Ok(legacy.map(|(family,)| family))
    }

    /// Takes one refresh from the family's bucket; 429 when it is empty.
    /// Returns the tokens left, to store.
    fn take_refresh_allowance(&self, row: &FamilyRow, now_ms: i64) -> Result<f64, ApiError> {
        let RotationRules { rate, burst, .. } = self.rules;
        if rate <= 0.0 {
            return Ok(burst);
        }
        let elapsed = (now_ms.saturating_sub(row.bucket_at_ms)).max(0) as f64 / 1000.0;
        let available = (row.bucket_tokens + elapsed * rate).min(burst);
        if available < 1.0 {
            let retry_after = ((1.0 - available) / rate).ceil().max(1.0) as u64;
            return Err(AuthError::TooManyRequests { retry_after }.into());
        }
        Ok(available - 1.0)
    }

    fn is_exact_retry(&self, row: &FamilyRow, refresh: &Claims, now_ms: i64) -> bool {
        row.previous_refresh.as_deref() == Some(refresh.jti.as_str())
            && row.rotated_at_ms.is_some_and(|at| now_ms.saturating_sub(at) <= self.rules.grace_ms)
    }

    /// Closes the sockets of revoked families and mirrors the revocation.
    fn after_family_revocation(&self, sub: &str, revoked: &RevokedFamily) {
        self.revocations.note_families(std::slice::from_ref(&revoked.family));
        self.revocations.note_tokens(&revoked.legacy_tokens);
        self.live.notify(&RevocationEvent::Sessions {
            sub: sub.to_owned(),
            sessions: vec![revoked.family.0.clone()],
        });
        if !revoked.legacy_tokens.is_empty() {
            let jtis = revoked.legacy_tokens.iter().map(|(jti, _)| jti.clone()).collect();
            self.live.notify(&RevocationEvent::Tokens(jtis));
        }
    }

    fn issue_pair(
        &self,
        sub: &str,
        family: &str,
        freshness: Freshness,
        transport: Transport,
    ) -> Result<TokenPair, ApiError> {
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
    fn reissue(&self, successor: Option<&str>) -> Result<Option<TokenPair>, ApiError> {
        let Some(text) = successor else { return Ok(None) };
        let stored: Map<String, Value> =
            serde_json::from_str(text).map_err(|_| ApiError::Unavailable)?;
        let claims = |name: &str| match stored.get(name) {
            Some(Value::Object(map)) => {
                Claims::from_json_object(map.clone()).map_err(|_| ApiError::Unavailable)
            }
            _ => Err(ApiError::Unavailable),
        };
        let (access, refresh) = (claims("access")?, claims("refresh")?);
        let access = IssuedToken { token: self.tokens.sign(&access)?, claims: access };
        let refresh = IssuedToken { token: self.tokens.sign(&refresh)?, claims: refresh };
        Ok(Some(TokenPair { access, refresh }))
    }
}

/// Revokes every family of `sub` and marks the subject so that tokens
/// without a family issued before `before` are refused. Returns the revoked
/// families with their expiry. Runs inside the caller's transaction.
pub async fn revoke_subject_rows(
    tx: &mut sqlx::SqliteConnection,
    sub: &str,
    before: i64,
) -> Result<Vec<(String, i64)>, ApiError> {
    let families: Vec<(String, i64)> = sqlx::query_as(
        "UPDATE families SET revoked = 1, successor = NULL
         WHERE sub = ? AND revoked = 0 RETURNING id, expires_at",
    )
    .bind(sub)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO subject_marks (sub, before) VALUES (?, ?)
         ON CONFLICT (sub) DO UPDATE SET before = max(before, excluded.before)",
    )
    .bind(sub)
    .bind(before)
    .execute(&mut *tx)
    .await?;
    Ok(families)
}

/// What revoking one family touched: its id and expiry, and the `jti`s of its
/// tokens issued before families had rows (they carry no `sid`).
struct RevokedFamily {
    family: (String, i64),
    legacy_tokens: Vec<(String, i64)>,
}

async fn revoke_family_rows(
    tx: &mut sqlx::SqliteConnection,
    family: &str,
) -> Result<RevokedFamily, ApiError> {
    let expires: Option<(i64,)> = sqlx::query_as(
        "UPDATE families SET revoked = 1, successor = NULL WHERE id = ? RETURNING expires_at",
    )
    .bind(family)
    .fetch_optional(&mut *tx)
    .await?;
    let legacy_tokens: Vec<(String, i64)> =
        sqlx::query_as("SELECT jti, exp FROM legacy_tokens WHERE family = ?")
            .bind(family)
            .fetch_all(&mut *tx)
            .await?;
    for (jti, exp) in &legacy_tokens {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, exp) VALUES (?, ?)")
            .bind(jti)
            .bind(exp)
            .execute(&mut *tx)
            .await?;
    }
    let expires_at = expires.map_or(0, |(e,)| e);
    Ok(RevokedFamily { family: (family.to_owned(), expires_at), legacy_tokens })
}

fn pair_expiry(pair: &TokenPair) -> i64 {
    pair.access.claims.exp.max(pair.refresh.claims.exp)
}

fn successor_json(pair: &TokenPair) -> Result<String, ApiError> {
    let value = serde_json::json!({ "access": pair.access.claims, "refresh": pair.refresh.claims });
    serde_json::to_string(&value).map_err(|_| ApiError::Unavailable)
}
