//! The admin API's channel rights of local accounts: roles and per-user
//! grants, behind the admin API key (`admin.rs`'s [`AdminKey`]). A change
//! commits with its entry in the event log, so every other process
//! re-checks the account's subscriptions within the log's poll interval;
//! this process re-checks them before it answers, so once the call has
//! returned no message reaches a subscription whose right it took away.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::AdminKey;
use super::openapi::Unavailable;
use super::{ApiJson, ApiPath};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(roles, set_roles))
        .routes(routes!(grants, add_grant))
        .routes(routes!(delete_grant))
}

/// An account's roles.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Roles {
    /// At most 32, each 1 to 64 bytes of letters, digits, `_`, `.`, `:`
    /// or `-`; answered sorted, each once.
    #[schema(max_items = 32, example = json!(["member", "mod"]))]
    roles: Vec<String>,
}

/// A grant to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewGrant {
    /// The channels, as a pattern (`room:42`, `room:*`, `user:{sub}:>`).
    #[schema(example = "room:42")]
    pattern: String,
    /// At least one of `subscribe`, `publish`, `presence`.
    #[schema(min_items = 1, example = json!(["subscribe"]))]
    actions: Vec<String>,
}

/// The id of a grant just added.
#[derive(Serialize, ToSchema)]
struct GrantId {
    /// Names the grant for `DELETE`.
    id: String,
}

/// One grant.
#[derive(Serialize, ToSchema)]
struct GrantInfo {
    /// Its id.
    id: String,
    /// The channels, as a pattern.
    pattern: String,
    /// What the account may do on them.
    actions: Vec<&'static str>,
}

/// An account's grants.
#[derive(Serialize, ToSchema)]
struct Grants {
    /// In the order they were added; at most 256.
    grants: Vec<GrantInfo>,
}

/// One grant of one account.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct GrantPath {
    /// The account.
    username: String,
    /// The grant's id.
    id: String,
}

/// An account's roles.
#[utoipa::path(
    get, path = "/admin/users/{username}/roles", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The account's roles", body = Roles),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn roles(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Roles>, ApiError> {
    let found = state.rights.roles(&username).await?;
    Ok(Json(Roles { roles: found.roles }))
}

/// Replaces the account's roles (`[]` removes them); its live
/// subscriptions are checked again before the answer.
#[utoipa::path(
    put, path = "/admin/users/{username}/roles", tag = "admin",
    params(("username" = String, Path)),
    request_body = Roles,
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The account's roles now", body = Roles),
        (status = 400, description = "`bad_request`: a malformed path or body, a role that \
            breaks the rules, or more than 32 roles", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn set_roles(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<Roles>,
) -> Result<Json<Roles>, ApiError> {
    let started = Instant::now();
    let set = state.rights.set_roles(&username, &body.roles).await?;
    state.channels.channels.rights_changed(&set.username, started).await;
    tracing::info!(sub = %set.username, action = "roles", "admin action");
    Ok(Json(Roles { roles: set.roles }))
}

/// The account's grants.
#[utoipa::path(
    get, path = "/admin/users/{username}/grants", tag = "admin",
    params(("username" = String, Path)),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The account's grants", body = Grants),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn grants(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Grants>, ApiError> {
    let found = state.rights.grants(&username).await?;
    let grants = found
        .grants
        .into_iter()
        .map(|stored| GrantInfo {
            id: stored.id,
            pattern: stored.grant.pattern.as_str().to_owned(),
            actions: stored.grant.actions.iter().map(|a| a.as_str()).collect(),
        })
        .collect();
    Ok(Json(Grants { grants }))
}

/// Grants the account actions on the channels a pattern matches.
#[utoipa::path(
    post, path = "/admin/users/{username}/grants", tag = "admin",
    params(("username" = String, Path)),
    request_body = NewGrant,
    security(("admin_key" = [])),
    responses(
        (status = 201, description = "Granted", body = GrantId),
        (status = 400, description = "`bad_request`: a malformed path or body, a pattern \
            that does not parse, or no or an unknown action", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, or `not_found`: no `admin_api_key` \
            is configured", body = ErrorBody),
        (status = 409, description = "`too_many_grants`: the account holds 256 already",
            body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn add_grant(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<NewGrant>,
) -> Result<(StatusCode, Json<GrantId>), ApiError> {
    let started = Instant::now();
    let added = state.rights.add_grant(&username, &body.pattern, &body.actions).await?;
    // A grant adds rights; the check also updates what the account's
    // subscriptions hold (a `grant` frame).
    state.channels.channels.rights_changed(&added.username, started).await;
    tracing::info!(sub = %added.username, action = "grant", id = %added.id, "admin action");
    Ok((StatusCode::CREATED, Json(GrantId { id: added.id })))
}

/// Deletes one of the account's grants; subscriptions that held by it alone
/// end (`unsubscribed`, `permission_revoked`) before the answer.
#[utoipa::path(
    delete, path = "/admin/users/{username}/grants/{id}", tag = "admin",
    params(GrantPath),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 401, description = "`admin_unauthorized`", body = ErrorBody),
        (status = 404, description = "`user_not_found`, `grant_not_found`, or `not_found`: \
            no `admin_api_key` is configured", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn delete_grant(
    _: AdminKey,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<GrantPath>,
) -> Result<StatusCode, ApiError> {
    let started = Instant::now();
    let username = state.rights.delete_grant(&path.username, &path.id).await?;
    state.channels.channels.rights_changed(&username, started).await;
    tracing::info!(sub = %username, action = "ungrant", id = %path.id, "admin action");
    Ok(StatusCode::NO_CONTENT)
}
