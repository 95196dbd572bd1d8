//! Channels: what a socket may see and say, and a right taken away ending
//! that one subscription live while the socket stays open.
//!
//! A socket sends `subscribe`, `unsubscribe`, `publish` and `presence`
//! frames ([`ChannelSession::handle`]); the rights to do so come from
//! sources asked in order ([`Authorizers`]): the server's [`Rules`], the
//! subject's stored grants ([`StoredGrants`], from a [`Profiles`] source),
//! and any [`ChannelAuthorizer`] an application adds. Nothing is granted by
//! default. [`Channels::rights_changed`] re-checks a subject's
//! subscriptions after its rights changed; a multi-node server calls it on
//! every node. The wire format is docs/protocol.md's.

mod actions;
mod authorize;
mod hub;
mod name;
mod presence;
mod recheck;
mod session;
#[cfg(test)]
mod tests;
mod who;
pub(crate) mod wire;

pub use actions::{Action, Actions};
pub use authorize::{
    Authorizers, ChannelAuthorizer, Decision, Rule, Rules, StoredGrants, Unavailable,
};
pub use hub::{ChannelBus, Channels, Freshness};
pub use name::{BadName, Channel, MAX_CHANNEL_LEN, MAX_SEGMENT_LEN, MAX_SEGMENTS, Pattern};
pub use presence::{ChannelPresence, PresenceChange, Present};
pub use session::{ChannelSession, Handled, RolesOf};
pub use who::{Grant, NoProfiles, Profile, Profiles, Who, channel_subject};
pub use wire::{MAX_REQUEST_ID_LEN, Reason};

/// How much of the hub one socket may hold.
#[derive(Debug, Clone)]
pub struct ChannelLimits {
    /// Channels one socket may be subscribed to at once. Default 64.
    pub max_subscriptions: usize,
    /// The most members a `presence` answer lists. Default 1,000.
    pub max_presence_listed: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self { max_subscriptions: 64, max_presence_listed: 1000 }
    }
}
