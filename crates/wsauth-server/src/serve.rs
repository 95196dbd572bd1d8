//! The accept loop, in place of `axum::serve` (which sets no timer, so a
//! client that never finishes its headers holds its connection forever).
//! Each connection first passes its address's rate of new connections and
//! takes a place under the connection caps (in all, and per client address),
//! or is answered with a fixed `503` / `429` and closed, before any other
//! work (no task, no parsing: a flood from one address costs little more
//! than the kernel's share); then hyper serves it with a header read
//! timeout and an idle timeout, and hands WebSocket upgrades off untimed
//! (their keepalive is the ping/pong in `LiveSocket`).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;
use wsauth::accept::{AddressLimiter, ClientSlot, ClientSlots, SlotsFull};
use wsauth::{ClientKey, TrustedProxies};

use crate::config::Limits;
use crate::stream::{AcceptedStream, Progress};

/// How connections are admitted and timed.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionPolicy {
    slots: ClientSlots,
    /// New connections per client address (shared by clones of the policy).
    opening: std::sync::Arc<AddressLimiter>,
    trusted_proxies: TrustedProxies,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    /// How long requests in flight may take to finish once shutdown began.
    drain_limit: Duration,
}

impl ConnectionPolicy {
    pub(crate) fn new(
        limits: &Limits,
        trusted_proxies: TrustedProxies,
        drain_limit: Duration,
    ) -> Self {
        Self {
            slots: ClientSlots::new(limits.max_connections, limits.max_connections_per_address),
            opening: std::sync::Arc::new(AddressLimiter::new(
                limits.connection_rate,
                limits.connection_burst,
            )),
            trusted_proxies,
            header_read_timeout: Duration::from_secs(limits.header_read_timeout),
            idle_timeout: Duration::from_secs(limits.http_idle_timeout),
            drain_limit,
        }
    }

    /// The connection places: proxied routes count their upstream sockets
    /// in them too.
    pub(crate) fn slots(&self) -> &ClientSlots {
        &self.slots
    }

    /// A place for a connection from `peer`, unless its address opens
    /// connections faster than its rate. A trusted proxy speaks for many
    /// clients, so it counts against the total only.
    fn admit(&self, peer: SocketAddr) -> Result<ClientSlot, Refusal> {
        let client = place_key(&self.trusted_proxies, peer.ip());
        if let Some(client) = client {
            self.opening.check(client).map_err(|_| Refusal::Rate)?;
        }
        self.slots.try_acquire(client).map_err(Refusal::Full)
    }
}

/// What a connection from `peer` counts against besides the total: its
/// address, or nothing for a trusted proxy, which speaks for many clients.
/// A proxied connection's upstream socket counts the same way.
pub(crate) fn place_key(trusted_proxies: &TrustedProxies, peer: IpAddr) -> Option<ClientKey> {
    (!trusted_proxies.contains(peer)).then(|| ClientKey::from(peer))
}

/// Why a connection is refused as soon as it is accepted.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// A connection cap (in all, or the address's share).
    Full(SlotsFull),
    /// The address opens connections faster than `connection_rate`.
    Rate,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops
/// accepting, lets every connection finish its request (idle ones close at
/// once) and returns when all have, or once the policy's drain limit has
/// passed. Returns when the shutdown began, so the caller can hold the rest
/// of the shutdown to the same deadline.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    policy: ConnectionPolicy,
    shutdown: CancellationToken,
) -> Instant {
    let connections = TaskTracker::new();
    tracing::info!(
        max_connections = policy.slots.total(),
        per_address = policy.slots.per_client(),
        "connection caps"
    );
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                pause_after_accept_error(&e).await;
                continue;
            }
        };
        match policy.admit(peer) {
            Ok(slot) => {
                let conn = Connection { app: app.clone(), policy: policy.clone(), peer };
                connections.spawn(conn.run(stream, slot, shutdown.clone()));
            }
            Err(full) => refuse(stream, peer, full),
        }
    }
    let began = Instant::now();
    drop(listener);
    connections.close();
    if tokio::time::timeout_at(began + policy.drain_limit, connections.wait()).await.is_err() {
        tracing::warn!(left = connections.len(), "some HTTP connections did not finish in time");
    }
    began
}

/// One accepted connection, before hyper takes it.
struct Connection {
    app: Router,
    policy: ConnectionPolicy,
    peer: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, slot: ClientSlot, shutdown: CancellationToken) {
        let Self { app, policy, peer } = self;
        let progress = Progress::new();
        // The slot travels with the socket: an upgraded WebSocket keeps it until it closes.
        let io = TokioIo::new(AcceptedStream::new(stream, slot, progress.clone()));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(policy.header_read_timeout);
        let connection = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    return;
                }
                () = shutdown.cancelled(), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = progress.stalled_for(policy.idle_timeout) => {
                    tracing::debug!(%peer, "closing an HTTP connection on which nothing moved");
                    return;
                }
            }
        }
    }
}

/// Answers a connection past a cap with a fixed response and closes it. The
/// write is one non-blocking attempt on a fresh socket (its send buffer is
/// empty); a client that already sent its request may see a reset instead.
fn refuse(stream: TcpStream, peer: SocketAddr, refusal: Refusal) {
    tracing::debug!(%peer, ?refusal, "connection refused at accept");
    let response: &[u8] = match refusal {
        Refusal::Full(SlotsFull::Client) => TOO_MANY_FROM_ADDRESS,
        Refusal::Rate => TOO_FAST_FROM_ADDRESS,
        Refusal::Full(_) => AT_CAPACITY,
    };
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write(response);
    }
}

const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\ncontent-length: 72\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"detail\":\"The server is at its connection limit\",\"error\":\"unavailable\"}";

const TOO_MANY_FROM_ADDRESS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\ncontent-length: 79\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"detail\":\"Too many connections from this address\",\"error\":\"too_many_requests\"}";

const TOO_FAST_FROM_ADDRESS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\ncontent-length: 83\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"detail\":\"Too many new connections from this address\",\"error\":\"too_many_requests\"}";

/// After a failed `accept`: a reset by the client is nothing; anything else
/// (such as running out of file descriptors) is logged and waited out, so
/// the loop does not spin.
async fn pause_after_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_length(response: &[u8]) -> (usize, usize) {
        let text = std::str::from_utf8(response).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head");
        let declared = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.parse().ok())
            .expect("content-length");
        (declared, body.len())
    }

    #[test]
    fn fixed_responses_declare_their_length_and_are_json() {
        for response in [AT_CAPACITY, TOO_MANY_FROM_ADDRESS, TOO_FAST_FROM_ADDRESS] {
            let (declared, actual) = body_length(response);
            assert_eq!(declared, actual);
            let body = &response[response.len() - actual..];
            let json: serde_json::Value = serde_json::from_slice(body).expect("json");
            assert!(json["detail"].is_string() && json["error"].is_string());
        }
    }
}
