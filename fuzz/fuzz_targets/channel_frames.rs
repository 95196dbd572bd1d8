//! Channel commands and names, as a client sends them on `/ws`. Input: the
//! text of one frame, or a channel name.
//!
//! Oracle: a frame that is a JSON object without duplicate keys is a
//! channel command exactly when its `type` is `subscribe`, `unsubscribe`,
//! `publish` or `presence`, and its channel is the object's `channel` when
//! that and `id` are strings (or absent); a name is accepted exactly when
//! it follows the rules of names (checked here in other words), and an
//! accepted name, read as a pattern, matches itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wsauth::__fuzz::{channel_command, parse_object};
use wsauth::channels::{Channel, Pattern};

/// The rules of names: segments split by `:`, 1 to 16 of them, each 1 to 64
/// bytes of `A-Z a-z 0-9 _ - . @ % + =`, at most 255 bytes in all.
fn follows_the_rules(name: &str) -> bool {
    let segments: Vec<&str> = name.split(':').collect();
    name.len() <= 255
        && segments.len() <= 16
        && segments.iter().all(|s| {
            (1..=64).contains(&s.len())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@%+=".contains(c))
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let accepted = Channel::parse(text);
    assert_eq!(accepted.is_ok(), follows_the_rules(text), "name {text:?}");
    if let Ok(channel) = accepted {
        assert_eq!(channel.as_str(), text);
        let pattern = Pattern::parse(text).expect("a name is a pattern");
        assert!(pattern.matches(&channel, "anyone"), "{text:?} matches itself");
    }
    let _ = Pattern::parse(text);
    let command = channel_command(text);
    let Some(object) = parse_object(data) else { return };
    let kind = object.get("type").and_then(Value::as_str);
    let is_command = matches!(kind, Some("subscribe" | "unsubscribe" | "publish" | "presence"));
    assert_eq!(command.is_some(), is_command, "command {text:?}");
    let Some((parsed_kind, _, channel)) = command else { return };
    assert_eq!(Some(parsed_kind), kind);
    let string_or_absent = |key: &str| object.get(key).is_none_or(Value::is_string);
    if string_or_absent("id") && string_or_absent("channel") {
        let expected = object.get("channel").and_then(Value::as_str).map(str::to_owned);
        assert_eq!(channel, expected, "channel of {text:?}");
    }
});
