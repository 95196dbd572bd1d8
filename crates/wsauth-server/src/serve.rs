//! The accept loop, in place of `axum::serve` (which sets no timer, so a
//! client that never finishes its headers holds its connection forever):
//! hyper serves each connection with a header read timeout and an idle
//! timeout, and hands WebSocket upgrades off untimed (their keepalive is the
//! ping/pong in `LiveSocket`).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use crate::config::Limits;
use crate::stream::{AcceptedStream, Progress};

/// How connections are timed.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionPolicy {
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl ConnectionPolicy {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(limits.header_read_timeout),
            idle_timeout: Duration::from_secs(limits.http_idle_timeout),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops
/// accepting, lets every connection finish its request (idle ones close at
/// once) and returns when all have, or after `DRAIN_LIMIT`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    policy: ConnectionPolicy,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
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
        let conn = Connection { app: app.clone(), policy: policy.clone(), peer };
        connections.spawn(conn.run(stream, shutdown.clone()));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN_LIMIT, connections.wait()).await.is_err() {
        tracing::warn!(left = connections.len(), "some HTTP connections did not finish in time");
    }
}

/// How long shutdown waits for HTTP requests in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// One accepted connection, before hyper takes it.
struct Connection {
    app: Router,
    policy: ConnectionPolicy,
    peer: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, shutdown: CancellationToken) {
        let Self { app, policy, peer } = self;
        let progress = Progress::new();
        let io = TokioIo::new(AcceptedStream::new(stream, progress.clone()));
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
