//! One error type for the HTTP API, mapped to a status and a JSON body
//! `{"detail": ..., "error": ...}` in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wsauth::AuthError;
use wsauth_domain::DomainError;

/// The body of every error the API answers (the library's refusals too).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// A message for people; it never contains a token.
    pub(crate) detail: String,
    /// The stable machine-readable code (docs/protocol.md, "Error codes").
    pub(crate) error: String,
}

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Authentication failed (401/403/400/429 as the library decides).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// An account or family operation refused (`wsauth-domain`).
    #[error(transparent)]
    Domain(DomainError),
    /// Registration is switched off.
    #[error("Registration is disabled")]
    RegistrationClosed,
    /// The body is not the JSON the route expects.
    #[error("{0}")]
    BadRequest(String),
    /// The request body did not arrive within `body_read_timeout`.
    #[error("The request body took too long to arrive")]
    RequestTimeout,
    /// A backend failed; the request had no effect.
    #[error("Service unavailable")]
    Unavailable,
    /// No such route (or the feature behind it is switched off).
    #[error("Not found")]
    NotFound,
    /// Metrics are switched off (`metrics = false`).
    #[error("Metrics are switched off")]
    MetricsOff,
    /// The issuer is not one of the configured trusted issuers.
    #[error("Issuer not found among the trusted issuers")]
    IssuerNotFound,
    /// The admin API key is missing or wrong.
    #[error("A valid admin API key is required")]
    AdminUnauthorized,
    /// The publish API key is missing or wrong.
    #[error("A valid publish API key is required")]
    PublishUnauthorized,
    /// A channel name breaks the rules of names.
    #[error("{0}")]
    BadChannel(&'static str),
    /// The request body is larger than the route allows.
    #[error("The request body is larger than {0} bytes")]
    TooLarge(usize),
}

impl ApiError {
    /// The stable error code.
    pub(crate) fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Auth(e) => (e.status(), e.code()),
            Self::Domain(e) => domain_status_and_code(e),
            Self::RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::IssuerNotFound => (StatusCode::NOT_FOUND, "issuer_not_found"),
            Self::NotFound | Self::MetricsOff => (StatusCode::NOT_FOUND, "not_found"),
            Self::AdminUnauthorized => (StatusCode::UNAUTHORIZED, "admin_unauthorized"),
            Self::PublishUnauthorized => (StatusCode::UNAUTHORIZED, "publish_unauthorized"),
            Self::BadChannel(_) => (StatusCode::BAD_REQUEST, "bad_channel"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        }
    }
}

/// The one mapping from what the domain refuses to what the API answers.
fn domain_status_and_code(e: &DomainError) -> (StatusCode, &'static str) {
    match e {
        DomainError::Auth(e) => (e.status(), e.code()),
        DomainError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
        DomainError::UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
        DomainError::InvalidUsername => (StatusCode::BAD_REQUEST, "invalid_username"),
        DomainError::WeakPassword => (StatusCode::BAD_REQUEST, "weak_password"),
        DomainError::InvalidCursor
        | DomainError::InvalidPageSize
        | DomainError::InvalidRole
        | DomainError::TooManyRoles
        | DomainError::InvalidPattern(_)
        | DomainError::InvalidActions(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        DomainError::TooManyGrants => (StatusCode::CONFLICT, "too_many_grants"),
        DomainError::GrantNotFound => (StatusCode::NOT_FOUND, "grant_not_found"),
        DomainError::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
        DomainError::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
        DomainError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        DomainError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            // A refused token answers as the library's refusals do (its
            // close code and `WWW-Authenticate` included).
            DomainError::Auth(e) => Self::Auth(e),
            e => Self::Domain(e),
        }
    }
}

impl From<wsauth::StoreError> for ApiError {
    fn from(e: wsauth::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        Self::Unavailable
    }
}

impl From<wsauth::IssueError> for ApiError {
    fn from(e: wsauth::IssueError) -> Self {
        tracing::error!(error = %e, "cannot issue token");
        Self::Unavailable
    }
}

/// What a request came to, for the metrics: `ok`, or the error code.
pub(crate) fn outcome<T>(result: &Result<T, ApiError>) -> &'static str {
    result.as_ref().map_or_else(ApiError::code, |_| "ok")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Auth(e) = self {
            return e.into_response();
        }
        let (status, code) = self.status_and_code();
        let body = ErrorBody { detail: self.to_string(), error: code.to_owned() };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(
            self,
            Self::Unavailable | Self::Domain(DomainError::Overloaded | DomainError::Unavailable)
        ) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
