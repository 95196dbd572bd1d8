//! Prometheus metrics through the `metrics` facade. The names are an
//! interface (dashboards and alerts depend on them): see docs/operations.md.
//! No label carries a username, token, address or any other unbounded value.

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use wsauth::CredentialKind;
use wsauth::observe::{Direction, HandshakeOutcome, Limit, Observer};

/// WebSocket handshakes: `outcome`, `credential`, `error`.
pub(crate) const HANDSHAKES: &str = "wsauth_handshakes_total";
/// Seconds from the request to the handshake's decision: `outcome`.
pub(crate) const HANDSHAKE_SECONDS: &str = "wsauth_handshake_duration_seconds";
/// Sockets open now on this node.
pub(crate) const LIVE_SOCKETS: &str = "wsauth_live_sockets";
/// Sockets waiting for a first-message auth frame now.
pub(crate) const PENDING_AUTH: &str = "wsauth_pending_first_message_sockets";
/// Every close, by close code (`other` outside the documented table).
pub(crate) const SOCKET_CLOSES: &str = "wsauth_socket_closes_total";
/// Seconds from a revocation being stored to the socket's close frame.
pub(crate) const REVOCATION_CLOSE_SECONDS: &str = "wsauth_revocation_close_seconds";
/// Password logins: `outcome`.
pub(crate) const LOGINS: &str = "wsauth_logins_total";
/// Refresh rotations: `outcome`.
pub(crate) const REFRESHES: &str = "wsauth_refreshes_total";
/// One-time tickets issued.
pub(crate) const TICKETS_ISSUED: &str = "wsauth_tickets_issued_total";
/// One-time tickets redeemed.
pub(crate) const TICKETS_REDEEMED: &str = "wsauth_tickets_redeemed_total";
/// Requests refused by a limit: `limit`.
pub(crate) const RATE_LIMITED: &str = "wsauth_rate_limited_total";
/// 1 when a configured store answers, 0 when not: `backend`.
pub(crate) const BACKEND_UP: &str = "wsauth_backend_up";

/// Socket-channel subscriptions held now on this node.
pub(crate) const CHANNEL_SUBSCRIPTIONS: &str = "wsauth_channel_subscriptions";
/// Channel messages: `direction` (`in`: published, `out`: delivered to a socket).
pub(crate) const CHANNEL_MESSAGES: &str = "wsauth_channel_messages_total";
/// Channel commands refused: `error`.
pub(crate) const CHANNEL_DENIALS: &str = "wsauth_channel_denials_total";
/// Subscriptions ended because their right was taken away.
pub(crate) const CHANNEL_REVOCATIONS: &str = "wsauth_channel_revocations_total";
/// Seconds from a change of rights to the `unsubscribed` frame.
pub(crate) const CHANNEL_REVOCATION_SECONDS: &str = "wsauth_channel_revocation_seconds";
/// Every `error` label of [`CHANNEL_DENIALS`].
const CHANNEL_ERRORS: [&str; 5] =
    ["forbidden", "bad_channel", "too_many_subscriptions", "unavailable", "unknown_command"];

/// Proxied handshakes refused with 502 because the upstream could not be
/// opened: `route` (a configured path), `error`.
pub(crate) const PROXY_UPSTREAM_FAILURES: &str = "wsauth_proxy_upstream_failures_total";

/// Close codes with a meaning of their own (docs/protocol.md); others are `other`.
const CLOSE_CODES: [u16; 15] =
    [1000, 1001, 1002, 1005, 1006, 1007, 1008, 1009, 1011, 1013, 4001, 4003, 4401, 4403, 4408];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle; `None`
