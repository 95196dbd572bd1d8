//! `--subscribe`: after the welcome frame a socket subscribes to a channel,
//! and counts as open only once the server answers `subscribed`, so that
//! what is measured is a socket the server holds a subscription for. (Or,
//! with `joined`, it only unsubscribes from a channel it does not hold: the
//! server then keeps what any socket that used channels costs, and no
//! subscription.)

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::str::FromStr;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Why a socket did not get its subscription: a kind string for the
/// report's error counts (`subscribe_<error code>`, `closed_<code>`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotSubscribed(pub(crate) String);

impl NotSubscribed {
    fn unexpected() -> Self {
        Self("unexpected_frame".to_owned())
    }

    /// The socket closed (with this close code) before the answer.
    fn closed(code: Option<u16>) -> Self {
        Self(code.map_or_else(|| "closed".to_owned(), |code| format!("closed_{code}")))
    }
}

/// The channel each socket subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subscription {
    /// Every socket subscribes to this one channel (`shared:room:1`).
    Shared(String),
    /// Each socket subscribes to its own `user:<channel_sub>:inbox`, where
    /// `channel_sub` is what its welcome frame names (`personal`).
    Personal,
    /// Each socket unsubscribes from `room:1` (`joined`), which it does not
    /// hold: it joins the server's channels and holds no subscription.
    Joined,
}

/// The channel used by [`Subscription::Joined`].
const JOINED_CHANNEL: &str = "room:1";

impl FromStr for Subscription {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "personal" => return Ok(Self::Personal),
            "joined" => return Ok(Self::Joined),
            _ => {}
        }
        match s.strip_prefix("shared:") {
            Some(channel) if !channel.is_empty() && channel.len() <= 255 => {
                Ok(Self::Shared(channel.to_owned()))
            }
            _ => Err(
                "expected `shared:<channel>` (a channel of 1 to 255 bytes), `personal` or `joined`"
                    .to_owned(),
            ),
        }
    }
}

/// The fields of a server frame this module reads.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    channel_sub: Option<String>,
    channel: Option<String>,
    error: Option<String>,
}

impl Subscription {
    /// The option's value, for reports.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Shared(channel) => format!("shared:{channel}"),
            Self::Personal => "personal".to_owned(),
            Self::Joined => "joined".to_owned(),
        }
    }

    /// The channel to subscribe to, for a socket whose welcome frame is `welcome`.
    pub(crate) fn channel(&self, welcome: &[u8]) -> Result<String, NotSubscribed> {
        match self {
            Self::Shared(channel) => Ok(channel.clone()),
            Self::Joined => Ok(JOINED_CHANNEL.to_owned()),
            Self::Personal => {
                let frame: Frame =
                    serde_json::from_slice(welcome).map_err(|_| NotSubscribed::unexpected())?;
                let sub = frame.channel_sub.ok_or_else(NotSubscribed::unexpected)?;
                Ok(format!("user:{sub}:inbox"))
            }
        }
    }

    /// The command sent and the answer awaited.
    fn exchange(&self) -> (&'static str, &'static str) {
        match self {
            Self::Shared(_) | Self::Personal => ("subscribe", "subscribed"),
            Self::Joined => ("unsubscribe", "unsubscribed"),
        }
    }
}

/// Sends `subscription`'s command for `channel` on `ws` and waits for the
/// server's answer (`subscribed`, or for `joined` `unsubscribed`). A
/// refusal fails with `subscribe_<error code>`.
pub(crate) async fn subscribe(
    ws: &mut WebSocketStream<TcpStream>,
    subscription: &Subscription,
    channel: &str,
) -> Result<(), NotSubscribed> {
    let (kind, answer) = subscription.exchange();
    let command = serde_json::json!({ "type": kind, "id": "1", "channel": channel });
    ws.send(Message::text(command.to_string())).await.map_err(|_| NotSubscribed::closed(None))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Frame =
                    serde_json::from_str(text.as_str()).map_err(|_| NotSubscribed::unexpected())?;
                return match frame.kind.as_str() {
                    kind if kind == answer && frame.channel.as_deref() == Some(channel) => Ok(()),
                    "error" => Err(NotSubscribed(format!(
                        "subscribe_{}",
                        frame.error.as_deref().unwrap_or("error")
                    ))),
                    _ => Err(NotSubscribed::unexpected()),
                };
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                return Err(NotSubscribed::closed(frame.map(|f| u16::from(f.code))));
            }
            Some(Ok(_)) => return Err(NotSubscribed::unexpected()),
            Some(Err(_)) | None => return Err(NotSubscribed::closed(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_names_a_shared_channel_or_personal_ones() {
        assert_eq!("personal".parse(), Ok(Subscription::Personal));
        assert_eq!("shared:room:1".parse(), Ok(Subscription::Shared("room:1".into())));
        assert_eq!("joined".parse(), Ok(Subscription::Joined));
        for bad in ["", "shared:", "room:1", "personal:x", &format!("shared:{}", "a".repeat(256))] {
            assert!(bad.parse::<Subscription>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_personal_channel_is_named_by_the_welcome_frames_channel_subject() {
        let welcome = br#"{"type":"welcome","sub":"alice","channel_sub":"alice"}"#;
        assert_eq!(Subscription::Personal.channel(welcome).ok(), Some("user:alice:inbox".into()));
        let shared = Subscription::Shared("room:1".into());
        assert_eq!(shared.channel(welcome).ok(), Some("room:1".into()));
        // A server without channels names no channel subject.
        let old = br#"{"type":"welcome","sub":"alice"}"#;
        assert!(Subscription::Personal.channel(old).is_err());
    }
}
