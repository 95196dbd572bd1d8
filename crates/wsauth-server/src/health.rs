//! Readiness: every configured backend answers, or the server is not ready.
//! Each backend is one implementation of [`Backend`], beside the rest of its
//! code: the database (`sqlite`: takes the write lock and lets it go;
//! `postgres`: `SELECT 1`) in `store/`. Callers never branch on which ones
//! are configured.

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// A store the server depends on.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The name used in `/readyz` and in `wsauth_backend_up{backend}`.
    fn name(&self) -> &'static str;
    /// Answers when the backend is usable; the error says why not.
    async fn ping(&self) -> Result<(), String>;
}

/// Every configured backend.
#[derive(Clone)]
pub struct Backends(Arc<[Arc<dyn Backend>]>);

/// One backend's state.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BackendState {
    /// The backend.
    pub backend: &'static str,
    /// Whether it answered in time.
    pub up: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How long one ping may take before the backend counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Backends {
    /// These backends.
    pub fn new(backends: Vec<Arc<dyn Backend>>) -> Self {
        Self(backends.into())
    }

    /// Pings every backend at once; also sets `wsauth_backend_up`.
    pub async fn check(&self) -> Vec<BackendState> {
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
