//! Token-mode accounts and sessions: register, login, refresh, logout,
//! logout everywhere, who am I, and one-time WebSocket tickets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use wsauth::{AccessToken, Authenticated, RefreshToken};

use super::{ApiJson, ClientIp, admit_password_attempt};
use crate::error::ApiError;
use crate::families::{TokenPair, Transport};
use crate::metrics;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/me", get(me))
        .route("/auth/ws-ticket", post(ws_ticket))
}

/// The login body, as in the seed.
#[derive(Deserialize)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
}

async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !state.config.registration {
        return Err(ApiError::RegistrationClosed);
    }
    admit_password_attempt(&state, client)?;
    let now = state.auth.tokens().clock().now();
    state.accounts.create(&body.username, &body.password, now).await?;
    tracing::info!(username = %body.username, "account registered");
    Ok((StatusCode::CREATED, Json(json!({ "username": body.username }))))
}

/// Checks a username (in any letter case) and password and returns the
/// account's username as registered; the seed's message on failure, 429 past
/// the per-address attempt rate.
pub(super) async fn check_password(
    state: &AppState,
    client: ClientIp,
    body: &Credentials,
) -> Result<String, ApiError> {
    admit_password_attempt(state, client)?;
    state.accounts.verify(&body.username, &body.password).await?.ok_or(ApiError::BadCredentials)
}

fn pair_body(state: &AppState, pair: &TokenPair) -> Json<Value> {
    Json(json!({
        "access_token": pair.access.token,
        "refresh_token": pair.refresh.token,
        "token_type": "bearer",
        "expires_in": state.auth.tokens().settings().access_ttl,
    }))
}

async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        let username = check_password(&state, client, &body).await?;
        state.families.login(&username, Transport::Bearer).await
    }
    .await;
    metrics::login(&result);
    Ok(pair_body(&state, &result?))
}

async fn refresh(
    State(state): State<AppState>,
    token: Result<RefreshToken, wsauth::AuthError>,
) -> Result<Json<Value>, ApiError> {
    let result = match token {
        Ok(RefreshToken(claims)) => state.families.rotate(&claims, Transport::Bearer).await,
        Err(e) => Err(e.into()),
    };
    metrics::refresh(&result);
    Ok(pair_body(&state, &result?))
}

async fn logout(
    State(state): State<AppState>,
    AccessToken(claims): AccessToken,
) -> Result<Json<Value>, ApiError> {
    state.families.revoke_token_family(&claims).await?;
    Ok(Json(json!({ "detail": "Logged out" })))
}

async fn logout_all(
    State(state): State<AppState>,
    AccessToken(claims): AccessToken,
) -> Result<Json<Value>, ApiError> {
    state.families.revoke_subject(&claims.sub).await?;
    Ok(Json(json!({ "detail": "Logged out everywhere" })))
}

async fn me(auth: Authenticated) -> Json<Value> {
    Json(json!({
        "sub": auth.claims.sub,
        "credential": auth.credential,
        "claims": auth.claims,
    }))
}

async fn ws_ticket(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let (ticket, expires_in) = state.auth.issue_ticket(&auth.claims).await?;
    Ok(Json(json!({ "ticket": ticket, "expires_in": expires_in })))
}
