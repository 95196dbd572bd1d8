//! Entry points for the fuzz targets in `fuzz/`: the crate-private parsers
//! that face client input, callable from outside. Not part of the API.

use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::credential::{self, Csrf, Subprotocol};
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
    /// The CSRF value presented beside a cookie, where the CSRF rule asks
    /// for one.
    pub csrf: Option<String>,
    /// Whether the client offered the wsauth subprotocol.
    pub offered_subprotocol: bool,
}

/// Finds the one credential of an HTTP request, with the default names
/// and transports.
pub fn locate_in_request(parts: &Parts, kind: TokenKind) -> Result<Found, AuthError> {
    let names = CredentialNames::default();
    credential::in_request(parts, kind, &names, &Transports::default()).map(found)
}

/// Finds the one credential of a WebSocket handshake, with the default
/// names and transports.
pub fn locate_in_handshake(parts: &Parts, kind: TokenKind) -> Result<Found, AuthError> {
    let names = CredentialNames::default();
    credential::in_handshake(parts, kind, &names, &Transports::default()).map(found)
}

fn found(located: credential::Located<'_>) -> Found {
    Found {
        kind: located.kind,
        value: located.value.into_owned(),
        csrf: match located.csrf {
            Csrf::Presented(value) => Some(value.into_owned()),
            Csrf::NotRequired => None,
        },
        offered_subprotocol: located.subprotocol == Subprotocol::Offered,
    }
}

/// Authenticates a WebSocket handshake as the guard does before the upgrade:
/// every stage of the pipeline up to the socket's registration.
pub async fn authenticate_upgrade(
    auth: &WsAuth,
    parts: &Parts,
    check: Check,
) -> Result<Option<Authenticated>, AuthError> {
    crate::handshake::authenticate_upgrade(auth, parts, check).await
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

/// A `/ws` channel command as the server reads it: its type, request id
/// and channel name, when the frame is one (`None`: the app's frame).
#[must_use]
pub fn channel_command(text: &str) -> Option<(&'static str, Option<String>, Option<String>)> {
    use crate::channels::wire::{Kind, command};
    let parsed = command(text)?;
    let kind = match parsed.kind {
        Kind::Subscribe => "subscribe",
        Kind::Unsubscribe => "unsubscribe",
        Kind::Publish => "publish",
        Kind::Presence => "presence",
    };
    Some((kind, parsed.id.map(|id| id.into_owned()), parsed.channel.map(|c| c.into_owned())))
}
