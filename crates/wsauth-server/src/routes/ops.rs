//! Operations: `GET /metrics` (Prometheus text format) and `GET /readyz`
//! (200 when every configured backend answers, 503 naming those that do not).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::NotFound;
use crate::error::ApiError;
use crate::health::BackendState;
use crate::state::AppState;

/// `/readyz`, served on the main listener.
pub(super) fn health_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(readyz))
}

/// `/metrics`: on the main listener, or on `metrics_listen` when set.
pub(super) fn metrics_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(metrics))
}

/// Every backend answers.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// `ready`.
    status: &'static str,
    /// Each backend's state.
    backends: Vec<BackendState>,
}

/// A backend does not answer.
#[derive(Serialize, ToSchema)]
struct NotReady {
    /// `unavailable`.
    status: &'static str,
    /// `unavailable`.
    error: &'static str,
    /// Names the backends that do not answer.
    detail: String,
    /// The backends that do not answer.
    failed: Vec<&'static str>,
    /// Each backend's state.
    backends: Vec<BackendState>,
}

/// Readiness: every configured backend answers (the database takes a write lock).
#[utoipa::path(
    get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready: `unavailable`, naming the backends",
            body = NotReady),
    )
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let backends = state.backends.check().await;
    let failed: Vec<&'static str> = backends.iter().filter(|b| !b.up).map(|b| b.backend).collect();
    if failed.is_empty() {
        Json(Ready { status: "ready", backends }).into_response()
    } else {
        let body = NotReady {
            status: "unavailable",
            error: "unavailable",
            detail: format!("backend not answering: {}", failed.join(", ")),
            failed,
            backends,
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(
    get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "The metrics",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 404, response = NotFound),
    )
)]
async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return ApiError::MetricsOff.into_response();
    };
    crate::metrics::set_live(state.auth.live().len(), state.auth.pending_auth());
    state.backends.check().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
        .into_response()
}
