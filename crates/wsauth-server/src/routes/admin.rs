//! The admin API: accounts for operators, behind `admin_api_key`. Without a
//! key configured every route answers 404; a request without the right key
//! in `Authorization: Bearer` gets 401. The key is compared in constant time
//! and never logged (the header is marked sensitive).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::Unavailable;
use super::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use wsauth_domain::admin::{self as domain, Action, Change};
use wsauth_domain::propagate::Committed;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(show, delete))
        .routes(routes!(revoke))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(revoke_external))
}

/// Proof that the request carries the admin API key.
pub(crate) struct AdminKey;

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = state.config.admin_api_key.as_deref() else {
            return Err(ApiError::NotFound);
        };
        if bearer_is(parts, key) { Ok(Self) } else { Err(ApiError::AdminUnauthorized) }
    }
}

/// Whether the request's `Authorization: Bearer` is `key`, compared in
/// constant time.
pub(super) fn bearer_is(parts: &Parts, key: &str) -> bool {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, token)| bool::from(token.as_bytes().ct_eq(key.as_bytes())))
}

/// Which page of accounts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only usernames that start with this (exact letter case).
    #[serde(default)]
    prefix: String,
    /// Accounts per page, 1 to 500 (default 50); any other number is 400 `bad_request`.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
struct UserPage {
    /// The accounts, by username.
    users: Vec<UserInfo>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// An account as an operator sees it.
#[derive(Serialize, ToSchema)]
struct UserInfo {
    /// The username as registered (the tokens' `sub`).
    username: String,
    /// Unix seconds.
    created_at: i64,
    /// Whether the account is disabled.
    disabled: bool,
}

impl From<domain::UserPage> for UserPage {
    fn from(page: domain::UserPage) -> Self {
        let users = page
            .users
            .into_iter()
            .map(|user| UserInfo {
                username: user.username,
                created_at: user.created_at,
                disabled: user.disabled,
            })
            .collect();
        Self { users, next_cursor: page.next_cursor }
    }
}

/// One account.
#[derive(Serialize, ToSchema)]
struct UserDetail {
    /// The username as registered.
    username: String,
    /// Unix seconds.
    created_at: i64,
    /// Whether the account is disabled.
    disabled: bool,
    /// Live sockets of the user on this node.
    live_sockets: usize,
    /// `node`: other nodes are not counted.
    live_sockets_scope: &'static str,
}

/// What an action did.
#[derive(Serialize, ToSchema)]
struct Done {
    /// The account's username as registered.
    username: String,
    /// What was done.
    detail: &'static str,
}

/// Lists accounts by username, a page at a time.
#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    params(ListQuery),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = UserPage),
        (status = 400, description = "`bad_request`: a malformed query or cursor, or a `limit` \
            outside 1 to 500",
            body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no `admin_api_key` is configured",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn list(
    _: AdminKey,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let page =
        state.admin.list(&query.prefix, query.limit.unwrap_or(50), query.cursor.as_deref()).await?;
    Ok(Json(page.into()))
}

/// One account, by its username (exact, or the one match in any letter case).
#[utoipa::path(
    get, path = "/admin/users/{username}", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The account", body = UserDetail),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn show(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserDetail>, ApiError> {
    let user = state.admin.get(&username).await?;
    let live_sockets = state.auth.live().count_for(&user.username);
    Ok(Json(UserDetail {
        username: user.username,
        created_at: user.created_at,
        disabled: user.disabled,
        live_sockets,
        live_sockets_scope: "node",
    }))
}

/// Applies a change, then what it did to this process and the other nodes
/// (`Propagation`): the mirror, the live sockets, the cluster.
async fn act(
    state: &AppState,
    username: &str,
    change: Change,
    detail: &'static str,
) -> Result<Json<Done>, ApiError> {
    let action = change.action();
    let revoked = state.admin.apply(username, change, state.families.now()).await?;
    let disabled = action == Action::Disable;
    let sub = revoked.sub.clone();
    // A deleted account is blocked no more: a later account of its name is
    // judged by its own state (the old tokens stay revoked by the mark and
    // their families).
    if disabled || matches!(action, Action::Enable | Action::Delete) {
        state.propagation.committed(Committed::Account { sub: sub.clone(), disabled }).await;
    }
    if action.closes_sockets() {
        let (families, before) = (revoked.families, revoked.before);
        state.propagation.committed(Committed::Subject { sub, families, before }).await;
    }
    tracing::info!(sub = %revoked.sub, action = action.as_str(), "admin action");
    Ok(Json(Done { username: revoked.sub, detail }))
}

/// Revokes every token of the account and closes its sockets.
#[utoipa::path(
    post, path = "/admin/users/{username}/revoke", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Done", body = Done),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn revoke(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Done>, ApiError> {
    act(&state, &username, Change::Revoke, "Every token revoked").await
}

/// Disables the account: no login, every token refused, sockets closed.
#[utoipa::path(
    post, path = "/admin/users/{username}/disable", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Done", body = Done),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn disable(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Done>, ApiError> {
    act(&state, &username, Change::Disable, "Disabled").await
}

/// Enables a disabled account (its old tokens stay revoked).
#[utoipa::path(
    post, path = "/admin/users/{username}/enable", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Done", body = Done),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn enable(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Done>, ApiError> {
    act(&state, &username, Change::Enable, "Enabled").await
}

/// Deletes the account; its tokens stay revoked.
#[utoipa::path(
    delete, path = "/admin/users/{username}", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Done", body = Done),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn delete(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Done>, ApiError> {
    act(&state, &username, Change::Delete, "Deleted").await
}

/// A subject of a trusted external issuer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExternalSubject {
    /// The issuer, exactly as configured in `[[trusted_issuers]]`.
    issuer: String,
    /// The subject as the issuer names it (its subject claim).
    subject: String,
}

/// What revoking an external subject did.
#[derive(Serialize, ToSchema)]
struct ExternalDone {
    /// The issuer.
    issuer: String,
    /// The subject.
    subject: String,
    /// The key its tokens and sockets are kept under (`<issuer>#<subject>`).
    subject_key: String,
    /// What was done.
    detail: &'static str,
}

/// Revokes every token a trusted external issuer issued to a subject up to
/// now and closes the subject's sockets (local accounts are not touched:
/// `alice` at an issuer is not the local `alice`).
#[utoipa::path(
    post, path = "/admin/external-subjects/revoke", tag = "admin",
    request_body = ExternalSubject,
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Done", body = ExternalDone),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`issuer_not_found`, or `not_found`: no \
            `admin_api_key` is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn revoke_external(
    _: AdminKey,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ExternalSubject>,
) -> Result<Json<ExternalDone>, ApiError> {
    if state.auth.trusted_issuers().get(&body.issuer).is_none() {
        return Err(ApiError::IssuerNotFound);
    }
    if body.subject.is_empty() || body.subject.len() > 256 {
        return Err(ApiError::BadRequest("subject must be 1 to 256 bytes".into()));
    }
    let key = wsauth::issuers::subject_key(&body.issuer, &body.subject);
    let revoked = state.admin.revoke_external(&key, state.families.now()).await?;
    let (families, before) = (revoked.families, revoked.before);
    state.propagation.committed(Committed::Subject { sub: key.clone(), families, before }).await;
    tracing::info!(sub = %key, action = "revoke", "admin action on an external subject");
    Ok(Json(ExternalDone {
        issuer: body.issuer,
        subject: body.subject,
        subject_key: key,
        detail: "Every token revoked",
    }))
}
