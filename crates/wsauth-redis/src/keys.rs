//! Key names. Every key and channel starts with the deployment's prefix;
//! subjects and token ids are embedded as they are (Redis keys are binary
//! safe), after a type tag, so no value can reach another type's keys.

/// The first characters of every key and channel of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

/// A prefix that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis key prefix: {0}")]
pub struct InvalidPrefix(&'static str);

impl Prefix {
    /// The longest prefix accepted.
    pub const MAX_LEN: usize = 64;

    /// A prefix of printable ASCII without spaces, at most 64 characters
    /// (for example `wsauth:` or `prod-eu:`).
    pub fn new(prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        let prefix = prefix.into();
        if prefix.is_empty() {
            return Err(InvalidPrefix("empty"));
        }
        if prefix.len() > Self::MAX_LEN {
            return Err(InvalidPrefix("longer than 64 characters"));
        }
        if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidPrefix("only printable ASCII without spaces"));
        }
        Ok(Self(prefix))
    }

    /// The prefix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.0)
    }

    pub(crate) fn channel(&self) -> String {
        format!("{}revocations", self.0)
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self("wsauth:".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(Prefix::new("wsauth:").is_ok());
        for bad in ["", "a b", "x\n", &"p".repeat(65)] {
            assert!(Prefix::new(bad).is_err(), "{bad:?}");
        }
        let p = Prefix::new("t1:").expect("prefix");
        assert_eq!(p.key("jti", "abc"), "t1:jti:abc");
        assert_eq!(p.channel(), "t1:revocations");
    }
}
