//! The hub's rules, driven through its own calls with real outboxes: what a
//! socket receives, in what order, when its rights change.

use async_trait::async_trait;
use axum::extract::ws::Message;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

use super::hub::Subscribed;
use super::*;
use crate::live::test_outbox;
use crate::observe::NoObserver;
use crate::test_claims::claims;

#[derive(Debug, Default)]
struct MemoryProfiles(Mutex<HashMap<String, Profile>>);

impl MemoryProfiles {
    fn set(&self, sub: &str, grants: &[(&str, &[Action])]) {
        let grants = grants
            .iter()
            .map(|(p, a)| Grant {
                pattern: Pattern::parse(p).unwrap(),
                actions: a.iter().copied().collect(),
            })
            .collect();
        self.0.lock().unwrap().insert(sub.to_owned(), Profile { roles: vec![], grants });
    }
}

#[async_trait]
impl Profiles for MemoryProfiles {
    async fn profile(&self, sub: &str) -> Result<Profile, Unavailable> {
        Ok(self.0.lock().unwrap().get(sub).cloned().unwrap_or_default())
    }
}

struct Socket {
    id: u64,
    rx: mpsc::Receiver<Message>,
}

impl Socket {
    fn frames(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Ok(Message::Text(text)) = self.rx.try_recv() {
            frames.push(serde_json::from_str(&text).unwrap());
        }
        frames
    }
}

fn hub(profiles: Arc<MemoryProfiles>, rules: Vec<Rule>) -> Channels {
    Channels::new(
        Authorizers::new(Rules(rules)),
        profiles,
        ChannelLimits::default(),
        Arc::new(NoObserver),
    )
}

async fn join(channels: &Channels, name: &str) -> Socket {
    let (outbox, rx) = test_outbox(64);
    let (id, _) = channels.add_member(&claims(name, "j", 0, 10), vec![], outbox).await.unwrap();
    Socket { id, rx }
}

async fn subscribe(channels: &Channels, socket: &Socket, name: &str) -> Subscribed {
    let channel = Channel::parse(name).unwrap();
    let (generation, who) = channels.snapshot(socket.id).unwrap();
    let decision =
        channels.inner.authorizers.authorize(&who, &channel, Actions::ALL).await.unwrap();
    channels.subscribe(socket.id, &channel, decision, generation, None)
}

fn publish(channels: &Channels, name: &str, data: &str) -> usize {
    let data = RawValue::from_string(data.to_owned()).unwrap();
    channels.publish(&Channel::parse(name).unwrap(), &data, None).unwrap()
}

fn message(channel: &str, data: Value) -> Value {
    json!({"type": "message", "channel": channel, "data": data, "from": null})
}

#[tokio::test]
async fn a_grant_taken_away_ends_that_subscription_alone_and_nothing_of_it_follows() {
    let profiles = Arc::new(MemoryProfiles::default());
    profiles.set("alice", &[("room:*", &[Action::Subscribe, Action::Presence])]);
    let rules = vec![Rule {
        pattern: Pattern::parse("room:1").unwrap(),
        actions: Action::Subscribe.into(),
        roles: vec![],
    }];
    let channels = hub(profiles.clone(), rules);
    let mut alice = join(&channels, "alice").await;
    let mut bob = join(&channels, "bob").await;
    assert!(matches!(subscribe(&channels, &alice, "room:1").await, Subscribed::Held));
    assert!(matches!(subscribe(&channels, &alice, "room:2").await, Subscribed::Held));
    assert!(matches!(subscribe(&channels, &bob, "room:1").await, Subscribed::Held));
    assert!(matches!(subscribe(&channels, &bob, "room:2").await, Subscribed::Forbidden));
    assert_eq!(publish(&channels, "room:2", "1"), 1);
    alice.frames();
    bob.frames();

    // room:2 was alice's by her grant alone; room:1 stays hers by the rule.
    profiles.set("alice", &[]);
    channels.rights_changed("alice", Instant::now()).await;
    assert_eq!(publish(&channels, "room:2", "2"), 0, "no subscriber is left on room:2");
    assert_eq!(publish(&channels, "room:1", "3"), 2);
    let mut frames = alice.frames();
    assert_eq!(frames.pop(), Some(message("room:1", json!(3))), "the message comes last");
    frames.sort_by_key(|f| f["channel"].to_string());
    assert_eq!(
        frames,
        vec![
            json!({"type": "grant", "channel": "room:1", "actions": ["subscribe"]}),
            json!({"type": "unsubscribed", "channel": "room:2", "reason": "permission_revoked"}),
        ]
    );
    assert_eq!(bob.frames(), vec![message("room:1", json!(3))]);
    assert_eq!(channels.subscription_count(), 2);
}

