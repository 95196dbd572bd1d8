//! Where channel rights come from. Each source is a [`ChannelAuthorizer`];
//! [`Authorizers`] asks them in order, each only for the actions the ones
//! before it did not grant. Nothing grants by default.

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use super::{Action, Actions, Channel, Pattern, Who};

/// A source of rights could not answer: whatever it would have granted is
/// refused (error code `unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a source of channel rights did not answer")]
pub struct Unavailable;

/// What a source granted, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// The actions granted (only ever some of those asked for).
    pub granted: Actions,
    /// How long the grant holds before the source must be asked again;
    /// `None` while nothing changes (the source tells the hub of changes,
    /// [`Channels::rights_changed`](super::Channels::rights_changed)).
    pub ttl: Option<Duration>,
}

impl Decision {
    /// `granted` for as long as nothing changes.
    #[must_use]
    pub fn lasting(granted: Actions) -> Self {
        Self { granted, ttl: None }
    }

    /// Adds `granted` for `ttl` (`None`: while nothing changes): the
    /// decision then lasts as long as the shortest-lived of its grants.
    pub fn add(&mut self, granted: Actions, ttl: Option<Duration>) {
        if granted.is_empty() {
            return;
        }
        self.granted = self.granted.union(granted);
        self.ttl = match (self.ttl, ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A source of channel rights. Implement it to plug an application's own
/// rules in, and give it to [`Authorizers::then`].
#[async_trait]
pub trait ChannelAuthorizer: Send + Sync + std::fmt::Debug + 'static {
    /// Which of `wanted` the socket `who` holds on `channel`.
    async fn authorize(
        &self,
        who: &Who,
        channel: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable>;
}

/// One rule of the server's configuration: the actions granted on the
/// channels `pattern` matches, to every socket or to those holding one of
/// `roles`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The channels.
    pub pattern: Pattern,
    /// What may be done on them.
    pub actions: Actions,
    /// Sockets holding any of these roles; every socket when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Rule {
    fn grants(&self, who: &Who, channel: &Channel) -> Actions {
        let role_fits = self.roles.is_empty() || self.roles.iter().any(|r| who.roles.contains(r));
        if role_fits && self.pattern.matches(channel, &who.channel_sub) {
            self.actions
        } else {
            Actions::NONE
        }
    }
}

/// The server's rules: the union of every rule that matches (no rule
/// shadows another).
#[derive(Debug, Clone, Default)]
pub struct Rules(pub Vec<Rule>);

#[async_trait]
impl ChannelAuthorizer for Rules {
    async fn authorize(
        &self,
        who: &Who,
        channel: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable> {
        let granted = self.0.iter().fold(Actions::NONE, |set, r| set.union(r.grants(who, channel)));
        Ok(Decision::lasting(granted.intersection(wanted)))
    }
}

/// The socket's stored per-user grants ([`Who::grants`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredGrants;

#[async_trait]
impl ChannelAuthorizer for StoredGrants {
    async fn authorize(
        &self,
        who: &Who,
        channel: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable> {
        let granted = who
            .grants
            .iter()
            .filter(|g| g.pattern.matches(channel, &who.channel_sub))
            .fold(Actions::NONE, |set, g| set.union(g.actions));
        Ok(Decision::lasting(granted.intersection(wanted)))
    }
}

/// Sources of rights asked in order, each only for what the ones before
/// it did not grant. The grant is the union of their answers; it lasts as
/// long as the shortest-lived answer that granted something.
#[derive(Debug, Clone, Default)]
pub struct Authorizers(Vec<Arc<dyn ChannelAuthorizer>>);

impl Authorizers {
    /// The server's rules, then the stored grants.
    #[must_use]
    pub fn new(rules: Rules) -> Self {
        Self(vec![Arc::new(rules), Arc::new(StoredGrants)])
    }

    /// Asks `source` after the others.
    #[must_use]
    pub fn then(mut self, source: Arc<dyn ChannelAuthorizer>) -> Self {
        self.0.push(source);
        self
    }

    /// Which of `wanted` `who` holds on `channel`. A source that does not
    /// answer refuses everything still wanted: fail closed.
    pub async fn authorize(
        &self,
        who: &Who,
        channel: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable> {
        let mut decision = Decision::default();
        for source in &self.0 {
            let missing = wanted.without(decision.granted);
            if missing.is_empty() {
                break;
            }
            let answer = source.authorize(who, channel, missing).await?;
            decision.add(answer.granted.intersection(missing), answer.ttl);
        }
        Ok(decision)
    }

    /// Whether `who` may do `action` on `channel`.
    pub async fn allows(
        &self,
        who: &Who,
        channel: &Channel,
        action: Action,
    ) -> Result<bool, Unavailable> {
        Ok(self.authorize(who, channel, action.into()).await?.granted.contains(action))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Profile};
    use super::*;
    use crate::test_claims::claims;

    fn who(name: &str, roles: &[&str], grants: Vec<Grant>) -> Who {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        Who::new(&claims(name, "j", 0, 10), &roles, Profile { roles: vec![], grants })
    }

    fn rule(pattern: &str, actions: &[Action], roles: &[&str]) -> Rule {
        Rule {
            pattern: Pattern::parse(pattern).unwrap(),
            actions: actions.iter().copied().collect(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[derive(Debug)]
    struct Down;
    #[async_trait]
    impl ChannelAuthorizer for Down {
        async fn authorize(
            &self,
            _: &Who,
            _: &Channel,
            _: Actions,
        ) -> Result<Decision, Unavailable> {
            Err(Unavailable)
        }
    }

    #[tokio::test]
    async fn nothing_is_granted_by_default_and_every_matching_rule_adds() {
        let ch = Channel::parse("room:42").unwrap();
        let none = Authorizers::new(Rules::default());
        assert!(
            none.authorize(&who("alice", &[], vec![]), &ch, Actions::ALL)
                .await
                .unwrap()
                .granted
                .is_empty()
        );
        let rules = Authorizers::new(Rules(vec![
            rule("room:*", &[Action::Subscribe], &[]),
            rule("room:42", &[Action::Publish], &["mod"]),
        ]));
        let plain = rules.authorize(&who("alice", &[], vec![]), &ch, Actions::ALL).await.unwrap();
        assert_eq!(plain.granted, Action::Subscribe.into());
        let moderator =
            rules.authorize(&who("bob", &["mod"], vec![]), &ch, Actions::ALL).await.unwrap();
        assert_eq!(moderator.granted, [Action::Subscribe, Action::Publish].into_iter().collect());
    }

    #[tokio::test]
    async fn grants_add_to_rules_and_a_silent_source_fails_closed() {
        let ch = Channel::parse("user:alice:inbox").unwrap();
        let grant =
            Grant { pattern: Pattern::parse("user:{sub}:>").unwrap(), actions: Actions::ALL };
        let sources = Authorizers::new(Rules::default());
        let alice = who("alice", &[], vec![grant.clone()]);
        assert_eq!(
            sources.authorize(&alice, &ch, Actions::ALL).await.unwrap().granted,
            Actions::ALL
        );
        let bob = who("bob", &[], vec![grant]);
        assert!(sources.authorize(&bob, &ch, Actions::ALL).await.unwrap().granted.is_empty());
        let with_down = sources.then(Arc::new(Down));
        assert_eq!(
            with_down.authorize(&alice, &ch, Actions::ALL).await.unwrap().granted,
            Actions::ALL,
            "not asked: all granted before it"
        );
        assert_eq!(with_down.authorize(&bob, &ch, Actions::ALL).await, Err(Unavailable));
    }
}
