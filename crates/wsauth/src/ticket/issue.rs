//! Issuing a one-time ticket ([`WsAuth::issue_ticket`]): it stands for an
//! access token's claims until the ticket lifetime or the token runs out.
//! Redeeming one is stage two of the handshake pipeline
//! (`handshake/verify.rs`).

use super::{IssuedTicket, TicketAdmission, new_ticket};
use crate::auth::WsAuth;
use crate::handshake::check_kind;
use crate::observe::Limit;
use crate::{AuthError, Claims, TokenKind};

impl WsAuth {
    /// Issues a one-time ticket standing for these access-token claims. It
    /// expires after the ticket lifetime or with the token, whichever is first.
    pub async fn issue_ticket(&self, claims: &Claims) -> Result<IssuedTicket, AuthError> {
        issue(self, claims).await
    }
}

async fn issue(auth: &WsAuth, claims: &Claims) -> Result<IssuedTicket, AuthError> {
    check_kind(claims, TokenKind::Access)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenAuthority;

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
