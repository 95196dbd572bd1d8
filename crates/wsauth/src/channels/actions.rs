//! What a socket may do on a channel: subscribe, publish, presence.

use std::fmt;

/// One thing a socket may do on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Receive the channel's messages.
    Subscribe,
    /// Send messages to the channel.
    Publish,
    /// See who is subscribed, and their joins and leaves.
    Presence,
}

impl Action {
    /// Every action, in the order they are listed.
    pub const ALL: [Self; 3] = [Self::Subscribe, Self::Publish, Self::Presence];

    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Publish => "publish",
            Self::Presence => "presence",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Subscribe => 1,
            Self::Publish => 2,
            Self::Presence => 4,
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| format!("unknown action `{text}` (subscribe, publish or presence)"))
    }
}

/// A set of [`Action`]s, one byte wide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Actions(u8);

impl Actions {
    /// No action.
    pub const NONE: Self = Self(0);
    /// Every action.
    pub const ALL: Self = Self(7);

    /// Whether `action` is in the set.
    #[must_use]
    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions in either set.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The actions in both sets.
    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The actions of `self` not in `other`.
    #[must_use]
    pub fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// The actions in the set, in [`Action::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl From<Action> for Actions {
    fn from(action: Action) -> Self {
        Self(action.bit())
    }
}

impl FromIterator<Action> for Actions {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, |set, a| set.union(a.into()))
    }
}

impl fmt::Debug for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Actions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Actions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Action>::deserialize(d)?;
        if list.is_empty() {
            return Err(serde::de::Error::custom("name at least one action"));
        }
        Ok(list.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_as_lists_of_names() {
        let set: Actions = [Action::Presence, Action::Subscribe].into_iter().collect();
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["subscribe","presence"]"#);
        let back: Actions = serde_json::from_str(r#"["presence","subscribe"]"#).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<Actions>("[]").is_err());
        assert!(serde_json::from_str::<Actions>(r#"["read"]"#).is_err());
        assert_eq!(Actions::ALL.without(set), Action::Publish.into());
    }
}