#[tokio::test]
async fn a_subscription_decided_before_a_change_is_checked_again() {
    let profiles = Arc::new(MemoryProfiles::default());
    profiles.set("alice", &[("room:*", &[Action::Subscribe])]);
    let channels = hub(profiles.clone(), vec![]);
    let alice = join(&channels, "alice").await;
    let channel = Channel::parse("room:1").unwrap();
    let (generation, who) = channels.snapshot(alice.id).unwrap();
    let decision =
        channels.inner.authorizers.authorize(&who, &channel, Actions::ALL).await.unwrap();
    // The grant is deleted while the subscription is being decided.
    profiles.set("alice", &[]);
    channels.rights_changed("alice", Instant::now()).await;
    assert!(matches!(
        channels.subscribe(alice.id, &channel, decision, generation, None),
        Subscribed::Stale
    ));
    assert!(matches!(subscribe(&channels, &alice, "room:1").await, Subscribed::Forbidden));
}

#[tokio::test]
async fn a_member_that_leaves_takes_its_subscriptions_and_its_subject_with_it() {
    let profiles = Arc::new(MemoryProfiles::default());
    profiles.set("alice", &[("room:*", &Action::ALL)]);
    let channels = hub(profiles.clone(), vec![]);
    let alice = join(&channels, "alice").await;
    subscribe(&channels, &alice, "room:1").await;
    channels.remove_member(alice.id);
    assert_eq!(channels.subscription_count(), 0);
    assert_eq!(publish(&channels, "room:1", "1"), 0);
    // A new socket of the subject reads its profile again.
    profiles.set("alice", &[]);
    let again = join(&channels, "alice").await;
    assert!(matches!(subscribe(&channels, &again, "room:1").await, Subscribed::Forbidden));
}

/// An application's source that grants `room:*` while `allow` is set, for
/// `ttl` at a time.
#[derive(Debug)]
struct Switch {
    allow: std::sync::atomic::AtomicBool,
    ttl: std::time::Duration,
}

#[async_trait]
impl ChannelAuthorizer for Switch {
    async fn authorize(
        &self,
        _: &Who,
        _: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable> {
        let granted = if self.allow.load(std::sync::atomic::Ordering::SeqCst) {
            wanted
        } else {
            Actions::NONE
        };
        Ok(Decision { granted, ttl: Some(self.ttl) })
    }
}

#[tokio::test]
async fn an_answer_that_runs_out_is_asked_again_and_a_deny_ends_the_subscription() {
    let switch = Arc::new(Switch { allow: true.into(), ttl: std::time::Duration::from_millis(50) });
    let authorizers = Authorizers::new(Rules::default()).then(switch.clone());
    let channels = Channels::new(
        authorizers,
        Arc::new(NoProfiles),
        ChannelLimits::default(),
        Arc::new(NoObserver),
    );
    let mut alice = join(&channels, "alice").await;
    assert!(matches!(subscribe(&channels, &alice, "room:1").await, Subscribed::Held));
    // Asked again every 50 ms while it allows: the subscription stays.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(channels.subscription_count(), 1);
    switch.allow.store(false, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..200 {
        if channels.subscription_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(channels.subscription_count(), 0, "the deny on the next ask ended it");
    let frames = alice.frames();
    assert_eq!(
        frames.last(),
        Some(&json!({"type": "unsubscribed", "channel": "room:1", "reason": "permission_revoked"}))
    );
}
