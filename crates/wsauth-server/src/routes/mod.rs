//! The HTTP routes, grouped by resource, and the middleware around them.
//! Every route is registered with its OpenAPI description (`openapi.rs`).

mod admin;
mod auth;
mod cookie;
mod meta;
mod openapi;
mod ops;
mod proxy_refresh;
mod publish;
mod rights;
mod verify;
mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry;

/// Every resource's routes, each with its description.
struct Resources {
    /// Always on the main listener.
    public: OpenApiRouter<AppState>,
    /// `/metrics` and the admin API: on the main listener, or on
    /// `metrics_listen` when it is set.
    internal: OpenApiRouter<AppState>,
}

fn resources() -> Resources {
    Resources {
        public: OpenApiRouter::default()
            .merge(auth::router())
            .merge(cookie::router())
            .merge(meta::router())
            .merge(ops::health_router())
            .merge(verify::router())
            .merge(ws::router())
            .merge(proxy_refresh::router())
            .merge(publish::router()),
        internal: ops::metrics_router().merge(admin::router()).merge(rights::router()),
    }
}

/// The whole application router. `/metrics` and the admin API are on it
/// unless `metrics_listen` moves them to [`internal_router`].
pub(crate) fn router(state: AppState) -> Router {
    let body_deadline = Duration::from_secs(state.config.limits.body_read_timeout);
    let Resources { mut public, internal } = resources();
    if state.config.metrics_listen.is_none() {
        public = public.merge(internal);
    }
    // One layer of the whole stack: `Router::layer` boxes every route once
    // per call, and a request clones the nested boxes (five calls cost 21
    // allocations a request; one costs three).
    let middleware = ServiceBuilder::new()
        .layer(telemetry::sensitive_request_headers())
        .layer(telemetry::access_log())
        .layer(telemetry::sensitive_response_headers())
        .layer(RequestBodyDeadlineLayer::new(body_deadline))
        .layer(DefaultBodyLimit::max(16 * 1024));
    Router::from(public).merge(state.proxies.router()).layer(middleware).with_state(state)
}

/// The paths of every route the server serves itself (which no proxy
/// route may take), from the OpenAPI document every route is described in.
pub(crate) fn own_paths() -> Vec<String> {
    openapi::document().paths.paths.keys().cloned().collect()
}

/// The router of the internal address (`metrics_listen`): `/metrics` and
/// the admin API.
pub(crate) fn internal_router(state: AppState) -> Router {
    let middleware = ServiceBuilder::new()
        .layer(telemetry::sensitive_request_headers())
        .layer(telemetry::access_log())
        .layer(DefaultBodyLimit::max(16 * 1024));
    Router::from(resources().internal).layer(middleware).with_state(state)
}

/// The client's address: the TCP peer, or the client a trusted proxy names
/// (`WsAuth::client_ip`); `None` without connect info.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.auth.client_ip(parts)))
    }
}

/// Admits one password attempt (login, register) from this address, or
/// 429; 503 when the budget cannot be consulted (fails closed).
pub(crate) async fn admit_password_attempt(
    state: &AppState,
    client: ClientIp,
) -> Result<(), ApiError> {
    let Some(ip) = client.0 else { return Ok(()) };
    match state.password_attempts.admit(&wsauth::ClientKey::from(ip)).await {
        Ok(wsauth::cluster::Admission::Admitted) => Ok(()),
        Ok(wsauth::cluster::Admission::RetryAfter(retry_after)) => {
            crate::metrics::rate_limited(crate::metrics::PASSWORD_LIMIT);
            Err(ApiError::Auth(wsauth::AuthError::TooManyRequests { retry_after }))
        }
        Ok(_) => Err(ApiError::Unavailable),
        Err(e) => {
            tracing::error!(error = %e, "password attempt budget unavailable; refusing");
            Err(ApiError::Unavailable)
        }
    }
}

/// A JSON body; a malformed one is a 400 with the API's error body (the
/// input is never echoed back).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let detail = match rejection {
            JsonRejection::MissingJsonContentType(_) => "Expected Content-Type: application/json",
            JsonRejection::BytesRejection(ref e) if timed_out(e) => {
                return ApiError::RequestTimeout;
            }
            JsonRejection::BytesRejection(_) => "Request body is too large or unreadable",
            _ => "Request body is not the expected JSON",
        };
        ApiError::BadRequest(detail.to_owned())
    }
}

/// A query string; a malformed one is a 400 with the API's error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::BadRequest("The query string is not what this route expects".to_owned())
    }
}

/// Path parameters; a malformed one (say, not UTF-8 once decoded) is a 400
/// with the API's error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::BadRequest("The path is not what this route expects".to_owned())
    }
}

/// Whether reading the body failed because its deadline passed.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}
