//! The channel frames on the wire: what a client sends (`subscribe`,
//! `unsubscribe`, `publish`, `presence`) and what the server answers or
//! sends on its own. Pure parsing and writing, no I/O.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

use super::{Actions, Channel, Present};

/// The longest request `id` a client may send, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The client asked.
    Client,
    /// The right to subscribe was taken away.
    PermissionRevoked,
    /// A source of rights did not answer when asked again.
    Unavailable,
}

/// Which channel command a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Subscribe,
    Unsubscribe,
    Publish,
    Presence,
}

/// A channel command as the client wrote it.
#[derive(Debug, Deserialize)]
pub(crate) struct Command<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: Kind,
    #[serde(borrow, default)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) data: Option<&'a RawValue>,
}

/// The channel command in `text`, if it is one. Frames of other types (or
/// not JSON) are `None`: they are the application's.
pub(crate) fn command(text: &str) -> Option<Command<'_>> {
    // Most frames are skipped without parsing: a command's type is spelled
    // out literally, or written with `\u` escapes.
    let maybe =
        ["subscribe\"", "\"publish\"", "\"presence\"", "\\u"].iter().any(|t| text.contains(t));
    if !maybe {
        return None;
    }
    #[derive(Deserialize)]
    struct Type<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
    }
    let kind = match &*serde_json::from_str::<Type<'_>>(text).ok()?.kind {
        "subscribe" => Kind::Subscribe,
        "unsubscribe" => Kind::Unsubscribe,
        "publish" => Kind::Publish,
        "presence" => Kind::Presence,
        _ => return None,
    };
    // A frame of a channel type that does not parse is answered with an
    // error, not handed to the application.
    serde_json::from_str(text).ok().or(Some(Command { kind, id: None, channel: None, data: None }))
}

#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    channel: &'a str,
    #[serde(flatten)]
    rest: T,
}

fn write<T: Serialize>(kind: &'static str, id: Option<&str>, channel: &str, rest: T) -> String {
    // Plain strings, numbers and JSON that parsed once: cannot fail.
    serde_json::to_string(&Frame { kind, id, channel, rest }).unwrap_or_default()
}

#[derive(Serialize)]
struct Nothing {}

pub(crate) fn subscribed(id: Option<&str>, channel: &Channel, actions: Actions) -> String {
    #[derive(Serialize)]
    struct Rest {
        actions: Actions,
    }
    write("subscribed", id, channel.as_str(), Rest { actions })
}

pub(crate) fn unsubscribed(id: Option<&str>, channel: &Channel, reason: Reason) -> String {
    #[derive(Serialize)]
    struct Rest {
        reason: Reason,
    }
    write("unsubscribed", id, channel.as_str(), Rest { reason })
}

pub(crate) fn grant(channel: &Channel, actions: Actions) -> String {
    #[derive(Serialize)]
    struct Rest {
        actions: Actions,
    }
    write("grant", None, channel.as_str(), Rest { actions })
}

pub(crate) fn published(id: Option<&str>, channel: &Channel) -> String {
    write("published", id, channel.as_str(), Nothing {})
}

pub(crate) fn message(channel: &Channel, data: &RawValue, from: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Rest<'a> {
        data: &'a RawValue,
        from: Option<&'a str>,
    }
    write("message", None, channel.as_str(), Rest { data, from })
}

pub(crate) fn presence_change(kind: &'static str, channel: &Channel, sub: &str) -> String {
    #[derive(Serialize)]
    struct Rest<'a> {
        sub: &'a str,
    }
    write(kind, None, channel.as_str(), Rest { sub })
}

pub(crate) fn presence(
    id: Option<&str>,
    channel: &Channel,
    members: &[Present],
    truncated: bool,
) -> String {
    #[derive(Serialize)]
    struct Rest<'a> {
        members: &'a [Present],
        truncated: bool,
    }
    write("presence", id, channel.as_str(), Rest { members, truncated })
}

/// `{"type":"error","id":...,"command":...,"error":...,"detail":...}`.
pub(crate) fn error(id: Option<&str>, command: Kind, code: &str, detail: &str) -> String {
    #[derive(Serialize)]
    struct ErrorFrame<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        command: Kind,
        error: &'a str,
        detail: &'a str,
    }
    let frame = ErrorFrame { kind: "error", id, command, error: code, detail };
    serde_json::to_string(&frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_told_from_the_applications_frames() {
        let c = command(r#"{"type":"subscribe","id":"1","channel":"room:42"}"#).unwrap();
        assert_eq!(c.kind, Kind::Subscribe);
        assert_eq!(c.id.as_deref(), Some("1"));
        assert_eq!(c.channel.as_deref(), Some("room:42"));
        let escaped = command(r#"{"type":"\u0070ublish","channel":"a","data":{"x":1}}"#).unwrap();
        assert_eq!(escaped.kind, Kind::Publish);
        assert_eq!(escaped.data.unwrap().get(), r#"{"x":1}"#);
        let malformed = command(r#"{"type":"presence","channel":5}"#).unwrap();
        assert_eq!((malformed.kind, malformed.channel), (Kind::Presence, None));
        for other in
            [r#"{"type":"echo","data":"subscribe"}"#, "subscribe\"", r#"{"type":"whoami"}"#]
        {
            assert!(command(other).is_none(), "{other}");
        }
    }

    #[test]
    fn frames_are_written_in_the_documented_shape() {
        let ch = Channel::parse("room:42").unwrap();
        let data = RawValue::from_string(r#"{"text":"hi"}"#.into()).unwrap();
        assert_eq!(
            message(&ch, &data, Some("alice")),
            r#"{"type":"message","channel":"room:42","data":{"text":"hi"},"from":"alice"}"#
        );
        assert_eq!(
            message(&ch, &data, None),
            r#"{"type":"message","channel":"room:42","data":{"text":"hi"},"from":null}"#
        );
        assert_eq!(
            unsubscribed(None, &ch, Reason::PermissionRevoked),
            r#"{"type":"unsubscribed","channel":"room:42","reason":"permission_revoked"}"#
        );
        assert_eq!(
            error(Some("1"), Kind::Subscribe, "forbidden", "no"),
            r#"{"type":"error","id":"1","command":"subscribe","error":"forbidden","detail":"no"}"#
        );
    }
}
