//! One-time tickets: short-lived, single-use, consumed atomically.
//!
//! A ticket is 256 random bits handed to an authenticated client over HTTP,
//! then presented once as `?ticket=` on the WebSocket URL. The store keeps
//! only a SHA-256 digest of it, so lookups leak nothing through timing.

mod memory;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::WsAuth;
use crate::observe::Limit;
use crate::revocation::StoreError;
use crate::{AuthError, Claims, TokenKind};

pub use memory::MemoryTicketStore;

/// The digest under which a ticket is stored.
pub type TicketDigest = [u8; 32];

/// Whether a ticket was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketAdmission {
    /// Stored; it can be redeemed once until it expires.
    Stored,
    /// Not stored: the subject already holds the most unredeemed, unexpired
    /// tickets allowed.
    SubjectFull,
}

/// Where tickets wait to be used. `take` must be atomic: of two concurrent
/// calls with the same digest, at most one gets the claims. `insert` must
/// count and store atomically, so concurrent inserts never exceed the cap.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores the claims a ticket stands for, until `expires_at` (Unix ms),
    /// unless `claims.sub` already holds `max_per_subject` tickets that are
    /// neither redeemed nor expired.
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
        max_per_subject: usize,
    ) -> Result<TicketAdmission, StoreError>;

    /// Removes and returns the ticket's claims and expiry, if it exists.
    async fn take(&self, digest: &TicketDigest) -> Result<Option<StoredTicket>, StoreError>;
}

/// What a stored ticket stands for, as [`TicketStore::take`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTicket {
    /// The access-token claims the ticket stands for.
    pub claims: Claims,
    /// When the ticket expires, Unix milliseconds.
    pub expires_at: i64,
}

/// A ticket handed to a client ([`WsAuth::issue_ticket`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedTicket {
    /// The ticket, presented once as `?ticket=`.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// Issues a one-time ticket standing for these access-token claims (see
/// [`WsAuth::issue_ticket`]). It expires after the ticket lifetime or with
/// the token, whichever is first.
pub(crate) async fn issue(auth: &WsAuth, claims: &Claims) -> Result<IssuedTicket, AuthError> {
    crate::handshake::check_kind(claims, TokenKind::Access)?;
    let tokens = auth.tokens();
    let now_ms = tokens.clock().now_millis();
    // A ticket outlives neither its token nor the key that signed it.
    let token_end = claims.exp.saturating_add(tokens.settings().leeway);
    let token_end_ms = claims
        .key_valid_until
        .map_or(token_end, |until| token_end.min(until.saturating_add(1)))
        .saturating_mul(1000);
    let ttl_secs = auth.ticket_ttl_secs();
    let expires_at = now_ms.saturating_add(ttl_secs.saturating_mul(1000)).min(token_end_ms);
    let (ticket, digest) = new_ticket().map_err(|_| AuthError::Unavailable)?;
    let admission = auth
        .tickets()
        .insert(digest, claims.clone(), expires_at, auth.max_tickets_per_subject())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "ticket store unavailable");
            AuthError::Unavailable
        })?;
    if admission == TicketAdmission::SubjectFull {
        auth.observer().rate_limited(Limit::Tickets);
        let retry_after = u64::try_from(ttl_secs).unwrap_or(1).max(1);
        return Err(AuthError::TooManyRequests { retry_after });
    }
    auth.observer().ticket_issued();
    Ok(IssuedTicket { ticket, expires_in: (expires_at - now_ms).max(0) / 1000 })
}

/// Redeems a ticket: the claims it stands for, once, before it expires.
pub(crate) async fn redeem(auth: &WsAuth, ticket: &str) -> Result<Claims, AuthError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(AuthError::InvalidTicket);
    }
    let taken = auth.tickets().take(&digest(ticket)).await.map_err(|e| {
        tracing::error!(error = %e, "ticket store unavailable");
        AuthError::Unavailable
    })?;
    let StoredTicket { claims, expires_at } = taken.ok_or(AuthError::InvalidTicket)?;
    if auth.tokens().clock().now_millis() > expires_at {
        return Err(AuthError::InvalidTicket);
    }
    auth.observer().ticket_redeemed();
    Ok(claims)
}

/// The longest ticket string accepted.
const MAX_TICKET_LEN: usize = 64;

/// A new random ticket and its digest.
fn new_ticket() -> Result<(String, TicketDigest), StoreError> {
    let bytes = crate::keys::random_bytes::<32>().map_err(|e| StoreError(e.to_string()))?;
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    let digest = digest(&ticket);
    Ok((ticket, digest))
}

/// The digest of a ticket string.
fn digest(ticket: &str) -> TicketDigest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ticket.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use crate::{TokenAuthority, WsAuth};

    #[tokio::test]
    async fn a_huge_ticket_lifetime_ends_with_the_token() {
        // Found by the server_config fuzz target: `ticket_ttl` seconds were
        // turned into milliseconds without saturating (a panic, or a wrapped
        // and already expired ticket).
        let key = crate::Key::generate(crate::Algorithm::HS256).unwrap();
        let tokens = TokenAuthority::new(crate::KeySet::new(key));
        let access = tokens.issue_access("alice", Default::default()).unwrap();
        let auth = WsAuth::builder(tokens).ticket_ttl_secs(i64::MAX).build();
        let expires_in = auth.issue_ticket(&access.claims).await.unwrap().expires_in;
        assert!((899..=900).contains(&expires_in), "{expires_in}");
    }
}
