//! Staying subscribed to Redis pub/sub channels: subscribe, hand every
//! message to a [`Listener`], and subscribe again whenever the connection is
//! lost, with a growing pause between attempts (at most 1 s). Used by the
//! revocation bus and the channel bus.

use futures_util::StreamExt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The first wait.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Whether the subscription is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subscription {
    /// Every channel is subscribed: messages arrive.
    Up,
    /// The connection was lost: messages published now are missed.
    Lost,
}

/// What hears a subscriber.
pub(crate) trait Listener: Send + Sync + 'static {
    /// The subscription came up or was lost.
    fn subscription(&self, now: Subscription);
    /// A message on one of the channels.
    fn message(&self, payload: &[u8]);
}

/// Keeps `channels` subscribed on the Redis `client` until `shutdown`,
/// handing what arrives to `listener`; `name` is for the logs.
pub(crate) async fn stay_subscribed(
    client: redis::Client,
    channels: Vec<String>,
    listener: impl Listener,
    name: &'static str,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let subscribed = tokio::select! {
            () = shutdown.cancelled() => return,
            result = attempt => result,
        };
        match subscribed {
            Ok(mut pubsub) => {
                backoff = FIRST_BACKOFF;
                listener.subscription(Subscription::Up);
                tracing::info!(bus = name, "subscribed");
                let mut messages = pubsub.on_message();
                loop {
                    let message = tokio::select! {
                        () = shutdown.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    listener.message(message.get_payload_bytes());
                }
                listener.subscription(Subscription::Lost);
                tracing::warn!(bus = name, "lost its subscription; subscribing again");
            }
            Err(e) => tracing::warn!(bus = name, error = %e, "cannot subscribe; retrying"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
