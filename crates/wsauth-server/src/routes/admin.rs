//! The admin API: accounts for operators, behind `admin_api_key`. Without a
//! key configured every route answers 404; a request without the right key
//! in `Authorization: Bearer` gets 401. The key is compared in constant time
//! and never logged (the header is marked sensitive).

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::admin::{Action, Change, UserPage};
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{username}", get(show).delete(delete))
        .route("/admin/users/{username}/revoke", post(revoke))
        .route("/admin/users/{username}/disable", post(disable))
        .route("/admin/users/{username}/enable", post(enable))
}

/// Proof that the request carries the admin API key.
pub(crate) struct AdminKey;

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = state.config.admin_api_key.as_deref() else {
            return Err(ApiError::NotFound);
        };
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.as_bytes());
        match presented {
            Some(token) if bool::from(token.ct_eq(key.as_bytes())) => Ok(Self),
            _ => Err(ApiError::AdminUnauthorized),
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    prefix: String,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    _: AdminKey,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let page =
        state.admin.list(&query.prefix, query.limit.unwrap_or(50), query.cursor.as_deref()).await?;
    Ok(Json(page))
}

async fn show(
    _: AdminKey,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = state.admin.get(&username).await?;
    let live = state.auth.live().count_for(&user.username);
    Ok(Json(json!({
        "username": user.username,
        "created_at": user.created_at,
        "disabled": user.disabled,
        "live_sockets": live,
        "live_sockets_scope": "node",
    })))
}

/// Applies a change and what it did to this process: the mirror, then the
/// live sockets.
async fn act(state: &AppState, username: &str, change: Change) -> Result<Json<Value>, ApiError> {
    let action = change.action();
    let revoked = state.admin.apply(username, change, state.families.now()).await?;
    state.revocations.note_disabled(&revoked.sub, action == Action::Disable);
    if action.closes_sockets() {
        state.families.apply_subject_revocation(&revoked.sub, &revoked.families, revoked.before);
    }
    tracing::info!(sub = %revoked.sub, action = action.as_str(), "admin action");
    Ok(Json(json!({ "username": revoked.sub, "action": action.as_str() })))
}

async fn revoke(
    _: AdminKey,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    act(&state, &name, Change::Revoke).await
}

async fn disable(
    _: AdminKey,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    act(&state, &name, Change::Disable).await
}

async fn enable(
    _: AdminKey,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    act(&state, &name, Change::Enable).await
}

async fn delete(
    _: AdminKey,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    act(&state, &name, Change::Delete).await
}
