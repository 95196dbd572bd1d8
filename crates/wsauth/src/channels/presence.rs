//! Presence: which channel subjects have a socket subscribed to a channel,
//! and the `join` / `leave` frames to subscribers holding `presence` when a
//! subject's first socket arrives or its last one goes. One node keeps it
//! in its rooms; a cluster keeps it in a [`ChannelPresence`] store shared by
//! the nodes, which decides joins and leaves across them and hands them to
//! [`Channels::announce`] on every node.

use async_trait::async_trait;
use axum::extract::ws::{Message, Utf8Bytes};
use serde::Serialize;
use std::sync::Arc;

use super::hub::{Hub, State};
use super::{Action, Channel, Channels, Unavailable, wire};

/// One entry of a presence list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Present {
    /// The channel subject.
    pub sub: String,
    /// How many of its sockets are subscribed.
    pub connections: u32,
}

/// A subject arriving in or leaving a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceChange {
    /// Its first subscribed socket arrived.
    Join,
    /// Its last subscribed socket left.
    Leave,
}

impl PresenceChange {
    /// The frame's `type`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
        }
    }
}

/// Presence across the nodes of a cluster.
#[async_trait]
pub trait ChannelPresence: Send + Sync + std::fmt::Debug + 'static {
    /// `sub` has `connections` sockets subscribed to `channel` on this node
    /// now (0: none left). Must not block: called while subscribing.
    fn here(&self, channel: &Channel, sub: &str, connections: u32);

    /// The channel's members across the cluster, by `sub`: at most `limit`,
    /// and whether more were left out.
    async fn members(
        &self,
        channel: &Channel,
        limit: usize,
    ) -> Result<(Vec<Present>, bool), Unavailable>;
}

/// Which way a socket moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Move {
    In,
    Out,
}

impl Channels {
    /// Keeps presence in `store`, shared with the other nodes (once; later
    /// calls are ignored).
    pub fn attach_presence(&self, store: Arc<dyn ChannelPresence>) {
        let _ = self.inner.presence.set(store);
    }

    /// Tells the subscribers here holding `presence` (but the subject's own
    /// sockets) that `sub` joined or left `channel`.
    pub fn announce(&self, channel: &Channel, change: PresenceChange, sub: &str) {
        self.lock().announce(channel, change, sub);
    }

    /// The channel's members: across the cluster with a presence store,
    /// else on this node. At most `limit`, by `sub`, and whether more were
    /// left out.
    pub async fn members(
        &self,
        channel: &Channel,
        limit: usize,
    ) -> Result<(Vec<Present>, bool), Unavailable> {
        if let Some(store) = self.inner.presence.get() {
            return store.members(channel, limit).await;
        }
        let state = self.lock();
        let Some(room) = state.rooms.get(channel.as_str()) else { return Ok((Vec::new(), false)) };
        let mut members: Vec<Present> = room
            .present
            .iter()
            .map(|(sub, connections)| Present { sub: sub.to_string(), connections: *connections })
            .collect();
        drop(state);
        members.sort_by(|a, b| a.sub.cmp(&b.sub));
        let truncated = members.len() > limit;
        members.truncate(limit);
        Ok((members, truncated))
    }
}

impl Hub {
    /// After `sub`'s count in `channel` moved to `count`: the store learns
    /// it, or (one node) the room hears of a first arrival or a last leave.
    pub(super) fn present(
        &self,
        state: &State,
        channel: &Channel,
        sub: &str,
        count: u32,
        moved: Move,
    ) {
        match (self.presence.get(), moved, count) {
            (Some(store), ..) => store.here(channel, sub, count),
            (None, Move::In, 1) => state.announce(channel, PresenceChange::Join, sub),
            (None, Move::Out, 0) => state.announce(channel, PresenceChange::Leave, sub),
            _ => {}
        }
    }

    /// Takes member `id` out of `channel`'s room, and tells presence.
    pub(super) fn leave(&self, state: &mut State, channel: &Channel, id: u64, sub: &str) {
        if let Some(count) = state.leave_room(channel, id, sub) {
            self.present(state, channel, sub, count, Move::Out);
        }
    }
}

impl State {
    /// Counts one more socket of `sub` in `channel`'s room; returns the count.
    pub(super) fn count_in(&mut self, channel: &Channel, sub: &str) -> u32 {
        let Some(room) = self.rooms.get_mut(channel.as_str()) else { return 0 };
        let count = room.present.entry(Arc::from(sub)).or_insert(0);
        *count += 1;
        *count
    }

    /// Takes member `id` out of `channel`'s room (the room goes with its
    /// last subscriber); returns how many sockets `sub` has left there.
    pub(super) fn leave_room(&mut self, channel: &Channel, id: u64, sub: &str) -> Option<u32> {
        let room = self.rooms.get_mut(channel.as_str())?;
        room.subscribers.remove(&id);
        let left = match room.present.get_mut(sub) {
            Some(count) if *count > 1 => {
                *count -= 1;
                Some(*count)
            }
            Some(_) => {
                room.present.remove(sub);
                Some(0)
            }
            None => None,
        };
        if room.subscribers.is_empty() {
            self.rooms.remove(channel.as_str());
        }
        left
    }

    /// Queues `join` / `leave` for the subscribers holding `presence`, but
    /// the subject's own sockets.
    pub(super) fn announce(&self, channel: &Channel, change: PresenceChange, sub: &str) {
        let Some(room) = self.rooms.get(channel.as_str()) else { return };
        let mut frame = None;
        for (member, actions) in &room.subscribers {
            if !actions.contains(Action::Presence) {
                continue;
            }
            let Some(entry) = self.members.get(member) else { continue };
            if entry.who.channel_sub == sub {
                continue;
            }
            let frame = frame.get_or_insert_with(|| {
                Utf8Bytes::from(wire::presence_change(change.as_str(), channel, sub))
            });
            entry.outbox.send(Message::Text(frame.clone()));
        }
    }
}
