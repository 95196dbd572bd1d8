//! Channel names and the patterns rules and grants are written in.
//!
//! A name is segments separated by `:`; a segment is 1 to 64 of
//! `A-Z a-z 0-9 _ - . @ % + =`; a name is at most 255 bytes and 16
//! segments. A pattern is written the same way, where a segment may also be
//! `*` (exactly one segment), `{sub}` (the socket's channel subject) or, as
//! the last one, `>` (one or more trailing segments).

use std::fmt;
use std::sync::Arc;

/// The longest channel name, in bytes.
pub const MAX_CHANNEL_LEN: usize = 255;
/// The most segments in a channel name or pattern.
pub const MAX_SEGMENTS: usize = 16;
/// The longest segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 64;

/// A name or pattern that breaks the rules above, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadName(&'static str);

impl BadName {
    /// What is wrong, in words.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

fn segment_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'%' | b'+' | b'=')
}

/// Whether `segment` is a valid literal segment.
fn check_segment(segment: &str) -> Result<(), BadName> {
    if segment.is_empty() {
        return Err(BadName("a channel name has an empty segment (`::`, or `:` at either end)"));
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(BadName("a segment of a channel name is longer than 64 bytes"));
    }
    if !segment.bytes().all(segment_char) {
        return Err(BadName("a channel name segment may hold only A-Z a-z 0-9 _ - . @ % + ="));
    }
    Ok(())
}

fn split_checked(text: &str) -> Result<std::str::Split<'_, char>, BadName> {
    if text.len() > MAX_CHANNEL_LEN {
        return Err(BadName("a channel name is at most 255 bytes"));
    }
    if text.split(':').count() > MAX_SEGMENTS {
        return Err(BadName("a channel name has at most 16 segments"));
    }
    Ok(text.split(':'))
}

/// A valid channel name. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(Arc<str>);

impl Channel {
    /// Checks `name` against the rules of channel names.
    pub fn parse(name: &str) -> Result<Self, BadName> {
        for segment in split_checked(name)? {
            check_segment(segment)?;
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }

    /// A name that was checked when it was first made a [`Channel`].
    pub(crate) fn checked(name: Arc<str>) -> Self {
        Self(name)
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One segment of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    /// `*`: exactly one segment.
    One,
    /// `{sub}`: the socket's channel subject.
    Subject,
    /// `>`: one or more trailing segments.
    Rest,
}

/// A channel pattern, as rules and grants are written. Never subscribed to.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    segments: Box<[Segment]>,
}

impl Pattern {
    /// Parses a pattern; `>` may only be the last segment, and `{sub}` and
    /// `*` stand for a whole segment.
    pub fn parse(text: &str) -> Result<Self, BadName> {
        let parts: Vec<&str> = split_checked(text)?.collect();
        let last = parts.len() - 1;
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            segments.push(match part {
                "*" => Segment::One,
                "{sub}" => Segment::Subject,
                ">" if i == last => Segment::Rest,
                ">" => return Err(BadName("`>` may only be a pattern's last segment")),
                literal => {
                    check_segment(literal)?;
                    Segment::Literal(literal.into())
                }
            });
        }
        Ok(Self { text: text.into(), segments: segments.into() })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `channel` matches, for a socket whose channel subject is `channel_sub`.
    #[must_use]
    pub fn matches(&self, channel: &Channel, channel_sub: &str) -> bool {
        let mut parts = channel.as_str().split(':');
        for segment in &self.segments {
            let Some(part) = parts.next() else { return false };
            let fits = match segment {
                Segment::Literal(literal) => **literal == *part,
                Segment::One => true,
                Segment::Subject => part == channel_sub,
                Segment::Rest => return true,
            };
            if !fits {
                return false;
            }
        }
        parts.next().is_none()
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Pattern {
    type Err = BadName;
    fn from_str(text: &str) -> Result<Self, BadName> {
        Self::parse(text)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[test]
    fn names_follow_the_rules() {
        for good in ["room:42", "a", "user:alice:inbox", "x@y.z%+=_-", &"s".repeat(64)] {
            assert!(Channel::parse(good).is_ok(), "{good}");
        }
        let sixteen = vec!["a"; 16].join(":");
        assert!(Channel::parse(&sixteen).is_ok());
        for bad in [
            "",
            ":a",
            "a:",
            "a::b",
            "room 42",
            "room/42",
            "*",
            "room:>",
            "{sub}",
            "é",
            &"s".repeat(65),
            &vec!["a"; 17].join(":"),
            &vec!["abcdefghijklmnop"; 16].join(":"),
        ] {
            assert!(Channel::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_match_one_segment_the_rest_or_the_subject() {
        let p = Pattern::parse("user:{sub}:>").unwrap();
        assert!(p.matches(&ch("user:alice:inbox"), "alice"));
        assert!(p.matches(&ch("user:alice:a:b"), "alice"));
        assert!(!p.matches(&ch("user:alice"), "alice"), "> is one or more");
        assert!(!p.matches(&ch("user:bob:inbox"), "alice"));
        let p = Pattern::parse("room:*").unwrap();
        assert!(p.matches(&ch("room:42"), "x"));
        assert!(!p.matches(&ch("room:42:x"), "x"));
        assert!(!p.matches(&ch("room"), "x"));
        let p = Pattern::parse("room:42").unwrap();
        assert!(p.matches(&ch("room:42"), "x"));
        assert!(!p.matches(&ch("room:420"), "x"));
        assert!(Pattern::parse(">").unwrap().matches(&ch("anything:at:all"), "x"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["a:>:b", "a:{su}", "a:**", "", "a::b", "a:{sub}x"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
