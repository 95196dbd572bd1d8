//! Stage two's work: verifying a token (a trusted issuer's, routed by its
//! `iss`, or the authority's own) or redeeming a ticket, the token's kind,
//! and the revocation check.

use crate::auth::WsAuth;
use crate::ticket::{MAX_TICKET_LEN, StoredTicket, digest};
use crate::token::Compact;
use crate::{AuthError, Claims, TokenKind};

impl WsAuth {
    /// Verifies a token of a trusted issuer (routed by its `iss`, checked
    /// against that issuer's keys only) or of the authority itself. A local
    /// token may not name a subject key or token id of a trusted issuer.
    pub async fn verify_token(&self, token: &str) -> Result<Claims, AuthError> {
        verify_token(self, token).await
    }

    /// Fails with `token_revoked` if the claims are revoked; fails closed
    /// when the store is unavailable.
    pub async fn check_revoked(&self, claims: &Claims) -> Result<(), AuthError> {
        check_revoked(self, claims).await
    }
}

pub(super) async fn verify_token(auth: &WsAuth, token: &str) -> Result<Claims, AuthError> {
    let tokens = auth.tokens();
    let issuers = auth.trusted_issuers();
    let compact = Compact::split(token, tokens.settings().max_token_len)?;
    // Boxed: a trusted issuer's path (key fetches included) is large,
    // and inline it would grow every handshake's future, which the
    // router's layers move several times.
    if !issuers.is_empty()
        && let Some(outcome) = Box::pin(issuers.verify(&compact, tokens)).await
    {
        return outcome;
    }
    let claims = tokens.verify_compact(&compact)?;
    if issuers.owns_key(&claims.sub) || claims.is_external() {
        return Err(AuthError::InvalidToken("Subject belongs to an external issuer"));
    }
    if issuers.owns_key(&claims.jti) {
        return Err(AuthError::InvalidToken("Token id belongs to an external issuer"));
    }
    Ok(claims)
}

/// The token is of the kind the route wants.
pub(crate) fn check_kind(claims: &Claims, wanted: TokenKind) -> Result<(), AuthError> {
    if claims.kind == wanted {
        return Ok(());
    }
    Err(AuthError::WrongTokenType(match wanted {
        TokenKind::Refresh => "Only refresh tokens are allowed",
        _ => "Only access tokens are allowed",
    }))
}

pub(super) async fn check_revoked(auth: &WsAuth, claims: &Claims) -> Result<(), AuthError> {
    match auth.revocation().is_revoked(claims).await {
        Ok(false) => Ok(()),
        Ok(true) => Err(AuthError::TokenRevoked),
        Err(e) => {
            tracing::error!(error = %e, "revocation store unavailable; refusing");
            Err(AuthError::Unavailable)
        }
    }
}

/// Redeems a ticket: the claims it stands for, once, before it expires.
pub(super) async fn redeem_ticket(auth: &WsAuth, ticket: &str) -> Result<Claims, AuthError> {
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
