//! Token families: every token issued by one login, and the refresh tokens
//! rotated from it. Rotating a refresh token marks it used; presenting a used
//! one again means it was stolen or replayed, and revokes the whole family.

use sqlx::SqlitePool;
use std::sync::Arc;
use wsauth::{
    Claims, IssueOptions, IssuedToken, LiveSessions, RevocationEvent, RevocationStore as _,
    TokenAuthority, TokenKind,
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

/// Issues, rotates and revokes families of tokens.
#[derive(Clone)]
pub struct Families {
    pool: SqlitePool,
    tokens: TokenAuthority,
    revocations: Arc<SqliteRevocationStore>,
    live: LiveSessions,
}

impl Families {
    /// Families over this database, authority and revocation store; live
    /// sockets of revoked tokens are closed through `live`.
    pub fn new(
        pool: SqlitePool,
        tokens: TokenAuthority,
        revocations: Arc<SqliteRevocationStore>,
        live: LiveSessions,
    ) -> Self {
        Self { pool, tokens, revocations, live }
    }

    /// Stores a revocation of these tokens, then closes their live sockets.
    async fn revoke_tokens(&self, tokens: &[(String, i64)]) -> Result<(), ApiError> {
        self.revocations.revoke_many(tokens).await?;
        let jtis = tokens.iter().map(|(jti, _)| jti.clone()).collect();
        self.live.notify(&RevocationEvent::Tokens(jtis));
        Ok(())
    }

    /// Issues a pair for a password login: a new family, a fresh access token.
    /// `cookie` adds CSRF claims for cookie transport.
    pub async fn login(&self, sub: &str, cookie: bool) -> Result<TokenPair, ApiError> {
        let family = uuid::Uuid::new_v4().to_string();
        self.issue_pair(sub, &family, true, cookie).await
    }

    /// Rotates a verified refresh token: marks it used and issues a new pair
    /// (access token not fresh) in the same family. A token used before
    /// revokes its family and fails.
    pub async fn rotate(&self, refresh: &Claims, cookie: bool) -> Result<TokenPair, ApiError> {
        if refresh.kind != TokenKind::Refresh {
            return Err(ApiError::Auth(wsauth::AuthError::WrongTokenType(
                "Only refresh tokens are allowed",
            )));
        }
        let row: Option<(String, i64)> = sqlx::query_as(
            "UPDATE issued_tokens SET used = 1
             WHERE jti = ? AND kind = 'refresh' AND used = 0
             RETURNING family, used",
        )
        .bind(&refresh.jti)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((family, _)) = row {
            return self.issue_pair(&refresh.sub, &family, false, cookie).await;
        }
        let known: Option<(String,)> =
            sqlx::query_as("SELECT family FROM issued_tokens WHERE jti = ? AND kind = 'refresh'")
                .bind(&refresh.jti)
                .fetch_optional(&self.pool)
                .await?;
        match known {
            Some((family,)) => {
                tracing::warn!(sub = %refresh.sub, "refresh token reused; revoking its family");
                self.revoke_family(&family).await?;
                Err(ApiError::Auth(wsauth::AuthError::TokenRevoked))
            }
            None => Err(ApiError::Auth(wsauth::AuthError::InvalidToken(
                "Refresh token was not issued by this server",
            ))),
        }
    }

    /// Revokes the family a token belongs to, or the token alone when this
    /// server did not issue it. Returns the revoked token ids.
    pub async fn revoke_token_family(&self, claims: &Claims) -> Result<Vec<String>, ApiError> {
        let family: Option<(String,)> =
            sqlx::query_as("SELECT family FROM issued_tokens WHERE jti = ?")
                .bind(&claims.jti)
                .fetch_optional(&self.pool)
                .await?;
        match family {
            Some((family,)) => self.revoke_family(&family).await,
            None => {
                self.revoke_tokens(&[(claims.jti.clone(), claims.exp)]).await?;
                Ok(vec![claims.jti.clone()])
            }
        }
    }

    /// Revokes everything `sub` holds: every tracked live token by id, and
    /// every token issued before this second by the subject mark.
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), ApiError> {
        let now = self.tokens.clock().now();
        let live: Vec<(String, i64)> =
            sqlx::query_as("SELECT jti, exp FROM issued_tokens WHERE sub = ? AND exp >= ?")
                .bind(sub)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        self.revoke_tokens(&live).await?;
        self.revocations.revoke_subject_before(sub, now).await?;
        self.live.notify(&RevocationEvent::Subject { sub: sub.to_owned(), before: now });
        Ok(())
    }

    async fn revoke_family(&self, family: &str) -> Result<Vec<String>, ApiError> {
        let members: Vec<(String, i64)> =
            sqlx::query_as("SELECT jti, exp FROM issued_tokens WHERE family = ?")
                .bind(family)
                .fetch_all(&self.pool)
                .await?;
        self.revoke_tokens(&members).await?;
        Ok(members.into_iter().map(|(jti, _)| jti).collect())
    }

    async fn issue_pair(
        &self,
        sub: &str,
        family: &str,
        fresh: bool,
        cookie: bool,
    ) -> Result<TokenPair, ApiError> {
        let access = self
            .tokens
            .issue_access(sub, IssueOptions { fresh, csrf: cookie, ..Default::default() })?;
        let refresh =
            self.tokens.issue_refresh(sub, IssueOptions { csrf: cookie, ..Default::default() })?;
        let mut tx = self.pool.begin().await?;
        for token in [&access, &refresh] {
            sqlx::query(
                "INSERT INTO issued_tokens (jti, family, sub, kind, exp) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&token.claims.jti)
            .bind(family)
            .bind(sub)
            .bind(token.claims.kind.as_str())
            .bind(token.claims.exp)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(TokenPair { access, refresh })
    }

    /// Forgets tokens that have expired.
    pub async fn purge_expired(&self) -> Result<u64, ApiError> {
        let now = self.tokens.clock().now();
        let done = sqlx::query("DELETE FROM issued_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
