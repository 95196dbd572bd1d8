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
    /// Wrong username or password.
    #[error("Bad username or password")]
    BadCredentials,
    /// The username is taken.
    #[error("Username is already taken")]
    UsernameTaken,
    /// The username does not fit the rules.
    #[error("Username must be 3 to 64 characters of letters, digits, '_', '.' or '-'")]
    InvalidUsername,
    /// The password does not fit the rules.
    #[error("Password must be 8 to 1024 bytes")]
    WeakPassword,
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
    /// No account has this username.
    #[error("User not found")]
    UserNotFound,
    /// The issuer is not one of the configured trusted issuers.
    #[error("Issuer not found among the trusted issuers")]
    IssuerNotFound,
    /// The account is disabled.
    #[error("This account is disabled")]
    AccountDisabled,
    /// The admin API key is missing or wrong.
    #[error("A valid admin API key is required")]
    AdminUnauthorized,
    /// Too many password checks are waiting; the request had no effect.
    #[error("Too many password checks in progress; try again shortly")]
    Overloaded,
}

impl ApiError {
    /// The stable error code.
    pub(crate) fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Auth(e) => (e.status(), e.code()),
            Self::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Self::UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
            Self::InvalidUsername => (StatusCode::BAD_REQUEST, "invalid_username"),
            Self::WeakPassword => (StatusCode::BAD_REQUEST, "weak_password"),
            Self::RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
            Self::IssuerNotFound => (StatusCode::NOT_FOUND, "issuer_not_found"),
            Self::NotFound | Self::MetricsOff => (StatusCode::NOT_FOUND, "not_found"),
            Self::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            Self::AdminUnauthorized => (StatusCode::UNAUTHORIZED, "admin_unauthorized"),
        }
    }
}

/// The one mapping from what the domain refuses to what the API answers.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Auth(e) => Self::Auth(e),
            DomainError::BadCredentials => Self::BadCredentials,
            DomainError::UsernameTaken => Self::UsernameTaken,
            DomainError::InvalidUsername => Self::InvalidUsername,
            DomainError::WeakPassword => Self::WeakPassword,
            DomainError::InvalidCursor => Self::BadRequest(e.to_string()),
            DomainError::UserNotFound => Self::UserNotFound,
            DomainError::AccountDisabled => Self::AccountDisabled,
            DomainError::Overloaded => Self::Overloaded,
            DomainError::Unavailable => Self::Unavailable,
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
        if matches!(self, Self::Overloaded | Self::Unavailable) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
