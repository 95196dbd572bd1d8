//! Prometheus metrics through the `metrics` facade. The names are an
//! interface (dashboards and alerts depend on them): see docs/operations.md.
//! No label carries a username, token, address or any other unbounded value.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use wsauth::{CredentialKind, HandshakeOutcome, Limit, Observer};

/// WebSocket handshakes: `outcome`, `credential`, `error`.
pub const HANDSHAKES: &str = "wsauth_handshakes_total";
/// Seconds from the request to the handshake's decision: `outcome`.
pub const HANDSHAKE_SECONDS: &str = "wsauth_handshake_duration_seconds";
/// Sockets open now on this node.
pub const LIVE_SOCKETS: &str = "wsauth_live_sockets";
/// Sockets waiting for a first-message auth frame now.
pub const PENDING_AUTH: &str = "wsauth_pending_first_message_sockets";
/// Every close, by close code (`other` outside the documented table).
pub const SOCKET_CLOSES: &str = "wsauth_socket_closes_total";
/// Seconds from a revocation being stored to the socket's close frame.
pub const REVOCATION_CLOSE_SECONDS: &str = "wsauth_revocation_close_seconds";
/// Password logins: `outcome`.
pub const LOGINS: &str = "wsauth_logins_total";
/// Refresh rotations: `outcome`.
pub const REFRESHES: &str = "wsauth_refreshes_total";
/// One-time tickets issued.
pub const TICKETS_ISSUED: &str = "wsauth_tickets_issued_total";
/// One-time tickets redeemed.
pub const TICKETS_REDEEMED: &str = "wsauth_tickets_redeemed_total";
/// Requests refused by a limit: `limit`.
pub const RATE_LIMITED: &str = "wsauth_rate_limited_total";
/// 1 when a configured store answers, 0 when not: `backend`.
pub const BACKEND_UP: &str = "wsauth_backend_up";

/// Close codes with a meaning of their own (docs/protocol.md); others are `other`.
const CLOSE_CODES: [u16; 14] =
    [1000, 1001, 1002, 1005, 1006, 1007, 1008, 1009, 1013, 4001, 4003, 4401, 4403, 4408];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle; `None`
/// when another recorder was installed first. Several `Application`s in one
/// process share it.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HANDSHAKE_SECONDS.into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(REVOCATION_CLOSE_SECONDS.into()),
                        &seconds,
                    )
                });
            let recorder = match builder {
                Ok(builder) => builder.build_recorder(),
                Err(e) => {
                    tracing::error!(error = %e, "metrics are off: bad histogram buckets");
                    return None;
                }
            };
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(_) => {
                    tracing::warn!("metrics are off: another recorder is installed");
                    None
                }
            }
        })
        .clone()
}

/// Keeps histograms bounded in memory; call every few seconds.
pub async fn upkeep(handle: PrometheusHandle, shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// The library's events, counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorder;

fn credential_label(kind: Option<CredentialKind>) -> &'static str {
    kind.map_or("none", CredentialKind::as_str)
}

impl Observer for Recorder {
    fn handshake(&self, outcome: &HandshakeOutcome) {
        let (result, error) = match outcome.error {
            None => ("accepted", ""),
            Some(code) => ("rejected", code),
        };
        let credential = credential_label(outcome.credential);
        metrics::counter!(HANDSHAKES, "outcome" => result, "credential" => credential, "error" => error)
            .increment(1);
        metrics::histogram!(HANDSHAKE_SECONDS, "outcome" => result)
            .record(outcome.elapsed.as_secs_f64());
    }

    fn socket_closed(&self, code: u16) {
        let label = if CLOSE_CODES.contains(&code) {
            metrics::SharedString::from(code.to_string())
        } else {
            metrics::SharedString::const_str("other")
        };
        metrics::counter!(SOCKET_CLOSES, "code" => label).increment(1);
    }

    fn revocation_closed(&self, elapsed: Duration) {
        metrics::histogram!(REVOCATION_CLOSE_SECONDS).record(elapsed.as_secs_f64());
    }

    fn ticket_issued(&self) {
        metrics::counter!(TICKETS_ISSUED).increment(1);
    }

    fn ticket_redeemed(&self) {
        metrics::counter!(TICKETS_REDEEMED).increment(1);
    }

    fn rate_limited(&self, limit: Limit) {
        rate_limited(limit.as_str());
    }
}

/// Counts a request refused by the named limit.
pub fn rate_limited(limit: &'static str) {
    metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// Counts a login by outcome (`ok`, or the error code).
pub fn login<T>(result: &Result<T, crate::error::ApiError>) {
    metrics::counter!(LOGINS, "outcome" => outcome(result)).increment(1);
}

/// Counts a refresh by outcome (`ok`, or the error code).
pub fn refresh<T>(result: &Result<T, crate::error::ApiError>) {
    if let Err(crate::error::ApiError::Auth(wsauth::AuthError::TooManyRequests { .. })) = result {
        rate_limited("refresh");
    }
    metrics::counter!(REFRESHES, "outcome" => outcome(result)).increment(1);
}

fn outcome<T>(result: &Result<T, crate::error::ApiError>) -> &'static str {
    result.as_ref().map_or_else(crate::error::ApiError::code, |_| "ok")
}

/// Sets a backend's up gauge.
pub fn backend_up(backend: &'static str, up: bool) {
    metrics::gauge!(BACKEND_UP, "backend" => backend).set(if up { 1.0 } else { 0.0 });
}

/// Gauges read at scrape time.
pub fn set_live(live_sockets: usize, pending_auth: usize) {
    metrics::gauge!(LIVE_SOCKETS).set(live_sockets as f64);
    metrics::gauge!(PENDING_AUTH).set(pending_auth as f64);
}
