//! [`Channels`]: one node's channels. It knows which sockets are subscribed
//! to which channel with which actions, delivers published messages to them
//! through their [`Outbox`], keeps presence, and re-checks a subject's
//! subscriptions when its rights change.
//!
//! Every frame that tells a socket about a subscription (`subscribed`,
//! `unsubscribed`, `grant`, `message`, `join`, `leave`) is queued on the
//! socket's outbox while the hub's lock is held, so a socket sees them in
//! the order the hub decided them: after an `unsubscribed`, no `message` of
//! that channel until a new `subscribed`.

use axum::extract::ws::{Message, Utf8Bytes};
use serde_json::value::RawValue;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::presence::{ChannelPresence, Move};
use super::wire::{self, Reason};
use super::{
    Action, Actions, Authorizers, Channel, ChannelLimits, Decision, Profile, Profiles, Unavailable,
    Who,
};
use crate::Outbox;
use crate::observe::{Direction, Observer};

/// One node's channels. Cheap to clone.
#[derive(Clone)]
pub struct Channels {
    pub(super) inner: Arc<Hub>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels").finish_non_exhaustive()
    }
}

pub(super) struct Hub {
    state: Mutex<State>,
    /// Woken when a nearer expiry of a source's answer is scheduled.
    pub(super) wake: Arc<Notify>,
    pub(super) authorizers: Authorizers,
    pub(super) profiles: Arc<dyn Profiles>,
    pub(super) limits: ChannelLimits,
    pub(super) observer: Arc<dyn Observer>,
    /// The other nodes, in a cluster.
    bus: OnceLock<Arc<dyn ChannelBus>>,
    /// Whether this node's view of rights is current (else nothing is delivered).
    freshness: OnceLock<Arc<dyn Freshness>>,
    /// Presence across the nodes, in a cluster.
    pub(super) presence: OnceLock<Arc<dyn ChannelPresence>>,
}

/// Carries messages published on this node to the other nodes of a
/// cluster, which hand them to [`Channels::receive`].
pub trait ChannelBus: Send + Sync + std::fmt::Debug + 'static {
    /// A message published here (and delivered here already). Must not
    /// block: called while publishing.
    fn send(&self, channel: &Channel, data: &RawValue, from: Option<&str>);
}

/// Whether this node's view of who may do what is current. A node whose
/// view is stale delivers no channel message: a right taken away elsewhere
/// may not have reached it.
pub trait Freshness: Send + Sync + 'static {
    /// Whether the view is current.
    fn is_current(&self) -> bool;
}

#[derive(Default)]
pub(super) struct State {
    next_id: u64,
    pub(super) rooms: HashMap<Arc<str>, Room>,
    pub(super) members: HashMap<u64, MemberEntry>,
    /// By the claims' `sub`: what rights changes are announced by.
    pub(super) subjects: HashMap<Arc<str>, Subject>,
    /// When a source's answer for a subscription runs out (member, channel):
    /// the subscription is checked again then.
    pub(super) expiries: BTreeSet<(Instant, u64, Arc<str>)>,
}

/// A channel with at least one subscriber.
#[derive(Default)]
pub(super) struct Room {
    pub(super) subscribers: HashMap<u64, Actions>,
    /// Channel subjects with a subscribed socket, and how many.
    pub(super) present: HashMap<Arc<str>, u32>,
}

pub(super) struct MemberEntry {
    pub(super) who: Arc<Who>,
    pub(super) token_roles: Arc<[String]>,
    pub(super) outbox: Outbox,
    /// The channels this socket is subscribed to, with what it holds there.
    pub(super) subscriptions: HashMap<Arc<str>, Actions>,
}

/// A subject with at least one socket using channels.
pub(super) struct Subject {
    /// Raised by every rights change: an answer computed from an older
    /// profile is not applied.
    pub(super) generation: u64,
    pub(super) profile: Profile,
    pub(super) members: Vec<u64>,
}

/// What a subscription attempt came to.
pub(super) enum Subscribed {
    Held,
    Forbidden,
    TooMany,
    /// The subject's rights changed while they were checked: check again.
    Stale,
}

