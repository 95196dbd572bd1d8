//! The frames a live socket answers itself: in-band `refresh`, a repeated
//! `auth`, and the first-message `auth` frame. Input: the text of one frame.
//!
//! Oracle: whenever the frame is a JSON object without duplicate keys, the
//! parsers agree with a reading of that object: `type` "refresh" with a
//! string `token` is a refresh, `type` "auth" is an auth frame (with its
//! token for first-message mode), anything else belongs to the app.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wsauth::__fuzz::{Control, auth_frame_token, control_frame, parse_object};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let control = control_frame(text);
    let first_token = auth_frame_token(text);
    let Some(object) = parse_object(data) else { return };
    let kind = object.get("type").and_then(Value::as_str);
    let token = object.get("token").and_then(Value::as_str);
    let expected = match (kind, token) {
        (Some("refresh"), Some(token)) => Some(Control::Refresh { token: token.to_owned() }),
        (Some("auth"), _) => Some(Control::Auth {}),
        _ => None,
    };
    assert_eq!(control, expected, "control frame of {text:?}");
    let expected_token = match (kind, token) {
        (Some("auth"), Some(token)) => Some(token.to_owned()),
        _ => None,
    };
    assert_eq!(first_token, expected_token, "first-message token of {text:?}");
});
