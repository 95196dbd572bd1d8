//! [`LiveSocket`]: an upgraded WebSocket bound to a live credential. The app
//! reads with [`LiveSocket::recv`] and writes with [`LiveSocket::send`] or an
//! [`Outbox`]; underneath, the socket closes itself with 4001 at expiry, 4003
//! on revocation, 1008 past the message rate or a full outbound queue, 1009
//! for a message over the size limit, and answers in-band refresh frames.

use axum::body::Bytes;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use serde_json::json;
use std::collections::VecDeque;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::close::{close_for_error, close_socket, is_write_buffer_full};
use super::frames::{Control, control_frame};
use super::outbox::{Outbox, Shared, next_shared, payload_len, release, reserve};
use super::{Ended, Kick, LiveSession, RebindError};
use crate::accept::TokenBucket;
use crate::auth::WsAuth;
use crate::credential::CredentialKind;
use crate::handshake::{self, Admitted};
use crate::{Claims, close_code};

/// How a [`LiveSocket`] ended: the close code it sent or received, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closed {
    /// The close code: sent by the server, received from the client
    /// (1005 for a close frame without one), or 1006 when the connection
    /// ended without a close frame.
    pub code: u16,
    /// The reason sent, or what happened.
    pub reason: &'static str,
}

impl Closed {
    /// The connection ended without a close frame.
    fn abnormal(reason: &'static str) -> Self {
        Self { code: close_code::ABNORMAL_CLOSURE, reason }
    }
}

/// An application frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text frame (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

/// A live, authenticated WebSocket. One pointer wide: moving it into a
/// task, or from one async block into another, copies no socket state (an
/// idle socket's task holds only what it awaits).
pub struct LiveSocket {
    state: Box<State>,
}

/// What is told of a socket's new claims after an in-band refresh.
type Rebound = Box<dyn Fn(&Claims) + Send + Sync>;

/// What a [`LiveSocket`] holds, in one allocation.
struct State {
    socket: WebSocket,
    session: LiveSession,
    auth: WsAuth,
    claims: Claims,
    credential: CredentialKind,
    deadline: i64,
    /// Messages the app queued with [`LiveSocket::send`], written by `recv`.
    pending: VecDeque<Message>,
    /// Payload bytes in `pending`, while no [`Outbox`] exists; after that
    /// the count lives in the one the outboxes share.
    pending_bytes: usize,
    overflowed: bool,
    shared: Option<Shared>,
    limiter: TokenBucket,
    last_heard: Instant,
    ping: tokio::time::Interval,
    shutdown: Option<CancellationToken>,
    /// Told of the new claims after an in-band refresh.
    rebound: Option<Rebound>,
    closed: Option<Closed>,
}

impl std::fmt::Debug for LiveSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSocket")
            .field("sub", &self.state.claims.sub)
            .field("deadline", &self.state.deadline)
            .finish_non_exhaustive()
    }
}