impl Channels {
    /// Channels whose rights come from `authorizers`, with stored profiles
    /// from `profiles`.
    #[must_use]
    pub fn new(
        authorizers: Authorizers,
        profiles: Arc<dyn Profiles>,
        limits: ChannelLimits,
        observer: Arc<dyn Observer>,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let hub = Hub {
            state: Mutex::default(),
            wake,
            authorizers,
            profiles,
            limits,
            observer,
            bus: OnceLock::new(),
            freshness: OnceLock::new(),
            presence: OnceLock::new(),
        };
        let channels = Self { inner: Arc::new(hub) };
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(super::recheck::expiries(Arc::downgrade(&channels.inner)));
        }
        channels
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket (bound to `claims`, with `token_roles` from its
    /// token) whose channel frames go to `outbox`. Loads the subject's stored
    /// profile unless another of its sockets already did.
    pub(super) async fn add_member(
        &self,
        claims: &crate::Claims,
        token_roles: Vec<String>,
        outbox: Outbox,
    ) -> Result<(u64, Arc<Who>), Unavailable> {
        loop {
            let known = {
                let state = self.lock();
                state.subjects.get(claims.sub.as_str()).map(|s| (s.generation, s.profile.clone()))
            };
            let (generation, profile) = match known {
                Some(known) => known,
                None => (0, self.inner.profiles.profile(&claims.sub).await?),
            };
            let who = Arc::new(Who::new(claims, &token_roles, profile.clone()));
            let mut state = self.lock();
            let subject = state
                .subjects
                .entry(Arc::from(claims.sub.as_str()))
                .or_insert_with(|| Subject { generation, profile, members: Vec::new() });
            if subject.generation != generation {
                continue;
            }
            state.next_id += 1;
            let id = state.next_id;
            if let Some(subject) = state.subjects.get_mut(claims.sub.as_str()) {
                subject.members.push(id);
            }
            let entry = MemberEntry {
                who: who.clone(),
                token_roles: token_roles.into(),
                outbox,
                subscriptions: HashMap::new(),
            };
            state.members.insert(id, entry);
            return Ok((id, who));
        }
    }

    /// Forgets a socket and every subscription it held (no frame is sent:
    /// the socket is gone).
    pub(super) fn remove_member(&self, id: u64) {
        let mut state = self.lock();
        let Some(entry) = state.members.remove(&id) else { return };
        let ended = entry.subscriptions.len();
        for channel in entry.subscriptions.keys() {
            let channel = Channel::checked(channel.clone());
            self.inner.leave(&mut state, &channel, id, &entry.who.channel_sub);
        }
        if let Some(subject) = state.subjects.get_mut(entry.who.sub.as_str()) {
            subject.members.retain(|m| *m != id);
            if subject.members.is_empty() {
                state.subjects.remove(entry.who.sub.as_str());
            }
        }
        drop(state);
        self.subscriptions_changed(-(i64::try_from(ended).unwrap_or(i64::MAX)));
    }

    /// Member `id`'s identity now.
    pub(super) fn who(&self, id: u64) -> Option<Arc<Who>> {
        Some(self.lock().members.get(&id)?.who.clone())
    }

    /// Member `id`'s identity now, with the generation of its subject's
    /// rights it was built from.
    pub(super) fn snapshot(&self, id: u64) -> Option<(u64, Arc<Who>)> {
        let state = self.lock();
        let who = state.members.get(&id)?.who.clone();
        let generation = state.subjects.get(who.sub.as_str()).map_or(0, |s| s.generation);
        Some((generation, who))
    }

    /// Subscribes member `id` to `channel` with what `decision` granted (as
    /// decided at `generation`), and queues `subscribed` (with the client's
    /// `id`). A grant with a lifetime is checked again when it runs out.
    pub(super) fn subscribe(
        &self,
        member: u64,
        channel: &Channel,
        decision: Decision,
        generation: u64,
        request: Option<&str>,
    ) -> Subscribed {
        let held = decision.granted;
        let mut state = self.lock();
        let Some(entry) = state.members.get(&member) else { return Subscribed::Forbidden };
        if state.subjects.get(entry.who.sub.as_str()).map_or(0, |s| s.generation) != generation {
            return Subscribed::Stale;
        }
        if !held.contains(Action::Subscribe) {
            return Subscribed::Forbidden;
        }
        let again = entry.subscriptions.contains_key(channel.as_str());
        if !again && entry.subscriptions.len() >= self.inner.limits.max_subscriptions {
            return Subscribed::TooMany;
        }
        let channel_sub: Arc<str> = Arc::from(entry.who.channel_sub.as_str());
        let frame = wire::subscribed(request, channel, held);
        let outbox = entry.outbox.clone();
        if let Some(entry) = state.members.get_mut(&member) {
            entry.subscriptions.insert(channel.shared().clone(), held);
        }
        let room = state.rooms.entry(channel.shared().clone()).or_default();
        room.subscribers.insert(member, held);
        outbox.send(Message::text(frame));
        if let Some(ttl) = decision.ttl {
            state.expire(member, channel, ttl, &self.inner.wake);
        }
        if !again {
            let count = state.count_in(channel, &channel_sub);
            self.inner.present(&state, channel, &channel_sub, count, Move::In);
        }
        drop(state);
        if !again {
            self.subscriptions_changed(1);
        }
        Subscribed::Held
    }

    /// Ends member `id`'s subscription to `channel` and queues
    /// `unsubscribed` with `reason` (and the client's `id`, if it asked).
    pub(super) fn unsubscribe(
        &self,
        member: u64,
        channel: &Channel,
        reason: Reason,
        request: Option<&str>,
    ) {
        let mut state = self.lock();
        let Some(entry) = state.members.get_mut(&member) else { return };
        let was = entry.subscriptions.remove(channel.as_str()).is_some();
        let outbox = entry.outbox.clone();
        let channel_sub = entry.who.channel_sub.clone();
        // The socket learns first, then the others.
        outbox.send(Message::text(wire::unsubscribed(request, channel, reason)));
        if was {
            self.inner.leave(&mut state, channel, member, &channel_sub);
        }
        drop(state);
        if was {
            self.subscriptions_changed(-1);
        }
    }

    /// What member `id` holds on `channel` while subscribed to it.
    pub(super) fn held(&self, member: u64, channel: &Channel) -> Option<Actions> {
        self.lock().members.get(&member)?.subscriptions.get(channel.as_str()).copied()
    }

    /// Sends what this node publishes to the other nodes through `bus`
    /// (once; later calls are ignored).
    pub fn attach_bus(&self, bus: Arc<dyn ChannelBus>) {
        let _ = self.inner.bus.set(bus);
    }

    /// Delivers nothing while `freshness` says this node's view is stale
    /// (once; later calls are ignored).
    pub fn attach_freshness(&self, freshness: Arc<dyn Freshness>) {
        let _ = self.inner.freshness.set(freshness);
    }

    fn is_current(&self) -> bool {
        self.inner.freshness.get().is_none_or(|f| f.is_current())
    }

    /// Publishes `data` (JSON text) to `channel` from the channel subject
    /// `from` (`None`: a backend): delivered to every socket subscribed here,
    /// and sent to the other nodes. Returns how many sockets here it was
    /// queued for; refused while this node's view is stale.
    pub fn publish(
        &self,
        channel: &Channel,
        data: &RawValue,
        from: Option<&str>,
    ) -> Result<usize, Unavailable> {
        if !self.is_current() {
            return Err(Unavailable);
        }
        self.inner.observer.channel_messages(Direction::In, 1);
        let sent = self.deliver(channel, data, from);
        if let Some(bus) = self.inner.bus.get() {
            bus.send(channel, data, from);
        }
        Ok(sent)
    }

    /// A message another node published: delivered to the sockets
    /// subscribed here, unless this node's view is stale. Returns how many
    /// sockets it was queued for.
    #[allow(clippy::must_use_candidate)]
    pub fn receive(&self, channel: &Channel, data: &RawValue, from: Option<&str>) -> usize {
        if !self.is_current() {
            return 0;
        }
        self.deliver(channel, data, from)
    }

    /// Queues the `message` frame for every socket subscribed here.
    fn deliver(&self, channel: &Channel, data: &RawValue, from: Option<&str>) -> usize {
        let state = self.lock();
        let Some(room) = state.rooms.get(channel.as_str()) else { return 0 };
        // Written once, shared by every subscriber's queue.
        let frame = Utf8Bytes::from(wire::message(channel, data, from));
        let mut sent = 0;
        for member in room.subscribers.keys() {
            if let Some(entry) = state.members.get(member) {
                sent += usize::from(entry.outbox.send(Message::Text(frame.clone())));
            }
        }
        drop(state);
        self.inner.observer.channel_messages(Direction::Out, sent as u64);
        sent
    }

    /// How many socket-channel subscriptions this node holds.
    #[must_use]
    pub fn subscription_count(&self) -> usize {
        self.lock().rooms.values().map(|r| r.subscribers.len()).sum()
    }

    fn subscriptions_changed(&self, delta: i64) {
        if delta != 0 {
            self.inner.observer.channel_subscriptions(delta);
        }
    }
}

impl State {
    /// Schedules the check of member `id`'s subscription to `channel` for
    /// when a source's answer runs out, `ttl` from now.
    pub(super) fn expire(&mut self, id: u64, channel: &Channel, ttl: Duration, wake: &Notify) {
        let at = Instant::now() + ttl;
        let nearer = self.expiries.first().is_none_or(|(first, _, _)| at < *first);
        self.expiries.insert((at, id, channel.shared().clone()));
        if nearer {
            wake.notify_one();
        }
    }
}
