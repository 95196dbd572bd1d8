//! Every handshake's outcome, reported once to the observer; a rejection's
//! code is logged (never the credential).

use std::time::Instant;

use crate::auth::WsAuth;
use crate::observe::HandshakeOutcome;
use crate::{AuthError, CredentialKind};

/// Reports a handshake's outcome: accepted (`error` is `None`) or refused.
pub(crate) fn handshake(
    auth: &WsAuth,
    credential: Option<CredentialKind>,
    error: Option<&AuthError>,
    started: Instant,
) {
    let error = error.map(AuthError::code);
    if let Some(code) = error {
        tracing::debug!(
            error = code,
            credential = credential.map(CredentialKind::as_str),
            "handshake rejected"
        );
    }
    auth.observer().handshake(&HandshakeOutcome { credential, error, elapsed: started.elapsed() });
}

/// Reports a refusal, and hands it back.
pub(crate) fn refused(
    auth: &WsAuth,
    credential: Option<CredentialKind>,
    error: AuthError,
    started: Instant,
) -> AuthError {
    handshake(auth, credential, Some(&error), started);
    error
}
