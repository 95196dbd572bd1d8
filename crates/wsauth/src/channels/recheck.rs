//! Checking subscriptions again: all of a subject's when its rights changed
//! ([`Channels::rights_changed`]), and one when a source's answer for it ran
//! out (the expiry task). A subscription whose right to subscribe is gone
//! ends with `unsubscribed` (`permission_revoked`, or `unavailable` when a
//! source did not answer); one whose other actions changed gets `grant`.

use axum::extract::ws::Message;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::hub::{Hub, State};
use super::wire::{self, Reason};
use super::{Action, Actions, Channel, Channels, Decision, Unavailable, Who};

/// A socket whose subscriptions are checked again.
struct Recheck {
    id: u64,
    who: Arc<Who>,
    token_roles: Arc<[String]>,
    channels: Vec<Channel>,
}

/// What a check of one subscription found.
type Verdict = (Channel, Result<Decision, Unavailable>);

impl Channels {
    /// Re-checks every subject with a socket on channels, as
    /// [`Channels::rights_changed`] does for one: for when changes may have
    /// been missed.
    pub async fn recheck_all(&self, since: Instant) {
        let subjects: Vec<Arc<str>> = self.lock().subjects.keys().cloned().collect();
        for sub in subjects {
            self.rights_changed(&sub, since).await;
        }
    }

    /// The rights of the subject `sub` (the claims' subject) changed: its
    /// stored profile is read again and every subscription of its sockets
    /// is checked again. When this returns, no message published afterwards
    /// reaches a subscription that lost its right. `since` is when the
    /// change was learned (what `wsauth_channel_revocation_seconds` counts
    /// from).
    pub async fn rights_changed(&self, sub: &str, since: Instant) {
        let Some((generation, members)) = self.begin_change(sub) else { return };
        let profile = self.inner.profiles.profile(sub).await;
        let mut verdicts = Vec::new();
        for Recheck { id, who, token_roles, channels } in members {
            let who = match &profile {
                Ok(profile) => Arc::new(who.with_profile(&token_roles, profile.clone())),
                Err(Unavailable) => who,
            };
            let mut held: Vec<Verdict> = Vec::with_capacity(channels.len());
            for channel in channels {
                let answer = match &profile {
                    Ok(_) => self.inner.authorizers.authorize(&who, &channel, Actions::ALL).await,
                    Err(e) => Err(*e),
                };
                held.push((channel, answer));
            }
            verdicts.push((id, who, held));
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        match state.subjects.get_mut(sub) {
            // A later change is being applied: it reads a newer profile.
            Some(subject) if subject.generation != generation => return,
            None => return,
            Some(subject) => {
                if let Ok(profile) = profile {
                    subject.profile = profile;
                }
            }
        }
        let mut ended = 0;
        for (id, who, held) in verdicts {
            if let Some(entry) = state.members.get_mut(&id) {
                entry.who = who;
            }
            for (channel, answer) in held {
                ended += state.apply(&self.inner, id, &channel, answer, since);
            }
        }
        drop(guard);
        self.subscriptions_ended(ended);
    }

    /// Member `id`'s token now carries `roles` (an in-band refresh): its
    /// subscriptions are checked again with them.
    pub async fn token_roles_changed(&self, id: u64, roles: Vec<String>, since: Instant) {
        let (generation, who, channels) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            let Some(entry) = state.members.get_mut(&id) else { return };
            if *entry.token_roles == *roles {
                return;
            }
            let Some(subject) = state.subjects.get_mut(entry.who.sub.as_str()) else { return };
            // Subscriptions being decided from the old roles decide again.
            subject.generation += 1;
            let who = Arc::new(entry.who.with_profile(&roles, subject.profile.clone()));
            entry.token_roles = roles.into();
            entry.who = who.clone();
            let channels: Vec<Channel> =
                entry.subscriptions.keys().cloned().map(Channel::checked).collect();
            (subject.generation, who, channels)
        };
        let mut held: Vec<Verdict> = Vec::with_capacity(channels.len());
        for channel in channels {
            let answer = self.inner.authorizers.authorize(&who, &channel, Actions::ALL).await;
            held.push((channel, answer));
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        // A change of the subject's rights began meanwhile: it checks these
        // subscriptions itself, with the new roles.
        if state.subjects.get(who.sub.as_str()).map(|s| s.generation) != Some(generation) {
            return;
        }
        let mut ended = 0;
        for (channel, answer) in held {
            ended += state.apply(&self.inner, id, &channel, answer, since);
        }
        drop(guard);
        self.subscriptions_ended(ended);
    }

    /// Raises `sub`'s generation and lists its sockets with their
    /// subscriptions; `None` when it has no socket on channels.
    fn begin_change(&self, sub: &str) -> Option<(u64, Vec<Recheck>)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let subject = state.subjects.get_mut(sub)?;
        subject.generation += 1;
        let members = subject
            .members
            .iter()
            .filter_map(|id| {
                let e = state.members.get(id)?;
                let channels = e.subscriptions.keys().cloned().map(Channel::checked).collect();
                Some(Recheck {
                    id: *id,
                    who: e.who.clone(),
                    token_roles: e.token_roles.clone(),
                    channels,
                })
            })
            .collect();
        Some((subject.generation, members))
    }

