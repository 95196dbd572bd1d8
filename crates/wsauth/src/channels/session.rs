//! A socket's side of channels: [`ChannelSession`] answers the channel
//! commands of one [`LiveSocket`], joining the hub on the first one so that
//! a socket that never uses channels costs the hub nothing.

use axum::extract::ws::Message;
use std::num::NonZeroU64;
use std::sync::Arc;

use super::hub::Subscribed;
use super::wire::{self, Command, Kind, Reason};
use super::{Action, Actions, Channel, Channels, Who};
use crate::{Claims, LiveSocket};

/// How often a subscription is tried again when the subject's rights
/// changed while it was checked.
const STALE_RETRIES: usize = 3;

/// Where a token carries its roles, for channel rules (the server: a
/// trusted issuer's `roles_claim`). Shared by every socket.
pub type RolesOf = Arc<dyn Fn(&Claims) -> Vec<String> + Send + Sync>;

/// One socket's channels. Until its first channel command it is three
/// words and the hub does not know it; dropping it ends its subscriptions
/// (no frame is sent: the socket is closing).
pub struct ChannelSession {
    channels: Channels,
    roles_of: RolesOf,
    /// The hub's id for this socket, once it joined.
    member: Option<NonZeroU64>,
}

impl std::fmt::Debug for ChannelSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSession").field("member", &self.member).finish_non_exhaustive()
    }
}

/// What [`ChannelSession::handle`] did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Not a channel command: the frame is the application's.
    NotChannel,
    /// Answered: the answer is queued on the socket.
    Answered,
}

/// A refused command: its error code and words.
struct Refusal(&'static str, &'static str);

const FORBIDDEN: Refusal = Refusal("forbidden", "This socket may not do that on this channel");
const UNAVAILABLE: Refusal =
    Refusal("unavailable", "A source of channel rights did not answer; try again later");

impl ChannelSession {
    /// A session on `channels` for a socket whose token's roles
    /// `roles_of` reads. A socket that joins the hub also re-checks its
    /// subscriptions after each in-band refresh to a token with other roles
    /// ([`LiveSocket::on_rebound`]).
    #[must_use]
    pub fn new(channels: Channels, roles_of: RolesOf) -> Self {
        Self { channels, roles_of, member: None }
    }

    /// Answers `text` if it is a channel command (`subscribe`,
    /// `unsubscribe`, `publish`, `presence`), queuing the answer on `socket`.
    pub async fn handle(&mut self, socket: &mut LiveSocket, text: &str) -> Handled {
        let Some(command) = wire::command(text) else { return Handled::NotChannel };
        // An id over the limit is refused, and not echoed.
        let id = command.id.as_deref().filter(|id| id.len() <= wire::MAX_REQUEST_ID_LEN);
        let reply = match self.run(socket, &command).await {
            Ok(Some(reply)) => reply,
            Ok(None) => return Handled::Answered,
            Err(Refusal(code, detail)) => {
                self.channels.inner.observer.channel_denied(code);
                wire::error(id, command.kind, code, detail)
            }
        };
        socket.send(Message::text(reply));
        Handled::Answered
    }

    async fn run(
        &mut self,
        socket: &mut LiveSocket,
        command: &Command<'_>,
    ) -> Result<Option<String>, Refusal> {
        let id = command.id.as_deref();
        if id.is_some_and(|id| id.len() > wire::MAX_REQUEST_ID_LEN) {
            return Err(Refusal("unknown_command", "A request id is a string of at most 64 bytes"));
        }
        let Some(name) = command.channel.as_deref() else {
            return Err(Refusal("bad_channel", "A channel command names its channel as a string"));
        };
        let channel = Channel::parse(name).map_err(|e| Refusal("bad_channel", e.reason()))?;
        let member = self.member(socket).await?;
        let hub = &self.channels;
        match command.kind {
            Kind::Subscribe => self.subscribe(member, &channel, id).await.map(|()| None),
            Kind::Unsubscribe => {
                hub.unsubscribe(member, &channel, Reason::Client, id);
                Ok(None)
            }
            Kind::Publish => {
                let Some(data) = command.data else {
                    return Err(Refusal(
                        "unknown_command",
                        "A publish carries its message as `data`",
                    ));
                };
                self.require(member, &channel, Action::Publish).await?;
                let who = hub.who(member).ok_or(FORBIDDEN)?;
                hub.publish(&channel, data, Some(&who.channel_sub)).map_err(|_| UNAVAILABLE)?;
                Ok(Some(wire::published(id, &channel)))
            }
            Kind::Presence => {
                self.require(member, &channel, Action::Presence).await?;
                let limit = hub.inner.limits.max_presence_listed;
                let (members, truncated) =
                    hub.members(&channel, limit).await.map_err(|_| UNAVAILABLE)?;
                Ok(Some(wire::presence(id, &channel, &members, truncated)))
            }
        }
    }

    /// The hub's id for this socket, joining on first use: from then on
    /// an in-band refresh to a token with other roles re-checks the
    /// socket's subscriptions.
    async fn member(&mut self, socket: &mut LiveSocket) -> Result<u64, Refusal> {
        if let Some(member) = self.member {
            return Ok(member.get());
        }
        let outbox = socket.outbox();
        let roles = (self.roles_of)(socket.claims());
        let (member, _) = self
            .channels
            .add_member(socket.claims(), roles, outbox)
            .await
            .map_err(|_| UNAVAILABLE)?;
        let (channels, roles_of) = (self.channels.clone(), self.roles_of.clone());
        socket.on_rebound(move |claims| {
            let (channels, roles) = (channels.clone(), roles_of(claims));
            tokio::spawn(async move {
                channels.token_roles_changed(member, roles, std::time::Instant::now()).await;
            });
        });
        self.member = NonZeroU64::new(member);
        Ok(member)
    }

    async fn subscribe(
        &self,
        member: u64,
        channel: &Channel,
        id: Option<&str>,
    ) -> Result<(), Refusal> {
        let hub = &self.channels;
        for _ in 0..STALE_RETRIES {
            let (generation, who) = hub.snapshot(member).ok_or(FORBIDDEN)?;
            let decision = hub
                .inner
                .authorizers
                .authorize(&who, channel, Actions::ALL)
                .await
                .map_err(|_| UNAVAILABLE)?;
            match hub.subscribe(member, channel, decision, generation, id) {
                Subscribed::Held => return Ok(()),
                Subscribed::Forbidden => return Err(FORBIDDEN),
                Subscribed::TooMany => {
                    return Err(Refusal(
                        "too_many_subscriptions",
                        "This socket holds the most subscriptions allowed",
                    ));
                }
                Subscribed::Stale => {}
            }
        }
        Err(UNAVAILABLE)
    }

    /// Refuses unless the socket holds `action` on `channel`: from its
    /// subscription when it has one, else from the sources of rights.
    async fn require(&self, member: u64, channel: &Channel, action: Action) -> Result<(), Refusal> {
        let hub = &self.channels;
        if hub.held(member, channel).is_some_and(|held| held.contains(action)) {
            return Ok(());
        }
        let who: Arc<Who> = hub.who(member).ok_or(FORBIDDEN)?;
        match hub.inner.authorizers.allows(&who, channel, action).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(FORBIDDEN),
            Err(_) => Err(UNAVAILABLE),
        }
    }
}

impl Drop for ChannelSession {
    fn drop(&mut self) {
        if let Some(member) = self.member.take() {
            self.channels.remove_member(member.get());
        }
    }
}