/// when another recorder was installed first. Several `Application`s in one
/// process share it.
pub(crate) fn install() -> Option<PrometheusHandle> {
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
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(CHANNEL_REVOCATION_SECONDS.into()),
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
pub(crate) async fn upkeep(
    handle: PrometheusHandle,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// The library's events, counted. The handles of the hot path (accepted
/// handshakes, closes with a known code) are registered once, so an event
/// is an atomic add rather than a label lookup in the registry.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// Accepted handshakes, in the order of `CREDENTIALS`.
    accepted: [Counter; CREDENTIALS.len()],
    accepted_seconds: Histogram,
    rejected_seconds: Histogram,
    /// Closes by code, in the order of `CLOSE_CODES`.
    closes: [Counter; CLOSE_CODES.len()],
    closes_other: Counter,
    revocation_seconds: Histogram,
    tickets_issued: Counter,
    tickets_redeemed: Counter,
    channel_subscriptions: Gauge,
    /// Channel messages published (`in`) and delivered (`out`).
    channel_messages: [Counter; 2],
    channel_revocations: Counter,
    channel_revocation_seconds: Histogram,
}

/// Every `credential` label, `none` first.
const CREDENTIALS: [Option<CredentialKind>; 7] = [
    None,
    Some(CredentialKind::Header),
    Some(CredentialKind::Cookie),
    Some(CredentialKind::Query),
    Some(CredentialKind::Subprotocol),
    Some(CredentialKind::Ticket),
    Some(CredentialKind::FirstMessage),
];

fn handshake_counter(
    outcome: &'static str,
    credential: Option<CredentialKind>,
    error: &'static str,
) -> Counter {
    metrics::counter!(HANDSHAKES, "outcome" => outcome,
        "credential" => credential_label(credential), "error" => error)
}

fn credential_label(kind: Option<CredentialKind>) -> &'static str {
    kind.map_or("none", CredentialKind::as_str)
}

