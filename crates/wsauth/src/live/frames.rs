//! The JSON frames a live socket answers itself: the in-band `refresh`, a
//! repeated `auth`, and the first-message `auth` frame. Pure parsing, no I/O.

use serde::Deserialize;

/// A frame the socket answers itself instead of handing it to the app.
/// (Public for the fuzz hooks only.)
#[cfg_attr(not(feature = "fuzz"), allow(unreachable_pub))]
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
    // Most app frames are skipped without parsing: a control frame's type
    // is spelled out literally, or written with `\u` escapes.
    let maybe = text.contains("\"refresh\"") || text.contains("\"auth\"") || text.contains("\\u");
    if !maybe {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_type_names_are_still_control_frames() {
        // Found by the live_frames fuzz target's oracle: the quick check
        // before parsing missed types written with \u escapes.
        let refresh = r#"{"type":"\u0072efresh","token":"t"}"#;
        assert_eq!(control_frame(refresh), Some(Control::Refresh { token: "t".into() }));
        assert_eq!(control_frame(r#"{"\u0074ype":"auth"}"#), Some(Control::Auth {}));
        assert_eq!(auth_frame_token(r#"{"type":"\u0061uth","token":"t"}"#), Some("t".into()));
    }

    #[test]
    fn other_frames_are_the_apps() {
        for text in [
            r#"{"type":"echo","data":"refresh"}"#,
            r#"{"type":"refresh"}"#,
            r#"{"type":"refresh","token":5}"#,
            r#"{"type":"refresh","token":"a","token":"b"}"#,
            r#"["refresh"]"#,
            "not json \\u",
        ] {
            assert_eq!(control_frame(text), None, "{text}");
        }
        assert_eq!(auth_frame_token(r#"{"type":"refresh","token":"t"}"#), None);
    }
}
