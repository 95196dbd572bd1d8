//! Entry points for the fuzz targets in `fuzz/`: the crate-private parsers
//! that face client input, callable from outside. Not part of the API.

use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::credential::{self, Target};
use crate::{
    AuthError, Authenticated, Check, CredentialKind, CredentialNames, TokenKind, Transports, WsAuth,
};

pub use crate::live::frames::Control;

/// A credential found in a request, not yet verified.
#[derive(Debug)]
pub struct Found {
    /// Where it travelled.
    pub kind: CredentialKind,
    /// The token or ticket.
    pub value: String,
    /// For a cookie: the CSRF value presented beside it.
    pub csrf: Option<String>,
    /// Whether the client offered the wsauth subprotocol.
    pub offered_subprotocol: bool,
}

/// Finds the one credential of a WebSocket handshake (`websocket`) or an
/// HTTP request, with the default names and transports.
pub fn locate(parts: &Parts, websocket: bool, kind: TokenKind) -> Result<Found, AuthError> {
    let target = if websocket { Target::WebSocket } else { Target::Http };
    let names = CredentialNames::default();
    let located = credential::locate(parts, target, kind, &names, &Transports::default())?;
    Ok(Found {
        kind: located.kind,
        value: located.value.into_owned(),
        csrf: located.csrf.map(std::borrow::Cow::into_owned),
        offered_subprotocol: located.offered_subprotocol,
    })
}

/// Authenticates a WebSocket handshake as the guard does before the upgrade
/// (without registering the socket as live).
pub async fn authenticate_upgrade(
    auth: &WsAuth,
    parts: &Parts,
    check: Check,
) -> Result<Option<Authenticated>, AuthError> {
    auth.authenticate_upgrade(parts, check, &mut None).await.map(|(outcome, _)| outcome)
}

/// Parses a frame a live socket may answer itself (`refresh`, `auth`).
#[must_use]
pub fn control_frame(text: &str) -> Option<Control> {
    crate::live::frames::control_frame(text)
}

/// The token of a first-message `auth` frame.
#[must_use]
pub fn auth_frame_token(text: &str) -> Option<String> {
    crate::live::frames::auth_frame_token(text)
}

/// The strict JSON reader tokens are parsed with: an object, no duplicate keys.
#[must_use]
pub fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    crate::strict_json::parse_object(bytes)
}
