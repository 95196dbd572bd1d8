//! Cookie mode, as fastapi-jwt-auth does it: HttpOnly token cookies,
//! script-readable CSRF cookies, double submit on unsafe methods.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::post;
use axum::{Json, Router};
use cookie::{Cookie, SameSite};
use serde_json::json;
use wsauth::{Authenticated, RefreshToken};

use super::auth::{Credentials, check_password};
use super::{ApiJson, ClientIp};
use crate::error::ApiError;
use crate::families::{TokenPair, Transport};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/cookie/login", post(login))
        .route("/auth/cookie/refresh", post(refresh))
        .route("/auth/cookie/logout", post(logout))
}

fn cookie(state: &AppState, name: &str, value: &str, http_only: bool, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(http_only)
        .secure(state.config.cookie_secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    // Token and CSRF values are base64url and UUIDs: always valid header text.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn set_cookies(state: &AppState, pair: &TokenPair) -> HeaderMap {
    let names = state.auth.names();
    let settings = state.auth.tokens().settings();
    let (access, refresh) = (&pair.access, &pair.refresh);
    let access_csrf = access.claims.csrf.as_deref().unwrap_or_default();
    let refresh_csrf = refresh.claims.csrf.as_deref().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for value in [
        cookie(state, &names.access_cookie, &access.token, true, settings.access_ttl),
        cookie(state, &names.refresh_cookie, &refresh.token, true, settings.refresh_ttl),
        cookie(state, &names.access_csrf_cookie, access_csrf, false, settings.access_ttl),
        cookie(state, &names.refresh_csrf_cookie, refresh_csrf, false, settings.refresh_ttl),
    ] {
        headers.append(header::SET_COOKIE, value);
    }
    headers
}

fn body(pair: &TokenPair) -> Json<serde_json::Value> {
    Json(json!({
        "detail": "Successfully login",
        "csrf_access_token": pair.access.claims.csrf,
        "csrf_refresh_token": pair.refresh.claims.csrf,
        "access_exp": pair.access.claims.exp,
    }))
}

async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<(HeaderMap, Json<serde_json::Value>), ApiError> {
    let result = async {
        let username = check_password(&state, client, &credentials).await?;
        state.families.login(&username, Transport::Cookie).await
    }
    .await;
    crate::metrics::login(&result);
    let pair = result?;
    Ok((set_cookies(&state, &pair), body(&pair)))
}

async fn refresh(
    State(state): State<AppState>,
    token: Result<RefreshToken, wsauth::AuthError>,
) -> Result<(HeaderMap, Json<serde_json::Value>), ApiError> {
    let result = match token {
        Ok(RefreshToken(claims)) => state.families.rotate(&claims, Transport::Cookie).await,
        Err(e) => Err(e.into()),
    };
    crate::metrics::refresh(&result);
    let pair = result?;
    Ok((set_cookies(&state, &pair), body(&pair)))
}

async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<(HeaderMap, Json<serde_json::Value>), ApiError> {
    state.families.revoke_token_family(&auth.claims).await?;
    let names = state.auth.names();
    let mut headers = HeaderMap::new();
    for (name, http_only) in [
        (&names.access_cookie, true),
        (&names.refresh_cookie, true),
        (&names.access_csrf_cookie, false),
        (&names.refresh_csrf_cookie, false),
    ] {
        headers.append(header::SET_COOKIE, cookie(&state, name, "", http_only, 0));
    }
    Ok((headers, Json(json!({ "detail": "Logged out" }))))
}
