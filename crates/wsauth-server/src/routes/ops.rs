//! Operations: `GET /metrics` (Prometheus text format) and `GET /readyz`
//! (200 when every configured backend answers, 503 naming those that do not).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// `/readyz`, served on the main listener.
pub(super) fn health_router() -> Router<AppState> {
    Router::new().route("/readyz", get(readyz))
}

/// `/metrics`: on the main listener, or on `metrics_listen` when set.
pub(crate) fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let backends = state.backends.check().await;
    let failed: Vec<&str> = backends.iter().filter(|b| !b.up).map(|b| b.backend).collect();
    if failed.is_empty() {
        Json(json!({ "status": "ready", "backends": backends })).into_response()
    } else {
        let body = json!({
            "status": "unavailable",
            "error": "unavailable",
            "detail": format!("backend not answering: {}", failed.join(", ")),
            "failed": failed,
            "backends": backends,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        let body = json!({ "detail": "Metrics are switched off", "error": "not_found" });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    crate::metrics::set_live(state.auth.live().len(), state.auth.pending_auth());
    state.backends.check().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
        .into_response()
}