/// Completes when `token` is cancelled, or never when there is none.
async fn cancelled_or_never(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

impl LiveSocket {
    /// A live socket for a socket the handshake pipeline admitted (its
    /// revocation checked after its registration).
    pub(crate) fn new(socket: WebSocket, admitted: Admitted, auth: WsAuth) -> Self {
        let Admitted { authenticated, session } = admitted;
        let config = auth.live().config();
        // One reading of tokio's clock for the keepalive and its start.
        let now = Instant::now();
        let mut ping = tokio::time::interval_at(now + config.ping_interval, config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let limiter = TokenBucket::new(config.message_rate, config.message_burst);
        let deadline = auth.live().deadline_for(&authenticated.claims);
        let state = Box::new(State {
            socket,
            session: session.into_session(),
            claims: authenticated.claims,
            credential: authenticated.credential,
            deadline,
            pending: VecDeque::new(),
            pending_bytes: 0,
            overflowed: false,
            shared: None,
            limiter,
            last_heard: now,
            ping,
            shutdown: None,
            rebound: None,
            closed: None,
            auth,
        });
        Self { state }
    }

    /// Closes the socket with 1001 when `token` is cancelled (server shutdown).
    #[must_use]
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.state.shutdown = Some(token);
        self
    }

    /// Calls `hook` with the new claims each time an in-band refresh binds
    /// the socket to a new token (of the same subject), before the
    /// `refreshed` frame is written: for what depends on the token's claims,
    /// such as channel rights from its roles.
    pub fn on_rebound(&mut self, hook: impl Fn(&Claims) + Send + Sync + 'static) {
        self.state.rebound = Some(Box::new(hook));
    }

    /// The claims the socket is bound to now (they change on in-band refresh).
    #[must_use]
    pub fn claims(&self) -> &Claims {
        &self.state.claims
    }

    /// How the credential travelled.
    #[must_use]
    pub fn credential(&self) -> CredentialKind {
        self.state.credential
    }

    /// Unix seconds at which the socket is closed with 4001 unless the client
    /// refreshes: the token's `exp` plus the leeway and the configured grace.
    #[must_use]
    pub fn deadline(&self) -> i64 {
        self.state.deadline
    }

    /// A handle to queue messages from other tasks (fan-out). The queue holds
    /// `outbound_queue` messages and `outbound_queue_bytes` bytes, counted
    /// together with what [`LiveSocket::send`] queued; past either the
    /// socket is closed with 1008.
    pub fn outbox(&mut self) -> Outbox {
        let config = self.state.auth.live().config();
        let (capacity, max_bytes) = (config.outbound_queue.max(1), config.outbound_queue_bytes);
        let pending_bytes = std::mem::take(&mut self.state.pending_bytes);
        self.state
            .shared
            .get_or_insert_with(|| Shared::new(capacity, max_bytes, pending_bytes))
            .outbox
            .clone()
    }

    /// The close code and reason, once the socket has ended.
    #[must_use]
    pub fn closed(&self) -> Option<Closed> {
        self.state.closed
    }

    /// Queues a message for the client; it is written by the next
    /// [`LiveSocket::recv`]. `false` when the queue is full, in messages or
    /// in bytes: the socket is then closed with 1008 (the client is not
    /// keeping up, or the message is larger than `outbound_queue_bytes`).
    pub fn send(&mut self, message: Message) -> bool {
        let config = self.state.auth.live().config();
        let (capacity, max_bytes) = (config.outbound_queue.max(1), config.outbound_queue_bytes);
        let len = payload_len(&message);
        let admitted = self.state.pending.len() < capacity
            && match &self.state.shared {
                Some(shared) => reserve(&shared.outbox.queued_bytes, len, max_bytes),
                None => match self.state.pending_bytes.checked_add(len) {
                    Some(total) if total <= max_bytes => {
                        self.state.pending_bytes = total;
                        true
                    }
                    _ => false,
                },
            };
        if !admitted {
            self.state.overflowed = true;
            return false;
        }
        self.state.pending.push_back(message);
        true
    }

    /// Forgets the bytes of a message leaving the queue to be written.
    fn dequeued(&mut self, message: &Message) {
        let len = payload_len(message);
        match &self.state.shared {
            Some(shared) => release(&shared.outbox.queued_bytes, len),
            None => self.state.pending_bytes = self.state.pending_bytes.saturating_sub(len),
        }
    }

    /// Queues a JSON text frame.
    pub fn send_json(&mut self, value: &serde_json::Value) -> bool {
        self.send(Message::text(value.to_string()))
    }

    /// The next application frame, or `None` once the socket has ended (see
    /// [`LiveSocket::closed`] for why). Must be called in a loop: it also
    /// writes queued messages, pings, enforces deadlines and answers refreshes.
    pub async fn recv(&mut self) -> Option<Incoming> {
        if self.state.closed.is_some() {
            return None;
        }
        loop {
            if !self.flush_pending().await {
                return None;
            }
            // Cloned only while another task holds an Outbox (the shared
            // queue is borrowed mutably by another branch below).
            let shared_overflow = self.state.shared.as_ref().map(|s| s.outbox.overflow.clone());
            tokio::select! {
                biased;
                ended = self.state.session.kicked() => {
                    let Ended { kick, at } = ended.unwrap_or_else(|_| Ended::registry_gone());
                    self.close(kick.code, kick.reason).await;
                    if kick.code == close_code::TOKEN_REVOKED {
                        self.state.auth.observer().revocation_closed(at.elapsed());
                    }
                    return None;
                }
                () = cancelled_or_never(self.state.shutdown.as_ref()) => {
                    self.close(close_code::GOING_AWAY, "server shutting down").await;
                    return None;
                }
                () = cancelled_or_never(shared_overflow.as_ref()) => {
                    self.state.auth.observer().rate_limited(crate::observe::Limit::OutboundQueue);
                    self.close(close_code::POLICY_VIOLATION, "outbound queue full").await;
                    return None;
                }
                Some(message) = next_shared(&mut self.state.shared) => {
                    self.state.pending.push_back(message);
                }
                _ = self.state.ping.tick() => {
                    if !self.keepalive().await {
                        return None;
                    }
                }
                frame = self.state.socket.recv() => {
                    match self.received(frame).await {
                        Received::App(incoming) => return Some(incoming),
                        Received::Handled => {}
                        Received::Ended => return None,
                    }
                }
            }
        }
    }

    /// Writes what the app queued; `false` if the socket ended.
    async fn flush_pending(&mut self) -> bool {
        if self.state.overflowed {
            self.state.auth.observer().rate_limited(crate::observe::Limit::OutboundQueue);
            self.close(close_code::POLICY_VIOLATION, "outbound queue full").await;
            return false;
        }
        if self.state.pending.is_empty() {
            return true;
        }
        while let Some(message) = self.state.pending.pop_front() {
            self.dequeued(&message);
            if self.past_deadline() {
                self.close(close_code::TOKEN_EXPIRED, "token expired").await;
                return false;
            }
            if !self.write(message).await {
                return false;
            }
        }
        // An idle socket keeps no queue allocation.
        self.state.pending = VecDeque::new();
        true
    }

    /// A ping, or a close when the client has been silent too long.
    async fn keepalive(&mut self) -> bool {
        let config = self.state.auth.live().config();
        if self.state.last_heard.elapsed() > config.ping_interval + config.pong_timeout {
            self.close(close_code::POLICY_VIOLATION, "pong timeout").await;
            return false;
        }
        self.write(Message::Ping(Bytes::new())).await
    }

    /// Handles one received frame.
    async fn received(&mut self, frame: Option<Result<Message, axum::Error>>) -> Received {
        let message = match frame {
            None => {
                self.state.closed = Some(Closed::abnormal("connection lost"));
                return Received::Ended;
            }
            Some(Err(e)) => {
                let (code, reason) = close_for_error(&e);
                self.close(code, reason).await;
                return Received::Ended;
            }
            Some(Ok(message)) => message,
        };
        self.state.last_heard = Instant::now();
        if self.past_deadline() {
            self.close(close_code::TOKEN_EXPIRED, "token expired").await;
            return Received::Ended;
        }
        if !self.state.limiter.try_take() {
            self.state.auth.observer().rate_limited(crate::observe::Limit::MessageRate);
            self.close(close_code::POLICY_VIOLATION, "message rate limit exceeded").await;
            return Received::Ended;
        }
        match message {
            Message::Text(text) => match control_frame(&text) {
                Some(control) => {
                    // Boxed: refresh is rare, and inline it would grow every socket's task.
                    if Box::pin(self.handle_control(control)).await {
                        Received::Handled
                    } else {
                        Received::Ended
                    }
                }
                None => Received::App(Incoming::Text(text)),
            },
            Message::Binary(data) => Received::App(Incoming::Binary(data)),
            Message::Ping(_) | Message::Pong(_) => Received::Handled,
            Message::Close(frame) => {
                let _ = futures_util::SinkExt::close(&mut self.state.socket).await;
                let code = frame.map_or(close_code::NO_STATUS_RECEIVED, |f| f.code);
                self.state.closed = Some(Closed { code, reason: "closed by the client" });
                Received::Ended
            }
        }
    }

    /// Whether the credential has run out. The registry closes such sockets
    /// on its own; this check makes sure nothing slips through in between.
    fn past_deadline(&self) -> bool {
        let now = self.state.auth.tokens().clock().now_millis();
        now >= self.state.deadline.saturating_mul(1000)
    }

    /// Answers a control frame; `false` if the socket ended.
    async fn handle_control(&mut self, control: Control) -> bool {
        match control {
            Control::Auth {} => {
                self.close(close_code::POLICY_VIOLATION, "already authenticated").await;
                false
            }
            Control::Refresh { token } => self.refresh(&token).await,
        }
    }

    /// In-band refresh through the handshake pipeline: a refused token is
    /// answered (the socket stays open); a token of another subject closes
    /// it with 4403, and a revocation of the new token found after the
    /// rebind with 4003 (1013 when the store cannot answer). `false` if
    /// the socket ended.
    async fn refresh(&mut self, token: &str) -> bool {
        let auth = &self.state.auth;
        let claims = match auth.verify_access(token).await {
            Ok(claims) => claims,
            Err(e) => {
                let reply = json!({
                    "type": "error",
                    "error": e.code(),
                    "detail": e.to_string(),
                    "command": "refresh",
                });
                return self.write(Message::text(reply.to_string())).await;
            }
        };
        match handshake::rebind(auth, self.state.session.binding_ref(), &claims).await {
            Ok(deadline) => {
                self.state.deadline = deadline;
                self.state.claims = claims;
                if let Some(hook) = &self.state.rebound {
                    hook(&self.state.claims);
                }
                let reply = json!({"type": "refreshed", "exp": self.state.claims.exp, "deadline": deadline});
                self.write(Message::text(reply.to_string())).await
            }
            Err(RebindError::OtherSubject) => {
                self.close(close_code::SUBJECT_MISMATCH, "token is for another subject").await;
                false
            }
            // The session was ended while the refresh was checked.
            Err(RebindError::Ended) => true,
            Err(RebindError::Refused(e)) => {
                let kick = Kick::refused(&e);
                self.close(kick.code, kick.reason).await;
                false
            }
        }
    }

    /// Writes one message within the write timeout; `false` if the socket ended.
    async fn write(&mut self, message: Message) -> bool {
        let timeout = self.state.auth.live().config().write_timeout;
        match tokio::time::timeout(timeout, self.state.socket.send(message)).await {
            Ok(Ok(())) => true,
            // Refused whole by the write buffer: the connection is intact, so
            // the client is told why. (The limits are built so that this
            // cannot happen to a message the outbound queue admitted.)
            Ok(Err(e)) if is_write_buffer_full(&e) => {
                self.close(close_code::POLICY_VIOLATION, "outbound queue full").await;
                false
            }
            Ok(Err(_)) => {
                self.state.closed = Some(Closed::abnormal("write failed"));
                false
            }
            Err(_) => {
                self.state.closed = Some(Closed::abnormal("write timed out"));
                false
            }
        }
    }

    /// Closes the socket with a code and reason, waiting briefly for the
    /// client's reply so the client sees the code (never 1006).
    pub async fn close(&mut self, code: u16, reason: &'static str) {
        if self.state.closed.is_none() {
            // Boxed: a socket closes once, and inline the wait would grow every socket's task.
            Box::pin(close_socket(&mut self.state.socket, code, reason)).await;
            self.state.closed = Some(Closed { code, reason });
        }
    }
}

impl Drop for LiveSocket {
    /// Reports how the socket ended: its close code, or 1006 when it was
    /// dropped without one.
    fn drop(&mut self) {
        let code = self.state.closed.map_or(close_code::ABNORMAL_CLOSURE, |closed| closed.code);
        self.state.auth.observer().socket_closed(code);
    }
}

/// What one received frame came to.
enum Received {
    App(Incoming),
    Handled,
    Ended,
}
