//! The JSON frames a live socket answers itself: the in-band `refresh`, a
//! repeated `auth`, and the first-message `auth` frame. Pure parsing, no I/O.

use serde::Deserialize;

/// A frame the socket answers itself instead of handing it to the app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// `{"type":"refresh","token":...}`: bind the socket to a new token.
    Refresh {
        /// The new access token.
        token: String,
    },
    /// `{"type":"auth",...}` on a socket that is already authenticated.
    Auth {},
}

/// Parses the frames the socket handles itself: `refresh` and `auth`.
/// Anything else (not JSON, another `type`, missing fields) is the app's.
pub(crate) fn control_frame(text: &str) -> Option<Control> {
    if !(text.contains("\"refresh\"") || text.contains("\"auth\"")) {
        return None;
    }
    serde_json::from_str(text).ok()
}

#[derive(Deserialize)]
struct AuthFrame {
    #[serde(rename = "type")]
    kind: String,
    token: String,
}

/// The token of a first-message `{"type":"auth","token":...}` frame.
pub(crate) fn auth_frame_token(text: &str) -> Option<String> {
    match serde_json::from_str::<AuthFrame>(text) {
        Ok(frame) if frame.kind == "auth" => Some(frame.token),
        _ => None,
    }
}
