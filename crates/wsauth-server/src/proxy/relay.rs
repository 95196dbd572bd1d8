//! The relay: frames both ways as they are, each hop's pings answered on
//! that hop, and the pair closed together.
//!
//! Bounded by construction: each direction holds at most the one message
//! it is writing (at most `max_message_size`, both hops read with the same
//! limits) and reads the next only once that write has completed. A slow
//! reader on one side therefore stops reads on the other, whose TCP window
//! then fills: backpressure reaches the sender and memory never grows.

use axum::body::Bytes;
use axum::extract::ws::{self, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{self as ts, protocol::CloseFrame as TsCloseFrame};
use tokio_util::sync::CancellationToken;
use wsauth::Ended;
use wsauth::accept::TokenBucket;
use wsauth::close_code::{ABNORMAL_CLOSURE, NO_STATUS_RECEIVED};
use wsauth::{LiveSession, WsAuth, close_code};

use super::handles::{Deadline, HandleLease};
use super::upstream::UpstreamSocket;

type ClientTx = SplitSink<WebSocket, ws::Message>;
type ClientRx = SplitStream<WebSocket>;
type UpstreamTx = SplitSink<UpstreamSocket, ts::Message>;
type UpstreamRx = SplitStream<UpstreamSocket>;

/// How long a closing side may take to answer the close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// One proxied connection: the client's socket, the upstream's, and the
/// registration that ends them at expiry or revocation.
pub(crate) struct Relay {
    pub(crate) upstream: UpstreamSocket,
    /// `None` for an anonymous socket on an `optional` route.
    pub(crate) session: Option<LiveSession>,
    pub(crate) deadline: Option<Deadline>,
    pub(crate) auth: WsAuth,
    pub(crate) shutdown: CancellationToken,
    pub(crate) route: String,
    pub(crate) sub: Option<String>,
    /// Holds the socket's refresh handle until the relay ends.
    pub(crate) lease: Option<HandleLease>,
    /// The upstream socket's connection place, held until the relay ends.
    pub(crate) place: Option<wsauth::accept::ClientSlot>,
}

/// A close frame: a code and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Close {
    code: u16,
    reason: String,
}

impl Close {
    fn new(code: u16, reason: &str) -> Self {
        Self { code, reason: reason.to_owned() }
    }
}

/// How the pair came to an end, and so what each side is told.
#[derive(Debug)]
enum End {
    /// The client closed: the upstream gets its code and reason.
    ClientClosed(Option<Close>),
    /// The upstream closed: the client gets its code and reason.
    UpstreamClosed(Option<Close>),
    /// The client vanished or stopped reading: the upstream gets 1001.
    ClientLost(&'static str),
    /// The upstream vanished, stopped reading or broke the protocol: the client gets 1011.
    UpstreamLost(&'static str),
    /// wsauth ends both (expiry, revocation, shutdown, a client's broken
    /// rule): both get the same code and reason.
    Both(Close),
}

/// Milliseconds since the relay started at which each side was last heard.
struct Heard {
    start: Instant,
    client: AtomicU64,
    upstream: AtomicU64,
}

impl Heard {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn silent_for(&self, side: &AtomicU64) -> Duration {
        Duration::from_millis(self.now().saturating_sub(side.load(Ordering::Relaxed)))
    }
}

/// What both directions share.
struct Rules<'a> {
    auth: &'a WsAuth,
    deadline: Option<&'a Deadline>,
    heard: Heard,
    ping_interval: Duration,
    silence: Duration,
    write_timeout: Duration,
}

impl Rules<'_> {
    fn past_deadline(&self) -> bool {
        let now = self.auth.tokens().clock().now_millis();
        self.deadline.is_some_and(|d| d.passed(now))
    }

