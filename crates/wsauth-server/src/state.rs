//! What every handler shares.

use axum::extract::FromRef;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsauth::WsAuth;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::families::Families;

/// The application state: one shared allocation, so that the clone axum
/// makes for every request is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Shares `services` with every handler.
    pub fn new(services: Services) -> Self {
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
pub struct Services {
    /// Tokens, credentials, revocation, tickets.
    pub auth: WsAuth,
    /// The account store.
    pub accounts: Accounts,
    /// Token families (login, rotation, logout).
    pub families: Families,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Cancelled when the server shuts down; live sockets close with 1001.
    pub shutdown: CancellationToken,
    /// Live socket tasks, awaited at shutdown.
    pub sockets: TaskTracker,
    /// Operator actions on accounts.
    pub admin: crate::admin::Admin,
    /// Revocations (mirrored in memory).
    pub revocations: Arc<crate::revocations::StoredRevocations>,
    /// Where committed revocations are applied and shared with other nodes.
    pub propagation: crate::propagate::Propagation,
    /// Every configured backend, for readiness.
    pub backends: crate::health::Backends,
    /// The Prometheus handle, when metrics are on.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Password attempts per client address (in this process, or shared
    /// by the cluster's nodes).
    pub password_attempts: Arc<dyn wsauth::cluster::AttemptLimiter>,
    /// The proxied routes' shared state (refresh handles).
    pub proxies: crate::proxy::Proxies,
}

impl FromRef<AppState> for WsAuth {
    fn from_ref(state: &AppState) -> WsAuth {
        state.auth.clone()
    }
}