impl Recorder {
    /// Registers the handles with the installed recorder; call after [`install`].
    pub(crate) fn new() -> Self {
        let accepted = CREDENTIALS.map(|kind| handshake_counter("accepted", kind, ""));
        let closes =
            CLOSE_CODES.map(|code| metrics::counter!(SOCKET_CLOSES, "code" => code.to_string()));
        Self {
            accepted,
            accepted_seconds: metrics::histogram!(HANDSHAKE_SECONDS, "outcome" => "accepted"),
            rejected_seconds: metrics::histogram!(HANDSHAKE_SECONDS, "outcome" => "rejected"),
            closes,
            closes_other: metrics::counter!(SOCKET_CLOSES, "code" => "other"),
            revocation_seconds: metrics::histogram!(REVOCATION_CLOSE_SECONDS),
            tickets_issued: metrics::counter!(TICKETS_ISSUED),
            tickets_redeemed: metrics::counter!(TICKETS_REDEEMED),
            channel_subscriptions: metrics::gauge!(CHANNEL_SUBSCRIPTIONS),
            channel_messages: [Direction::In, Direction::Out]
                .map(|d| metrics::counter!(CHANNEL_MESSAGES, "direction" => d.as_str())),
            channel_revocations: metrics::counter!(CHANNEL_REVOCATIONS),
            channel_revocation_seconds: metrics::histogram!(CHANNEL_REVOCATION_SECONDS),
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Recorder {
    fn handshake(&self, outcome: &HandshakeOutcome) {
        let seconds = outcome.elapsed.as_secs_f64();
        match outcome.error {
            None => {
                match CREDENTIALS.iter().position(|&kind| kind == outcome.credential) {
                    Some(i) => self.accepted[i].increment(1),
                    None => handshake_counter("accepted", outcome.credential, "").increment(1),
                }
                self.accepted_seconds.record(seconds);
            }
            Some(code) => {
                handshake_counter("rejected", outcome.credential, code).increment(1);
                self.rejected_seconds.record(seconds);
            }
        }
    }

    fn socket_closed(&self, code: u16) {
        match CLOSE_CODES.iter().position(|&known| known == code) {
            Some(i) => self.closes[i].increment(1),
            None => self.closes_other.increment(1),
        }
    }

    fn revocation_closed(&self, elapsed: Duration) {
        self.revocation_seconds.record(elapsed.as_secs_f64());
    }

    fn ticket_issued(&self) {
        self.tickets_issued.increment(1);
    }

    fn ticket_redeemed(&self) {
        self.tickets_redeemed.increment(1);
    }

    fn rate_limited(&self, limit: Limit) {
        rate_limited(limit.as_str());
    }

    #[allow(clippy::cast_precision_loss)]
    fn channel_subscriptions(&self, delta: i64) {
        self.channel_subscriptions.increment(delta as f64);
    }

    fn channel_messages(&self, direction: Direction, count: u64) {
        let i = usize::from(direction == Direction::Out);
        self.channel_messages[i].increment(count);
    }

    fn channel_denied(&self, error: &'static str) {
        metrics::counter!(CHANNEL_DENIALS, "error" => error).increment(1);
    }

    fn channel_revoked(&self, elapsed: Duration) {
        self.channel_revocations.increment(1);
        self.channel_revocation_seconds.record(elapsed.as_secs_f64());
    }
}

/// The `limit` label of a password attempt refused by the per-address budget.
pub(crate) const PASSWORD_LIMIT: &str = "password";
/// The `limit` label of a refresh refused by its family's refresh limit.
const REFRESH_LIMIT: &str = "refresh";

/// Every `limit` label of [`RATE_LIMITED`] (docs/operations.md).
fn limit_labels() -> [&'static str; 8] {
    [
        Limit::HandshakeRate.as_str(),
        Limit::SocketsPerUser.as_str(),
        Limit::PendingAuth.as_str(),
        Limit::MessageRate.as_str(),
        Limit::OutboundQueue.as_str(),
        Limit::Tickets.as_str(),
        PASSWORD_LIMIT,
        REFRESH_LIMIT,
    ]
}

/// Creates, at zero, the counters whose labels are known at start, so a
/// dashboard or an alert on `rate()` sees them before their first event:
/// every `limit` of [`RATE_LIMITED`], and each of `upstream_errors` (the
/// proxy's `error` labels) of [`PROXY_UPSTREAM_FAILURES`] for each
/// configured proxy route.
pub(crate) fn start_at_zero<'a>(
    proxy_routes: impl IntoIterator<Item = &'a str>,
    upstream_errors: &[&'static str],
) {
    for limit in limit_labels() {
        metrics::counter!(RATE_LIMITED, "limit" => limit).increment(0);
    }
    for error in CHANNEL_ERRORS {
        metrics::counter!(CHANNEL_DENIALS, "error" => error).increment(0);
    }
    for direction in [Direction::In, Direction::Out] {
        metrics::counter!(CHANNEL_MESSAGES, "direction" => direction.as_str()).increment(0);
    }
    metrics::counter!(CHANNEL_REVOCATIONS).increment(0);
    metrics::gauge!(CHANNEL_SUBSCRIPTIONS).increment(0.0);
    for route in proxy_routes {
        for &error in upstream_errors {
            metrics::counter!(PROXY_UPSTREAM_FAILURES, "route" => route.to_owned(), "error" => error)
                .increment(0);
        }
    }
}

/// Counts a request refused by the named limit.
pub(crate) fn rate_limited(limit: &'static str) {
    metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// The error code of a refresh refused by its family's refresh limit.
const REFRESH_LIMITED: &str = "too_many_requests";

/// Counts a login by outcome (`ok`, or the error code).
pub(crate) fn login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Counts a refresh by outcome (`ok`, or the error code); a refusal by the
/// family's refresh limit also counts as rate limited.
pub(crate) fn refresh(outcome: &'static str) {
    if outcome == REFRESH_LIMITED {
        rate_limited(REFRESH_LIMIT);
    }
    metrics::counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// Sets a backend's up gauge.
pub(crate) fn backend_up(backend: &'static str, up: bool) {
    metrics::gauge!(BACKEND_UP, "backend" => backend).set(if up { 1.0 } else { 0.0 });
}

/// Gauges read at scrape time.
pub(crate) fn set_live(live_sockets: usize, pending_auth: usize) {
    metrics::gauge!(LIVE_SOCKETS).set(live_sockets as f64);
    metrics::gauge!(PENDING_AUTH).set(pending_auth as f64);
}

/// Counts a proxied handshake whose upstream could not be opened.
pub(crate) fn proxy_upstream_failed(route: &str, error: &'static str) {
    metrics::counter!(PROXY_UPSTREAM_FAILURES, "route" => route.to_owned(), "error" => error)
        .increment(1);
}