    fn ticker(&self) -> tokio::time::Interval {
        let mut tick =
            tokio::time::interval_at(Instant::now() + self.ping_interval, self.ping_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick
    }
}

impl Relay {
    /// Relays until either side ends or wsauth ends both; returns the code
    /// the client was sent.
    pub(crate) async fn run(self, client: WebSocket) -> u16 {
        let Self { upstream, mut session, deadline, auth, shutdown, route, sub, lease, place } =
            self;
        let config = auth.live().config().clone();
        let rules = Rules {
            auth: &auth,
            deadline: deadline.as_ref(),
            heard: Heard {
                start: Instant::now(),
                client: AtomicU64::new(0),
                upstream: AtomicU64::new(0),
            },
            ping_interval: config.ping_interval,
            silence: config.ping_interval + config.pong_timeout,
            write_timeout: config.write_timeout,
        };
        let (mut client_tx, mut client_rx) = client.split();
        let (mut upstream_tx, mut upstream_rx) = upstream.split();
        let mut limiter = TokenBucket::new(config.message_rate, config.message_burst);
        let end = {
            let up = client_to_upstream(&mut client_rx, &mut upstream_tx, &rules, &mut limiter);
            let down = upstream_to_client(&mut upstream_rx, &mut client_tx, &rules);
            tokio::select! {
                biased;
                Ended { kick, at, .. } = ended(session.as_mut()) => {
                    if kick.code == close_code::TOKEN_REVOKED {
                        auth.observer().revocation_closed(at.elapsed());
                    }
                    End::Both(Close::new(kick.code, kick.reason))
                }
                () = shutdown.cancelled() => End::Both(Close::new(close_code::GOING_AWAY, "server shutting down")),
                end = up => end,
                end = down => end,
            }
        };
        let (to_client, to_upstream) = match &end {
            End::ClientClosed(close) => (None, close.clone()),
            End::UpstreamClosed(close) => (close.clone(), None),
            End::ClientLost(why) => (None, Some(Close::new(close_code::GOING_AWAY, why))),
            End::UpstreamLost(why) => (Some(Close::new(close_code::INTERNAL_ERROR, why)), None),
            End::Both(close) => (Some(close.clone()), Some(close.clone())),
        };
        // The side that closed first has its reply queued by its socket;
        // flushing it completes that side's handshake.
        let client_code = match &end {
            End::ClientClosed(close) => close.as_ref().map_or(NO_STATUS_RECEIVED, |c| c.code),
            End::ClientLost(_) => ABNORMAL_CLOSURE,
            _ => to_client.as_ref().map_or(NO_STATUS_RECEIVED, |c| c.code),
        };
        let upstream_code = match &end {
            End::UpstreamClosed(close) => close.as_ref().map_or(NO_STATUS_RECEIVED, |c| c.code),
            End::UpstreamLost(_) => ABNORMAL_CLOSURE,
            _ => to_upstream.as_ref().map_or(NO_STATUS_RECEIVED, |c| c.code),
        };
        let close_client = async {
            match &end {
                End::ClientClosed(_) => {
                    let _ = tokio::time::timeout(CLOSE_WAIT, client_tx.close()).await;
                }
                End::ClientLost(_) => {}
                _ => close_client(&mut client_tx, &mut client_rx, to_client).await,
            }
        };
        let close_upstream = async {
            match &end {
                End::UpstreamClosed(_) => {
                    let _ = tokio::time::timeout(CLOSE_WAIT, upstream_tx.close()).await;
                }
                End::UpstreamLost(_) => {}
                _ => close_upstream(&mut upstream_tx, &mut upstream_rx, to_upstream).await,
            }
        };
        tokio::join!(close_client, close_upstream);
        drop((lease, session, place));
        auth.observer().socket_closed(client_code);
        tracing::debug!(
            route = %route,
            sub = sub.as_deref().unwrap_or("-"),
            client_code,
            upstream_code,
            "proxied socket closed"
        );
        client_code
    }
}

/// Completes when the registry ends the socket; never for an anonymous one.
async fn ended(session: Option<&mut LiveSession>) -> Ended {
    match session {
        Some(session) => session.ended().await,
        None => std::future::pending().await,
    }
}

/// Client frames to the upstream, and pings to the upstream.
async fn client_to_upstream(
    from: &mut ClientRx,
    to: &mut UpstreamTx,
    rules: &Rules<'_>,
    limiter: &mut TokenBucket,
) -> End {
    let mut ping = rules.ticker();
    loop {
        let frame = tokio::select! {
            frame = from.next() => frame,
            _ = ping.tick() => {
                if rules.heard.silent_for(&rules.heard.upstream) > rules.silence {
                    return End::UpstreamLost("upstream not answering");
                }
                if send_upstream(to, ts::Message::Ping(Bytes::new()), rules).await.is_err() {
                    return End::UpstreamLost("upstream not reading");
                }
                continue;
            }
        };
        let message = match frame {
            None => return End::ClientLost("client went away"),
            Some(Err(e)) => return End::Both(close_for_client_error(&e)),
            Some(Ok(message)) => message,
        };
        rules.heard.client.store(rules.heard.now(), Ordering::Relaxed);
        if rules.past_deadline() {
            return End::Both(Close::new(close_code::TOKEN_EXPIRED, "token expired"));
        }
        let forward = match message {
            ws::Message::Text(text) => match ts::Utf8Bytes::try_from(Bytes::from(text)) {
                Ok(text) => ts::Message::Text(text),
                Err(_) => {
                    return End::Both(Close::new(close_code::INVALID_PAYLOAD, "invalid UTF-8"));
                }
            },
            ws::Message::Binary(data) => ts::Message::Binary(data),
            ws::Message::Ping(_) | ws::Message::Pong(_) => continue,
            ws::Message::Close(frame) => {
                return End::ClientClosed(frame.map(|f| Close::new(f.code, f.reason.as_str())));
            }
        };
        if !limiter.try_take() {
            rules.auth.observer().rate_limited(wsauth::observe::Limit::MessageRate);
            return End::Both(Close::new(
                close_code::POLICY_VIOLATION,
                "message rate limit exceeded",
            ));
        }
        if send_upstream(to, forward, rules).await.is_err() {
            return End::UpstreamLost("upstream not reading");
        }
    }
}

/// Upstream frames to the client, and pings to the client.
async fn upstream_to_client(from: &mut UpstreamRx, to: &mut ClientTx, rules: &Rules<'_>) -> End {
    let mut ping = rules.ticker();
    loop {
        let frame = tokio::select! {
            frame = from.next() => frame,
            _ = ping.tick() => {
                if rules.heard.silent_for(&rules.heard.client) > rules.silence {
                    return End::Both(Close::new(close_code::POLICY_VIOLATION, "pong timeout"));
                }
                if send_client(to, ws::Message::Ping(Bytes::new()), rules).await.is_err() {
                    return End::ClientLost("client not reading");
                }
                continue;
            }
        };
        let message = match frame {
            None => return End::UpstreamLost("upstream went away"),
            Some(Err(ts::Error::Capacity(_))) => {
                return End::UpstreamLost("upstream message too big");
            }
            Some(Err(_)) => return End::UpstreamLost("upstream protocol error"),
            Some(Ok(message)) => message,
        };
        rules.heard.upstream.store(rules.heard.now(), Ordering::Relaxed);
        if rules.past_deadline() {
            return End::Both(Close::new(close_code::TOKEN_EXPIRED, "token expired"));
        }
        let forward = match message {
            ts::Message::Text(text) => match ws::Utf8Bytes::try_from(Bytes::from(text)) {
                Ok(text) => ws::Message::Text(text),
                Err(_) => return End::UpstreamLost("upstream protocol error"),
            },
            ts::Message::Binary(data) => ws::Message::Binary(data),
            ts::Message::Ping(_) | ts::Message::Pong(_) | ts::Message::Frame(_) => continue,
            ts::Message::Close(frame) => {
                return End::UpstreamClosed(
                    frame.map(|f| Close::new(f.code.into(), f.reason.as_str())),
                );
            }
        };
        if send_client(to, forward, rules).await.is_err() {
            return End::ClientLost("client not reading");
        }
    }
}

/// One write to the upstream within the write timeout.
async fn send_upstream(
    to: &mut UpstreamTx,
    message: ts::Message,
    rules: &Rules<'_>,
) -> Result<(), ()> {
    match tokio::time::timeout(rules.write_timeout, to.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// One write to the client within the write timeout.
async fn send_client(to: &mut ClientTx, message: ws::Message, rules: &Rules<'_>) -> Result<(), ()> {
    match tokio::time::timeout(rules.write_timeout, to.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends the client its close frame, then waits briefly for its reply.
async fn close_client(to: &mut ClientTx, from: &mut ClientRx, close: Option<Close>) {
    let frame =
        close.map(|c| ws::CloseFrame { code: c.code, reason: ws::Utf8Bytes::from(c.reason) });
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if to.send(ws::Message::Close(frame)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = from.next().await {
            if matches!(message, ws::Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Sends the upstream its close frame, then waits briefly for its reply.
async fn close_upstream(to: &mut UpstreamTx, from: &mut UpstreamRx, close: Option<Close>) {
    let frame = close.map(|c| TsCloseFrame { code: c.code.into(), reason: c.reason.into() });
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if to.send(ts::Message::Close(frame)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = from.next().await {
            if matches!(message, ts::Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// The close code for a client's receive error: too big, bad UTF-8, or a
/// protocol error (as on `/ws`).
fn close_for_client_error(error: &axum::Error) -> Close {
    use std::error::Error as _;
    match error.source().and_then(|e| e.downcast_ref::<ts::Error>()) {
        Some(ts::Error::Capacity(_)) => Close::new(close_code::MESSAGE_TOO_BIG, "message too big"),
        Some(ts::Error::Utf8(_)) => Close::new(close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        _ => Close::new(close_code::PROTOCOL_ERROR, "protocol error"),
    }
}
