//! What every handler shares.

use axum::extract::FromRef;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsauth::WsAuth;

use crate::config::Config;
use wsauth_domain::accounts::Accounts;
use wsauth_domain::families::Families;

/// The application state: one shared allocation, so that the clone axum
/// makes for every request is one reference count.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` with every handler.
    pub(crate) fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What every handler uses.
pub(crate) struct Services {
    /// Tokens, credentials, revocation, tickets.
    pub(crate) auth: WsAuth,
    /// The account store.
    pub(crate) accounts: Accounts,
    /// Token families (login, rotation, logout).
    pub(crate) families: Families,
    /// The configuration in force.
    pub(crate) config: Arc<Config>,
    /// Cancelled when the server shuts down; live sockets close with 1001.
    pub(crate) shutdown: CancellationToken,
    /// Live socket tasks, awaited at shutdown.
    pub(crate) sockets: TaskTracker,
    /// Operator actions on accounts.
    pub(crate) admin: wsauth_domain::admin::Admin,
    /// Local accounts' channel roles and grants.
    pub(crate) rights: wsauth_domain::rights::Rights,
    /// Where committed revocations are applied and shared with other nodes.
    pub(crate) propagation: wsauth_domain::propagate::Propagation,
    /// Every configured backend, for readiness.
    pub(crate) backends: crate::health::Backends,
    /// The Prometheus handle, when metrics are on.
    pub(crate) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Password attempts per client address (in this process, or shared
    /// by the cluster's nodes).
    pub(crate) password_attempts: Arc<dyn wsauth::cluster::AttemptLimiter>,
    /// This node's channels (subscriptions, delivery, presence), and the
    /// roles trusted issuers' tokens carry.
    pub(crate) channels: crate::sockets::ChannelSetup,
    /// The proxied routes' shared state (refresh handles).
    pub(crate) proxies: crate::proxy::Proxies,
}

impl FromRef<AppState> for WsAuth {
    fn from_ref(state: &AppState) -> WsAuth {
        state.auth.clone()
    }
}

impl FromRef<AppState> for crate::proxy::ProxyContext {
    fn from_ref(state: &AppState) -> Self {
        Self {
            auth: state.auth.clone(),
            proxies: state.proxies.clone(),
            shutdown: state.shutdown.clone(),
            sockets: state.sockets.clone(),
        }
    }
}
