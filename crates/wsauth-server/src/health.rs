//! Readiness: every configured backend ([`Backend`], `wsauth-domain`)
//! answers, or the server is not ready. Callers never branch on which ones
//! are configured.

use std::sync::Arc;
use std::time::Duration;
use wsauth_domain::Backend;

/// Every configured backend.
#[derive(Clone)]
pub(crate) struct Backends(Arc<[Arc<dyn Backend>]>);

/// One backend's state.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct BackendState {
    /// The backend.
    pub(crate) backend: &'static str,
    /// Whether it answered in time.
    pub(crate) up: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// How long one ping may take before the backend counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Backends {
    /// These backends.
    pub(crate) fn new(backends: Vec<Arc<dyn Backend>>) -> Self {
        Self(backends.into())
    }

    /// Pings every backend at once; also sets `wsauth_backend_up`.
    pub(crate) async fn check(&self) -> Vec<BackendState> {
        let pings = self.0.iter().map(|backend| async move {
            let result = tokio::time::timeout(PING_TIMEOUT, backend.ping())
                .await
                .unwrap_or_else(|_| Err("no answer within 2 s".into()));
            crate::metrics::backend_up(backend.name(), result.is_ok());
            BackendState { backend: backend.name(), up: result.is_ok(), error: result.err() }
        });
        futures_util::future::join_all(pings).await
    }
}
