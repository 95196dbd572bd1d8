//! Token-mode accounts and sessions: register, login, refresh, logout,
//! logout everywhere, who am I, and one-time WebSocket tickets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::{Authenticated, Claims, CredentialKind, RefreshToken, RevokingToken};

use super::openapi::{
    BadRequest, Forbidden, RequestTimeout, TooManyRequests, Unauthorized, Unavailable,
};
use super::{ApiJson, ClientIp, admit_password_attempt};
use crate::error::{ApiError, ErrorBody, outcome};
use crate::metrics;
use crate::state::AppState;
use wsauth_domain::DomainError;
use wsauth_domain::accounts::VerifiedAccount;
use wsauth_domain::families::{TokenPair, Transport};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(me))
        .routes(routes!(ws_ticket))
}

/// A username and a password, as in the seed.
#[derive(Deserialize, ToSchema)]
pub(super) struct Credentials {
    /// The username as registered, in any letter case.
    pub(super) username: String,
    /// The password.
    pub(super) password: String,
}

/// A new account's username and password.
#[derive(Deserialize, ToSchema)]
struct NewAccount {
    /// Unique without regard to letter case.
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    username: String,
    /// 8 to 1024 bytes.
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
}

/// A new account.
#[derive(Serialize, ToSchema)]
struct Registered {
    /// The username as registered.
    username: String,
}

/// A new token pair.
#[derive(Serialize, ToSchema)]
struct TokenPairBody {
    /// The access token (a JWT).
    access_token: String,
    /// The refresh token (a JWT), for `POST /auth/refresh`.
    refresh_token: String,
    /// Always `bearer`.
    token_type: TokenType,
    /// The access token's lifetime, seconds.
    expires_in: i64,
}

/// How to present the access token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum TokenType {
    /// `Authorization: Bearer <access_token>`.
    Bearer,
}

/// What was done.
#[derive(Serialize, ToSchema)]
pub(super) struct Detail {
    /// A message for people.
    pub(super) detail: &'static str,
}

/// Who the credential belongs to.
#[derive(Serialize, ToSchema)]
struct Me {
    /// The username (the token's `sub`).
    sub: String,
    /// How the credential travelled: `header` or `cookie` here.
    #[schema(value_type = String)]
    credential: CredentialKind,
    /// The verified claims (docs/protocol.md, "Tokens"), custom claims included.
    #[schema(value_type = Object)]
    claims: Claims,
}

/// A one-time WebSocket ticket.
#[derive(Serialize, ToSchema)]
struct Ticket {
    /// Pass as `/ws?ticket=`; it works once.
    ticket: String,
    /// Seconds before it expires.
    expires_in: i64,
}

/// Creates an account.
#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The account exists", body = Registered),
        (status = 400, description = "`invalid_username`, `weak_password` or `bad_request`",
            body = ErrorBody),
        (status = 403, description = "`registration_closed`", body = ErrorBody),
        (status = 408, response = RequestTimeout),
        (status = 409, description = "`username_taken` (in any letter case)", body = ErrorBody),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    if !state.config.registration {
        return Err(ApiError::RegistrationClosed);
    }
    admit_password_attempt(&state, client).await?;
    let now = state.auth.tokens().clock().now();
    state.accounts.create(&body.username, &body.password, now).await?;
    tracing::info!(username = %body.username, "account registered");
    Ok((StatusCode::CREATED, Json(Registered { username: body.username })))
}

/// Checks a username (in any letter case) and password and returns the
/// account as the check read it; the seed's message on failure, 429 past
/// the per-address attempt rate.
pub(super) async fn check_password(
    state: &AppState,
    client: ClientIp,
    body: &Credentials,
) -> Result<VerifiedAccount, ApiError> {
    admit_password_attempt(state, client).await?;
    state
        .accounts
        .verify(&body.username, &body.password)
        .await?
        .ok_or(ApiError::Domain(DomainError::BadCredentials))
}

fn pair_body(state: &AppState, pair: TokenPair) -> Json<TokenPairBody> {
    Json(TokenPairBody {
        access_token: pair.access.token,
        refresh_token: pair.refresh.token,
        token_type: TokenType::Bearer,
        expires_in: state.auth.tokens().settings().access_ttl,
    })
}

/// Logs in with a password: a new login (token family) and its first pair.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "The first pair; the access token is fresh",
            body = TokenPairBody),
        (status = 400, response = BadRequest),
        (status = 401, description = "`bad_credentials`", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 408, response = RequestTimeout),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenPairBody>, ApiError> {
    let result = async {
        let account = check_password(&state, client, &body).await?;
        Ok(state.families.login(&account, Transport::Bearer).await?)
    }
    .await;
    metrics::login(outcome(&result));
    Ok(pair_body(&state, result?))
}

/// Rotates a refresh token: a new pair for the same login. The access token
/// is not fresh. An exact retry within `refresh_grace` gets the same pair;
/// any other reuse revokes the whole login.
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
    security(("refresh_bearer" = [])),
    responses(
        (status = 200, description = "The new pair", body = TokenPairBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    token: Result<RefreshToken, wsauth::AuthError>,
) -> Result<Json<TokenPairBody>, ApiError> {
    let result = match token {
        Ok(RefreshToken(claims)) => {
            state.families.rotate(&claims, Transport::Bearer).await.map_err(ApiError::from)
        }
        Err(e) => Err(e.into()),
    };
    metrics::refresh(outcome(&result));
    Ok(pair_body(&state, result?))
}

/// Logs out: revokes every token of this login and closes its sockets (4003).
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "`Logged out`", body = Detail),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    )
)]
async fn logout(
    State(state): State<AppState>,
    RevokingToken(claims): RevokingToken,
) -> Result<Json<Detail>, ApiError> {
    state.families.revoke_token_family(&claims).await?;
    Ok(Json(Detail { detail: "Logged out" }))
}

/// Logs out everywhere: revokes every token of the user and closes every
/// socket of the user.
#[utoipa::path(
    post, path = "/auth/logout-all", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "`Logged out everywhere`", body = Detail),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    )
)]
async fn logout_all(
    State(state): State<AppState>,
    RevokingToken(claims): RevokingToken,
) -> Result<Json<Detail>, ApiError> {
    state.families.revoke_subject(&claims.sub).await?;
    Ok(Json(Detail { detail: "Logged out everywhere" }))
}

/// Who am I: the verified claims of the access token (no CSRF needed on GET).
#[utoipa::path(
    get, path = "/auth/me", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The credential's owner and claims", body = Me),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    )
)]
async fn me(auth: Authenticated) -> Json<Me> {
    Json(Me { sub: auth.claims.sub.clone(), credential: auth.credential, claims: auth.claims })
}

/// A one-time ticket for `/ws?ticket=`: single use, 30 s, and it stands for
/// the token that requested it.
#[utoipa::path(
    post, path = "/auth/ws-ticket", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The ticket", body = Ticket),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, description = "`too_many_requests`: the user already holds \
            `max_tickets_per_user` unredeemed tickets", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 503, response = Unavailable),
    )
)]
async fn ws_ticket(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Ticket>, ApiError> {
    let issued = state.auth.issue_ticket(&auth.claims).await?;
    Ok(Json(Ticket { ticket: issued.ticket, expires_in: issued.expires_in }))
}