    /// Checks member `id`'s subscription to `channel` again (a source's
    /// answer for it ran out).
    async fn recheck_one(&self, id: u64, channel: Channel) {
        let Some((generation, who)) = self.snapshot(id) else { return };
        if self.held(id, &channel).is_none() {
            return;
        }
        let since = Instant::now();
        let answer = self.inner.authorizers.authorize(&who, &channel, Actions::ALL).await;
        let mut guard = self.lock();
        let state = &mut *guard;
        let current = state.subjects.get(who.sub.as_str()).map(|s| s.generation);
        // A change of the subject's rights began meanwhile: it checks this
        // subscription itself.
        if current != Some(generation) {
            return;
        }
        let ended = state.apply(&self.inner, id, &channel, answer, since);
        drop(guard);
        self.subscriptions_ended(ended);
    }

    fn subscriptions_ended(&self, ended: i64) {
        if ended > 0 {
            self.inner.observer.channel_subscriptions(-ended);
        }
    }
}

impl State {
    /// Applies what a check of member `id`'s subscription to `channel`
    /// found; returns 1 if it ended the subscription.
    fn apply(
        &mut self,
        hub: &Hub,
        id: u64,
        channel: &Channel,
        answer: Result<Decision, Unavailable>,
        since: Instant,
    ) -> i64 {
        let Some(entry) = self.members.get_mut(&id) else { return 0 };
        let Some(before) = entry.subscriptions.get(channel.as_str()).copied() else { return 0 };
        let outbox = entry.outbox.clone();
        let channel_sub = entry.who.channel_sub.clone();
        let reason = match answer {
            Ok(decision) if decision.granted.contains(Action::Subscribe) => {
                let now = decision.granted;
                if now != before {
                    entry.subscriptions.insert(channel.shared().clone(), now);
                    if let Some(room) = self.rooms.get_mut(channel.as_str()) {
                        room.subscribers.insert(id, now);
                    }
                    outbox.send(Message::text(wire::grant(channel, now)));
                }
                if let Some(ttl) = decision.ttl {
                    self.expire(id, channel, ttl, &hub.wake);
                }
                return 0;
            }
            Ok(_) => Reason::PermissionRevoked,
            Err(Unavailable) => Reason::Unavailable,
        };
        entry.subscriptions.remove(channel.as_str());
        outbox.send(Message::text(wire::unsubscribed(None, channel, reason)));
        hub.leave(self, channel, id, &channel_sub);
        hub.observer.channel_revoked(since.elapsed());
        1
    }

    /// Takes the expiries that are due at `now`; returns them and how long
    /// until the next one.
    fn due(&mut self, now: Instant) -> (Vec<(u64, Channel)>, Option<Duration>) {
        let mut due = Vec::new();
        while let Some((at, _, _)) = self.expiries.first() {
            if *at > now {
                return (due, Some(*at - now));
            }
            if let Some((_, id, channel)) = self.expiries.pop_first() {
                due.push((id, Channel::checked(channel)));
            }
        }
        (due, None)
    }
}

/// The one task that checks subscriptions again when a source's answer for
/// them runs out: it sleeps until the earliest expiry, or until a nearer one
/// is scheduled, and ends with the hub.
pub(super) async fn expiries(hub: Weak<Hub>) {
    loop {
        let Some(inner) = hub.upgrade() else { return };
        let channels = Channels { inner };
        let (due, wait) = channels.lock().due(Instant::now());
        for (id, channel) in due {
            channels.recheck_one(id, channel).await;
        }
        // Only the wake-up is held while waiting: the hub may go.
        let wake = channels.inner.wake.clone();
        drop(channels);
        let wait = wait.unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
    }
}
