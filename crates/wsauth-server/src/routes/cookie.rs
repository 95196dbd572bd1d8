//! Cookie mode, as fastapi-jwt-auth does it: HttpOnly token cookies,
//! script-readable CSRF cookies, double submit on unsafe methods.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::{RefreshToken, RevokingToken};

use super::auth::{Credentials, Detail, check_password};
use super::openapi::{
    BadRequest, Forbidden, RequestTimeout, TooManyRequests, Unauthorized, Unavailable,
};
use super::{ApiJson, ClientIp};
use crate::error::{ApiError, ErrorBody, outcome};
use crate::state::AppState;
use wsauth_domain::families::{TokenPair, Transport};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout))
}

/// A cookie login or refresh: the tokens are in the cookies; the CSRF values
/// are here (and in the script-readable CSRF cookies).
#[derive(Serialize, ToSchema)]
struct CookieSession {
    /// `Successfully login`.
    detail: &'static str,
    /// Send as `X-CSRF-Token` with the access cookie on unsafe methods.
    csrf_access_token: String,
    /// Send as `X-CSRF-Token` with the refresh cookie to refresh.
    csrf_refresh_token: String,
    /// When the access token expires, Unix seconds.
    access_exp: i64,
}

/// Who may read a cookie in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// Only the server (`HttpOnly`): the token cookies.
    ServerOnly,
    /// Scripts too: the CSRF cookies, which a page sends back as
    /// `X-CSRF-Token`.
    Scripts,
}

fn cookie(
    state: &AppState,
    name: &str,
    value: &str,
    readers: Readers,
    max_age: i64,
) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(readers == Readers::ServerOnly)
        .secure(state.config.cookie_secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    // Token and CSRF values are base64url and UUIDs: always valid header text.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn set_cookies(state: &AppState, pair: &TokenPair) -> HeaderMap {
    use Readers::{Scripts, ServerOnly};
    let names = state.auth.names();
    let settings = state.auth.tokens().settings();
    let (access, refresh) = (&pair.access, &pair.refresh);
    let access_csrf = access.claims.csrf.as_deref().unwrap_or_default();
    let refresh_csrf = refresh.claims.csrf.as_deref().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for value in [
        cookie(state, &names.access_cookie, &access.token, ServerOnly, settings.access_ttl),
        cookie(state, &names.refresh_cookie, &refresh.token, ServerOnly, settings.refresh_ttl),
        cookie(state, &names.access_csrf_cookie, access_csrf, Scripts, settings.access_ttl),
        cookie(state, &names.refresh_csrf_cookie, refresh_csrf, Scripts, settings.refresh_ttl),
    ] {
        headers.append(header::SET_COOKIE, value);
    }
    headers
}

fn body(pair: &TokenPair) -> Json<CookieSession> {
    // Cookie-mode tokens always carry their CSRF value.
    let csrf = |token: &wsauth::IssuedToken| token.claims.csrf.clone().unwrap_or_default();
    Json(CookieSession {
        detail: "Successfully login",
        csrf_access_token: csrf(&pair.access),
        csrf_refresh_token: csrf(&pair.refresh),
        access_exp: pair.access.claims.exp,
    })
}

/// Logs in with a password, in cookie mode: four cookies, the token ones
/// HttpOnly.
#[utoipa::path(
    post, path = "/auth/cookie/login", tag = "cookie",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = CookieSession,
            headers(("Set-Cookie" = String, description = "Four cookies: \
                `access_token_cookie`, `refresh_token_cookie` (HttpOnly), \
                `csrf_access_token`, `csrf_refresh_token`"))),
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
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<(HeaderMap, Json<CookieSession>), ApiError> {
    let result = async {
        let account = check_password(&state, client, &credentials).await?;
        Ok(state.families.login(&account, Transport::Cookie).await?)
    }
    .await;
    crate::metrics::login(outcome(&result));
    let pair = result?;
    Ok((set_cookies(&state, &pair), body(&pair)))
}

/// Rotates the refresh cookie: new cookies for the same login.
#[utoipa::path(
    post, path = "/auth/cookie/refresh", tag = "cookie",
    security(("refresh_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "New cookies", body = CookieSession,
            headers(("Set-Cookie" = String, description = "The four cookies, renewed"))),
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
) -> Result<(HeaderMap, Json<CookieSession>), ApiError> {
    let result = match token {
        Ok(RefreshToken(claims)) => {
            state.families.rotate(&claims, Transport::Cookie).await.map_err(ApiError::from)
        }
        Err(e) => Err(e.into()),
    };
    crate::metrics::refresh(outcome(&result));
    let pair = result?;
    Ok((set_cookies(&state, &pair), body(&pair)))
}

/// Logs out of cookie mode: the cookies are cleared and the login revoked.
#[utoipa::path(
    post, path = "/auth/cookie/logout", tag = "cookie",
    security(("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "`Logged out`", body = Detail,
            headers(("Set-Cookie" = String, description = "The four cookies, expired"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    )
)]
async fn logout(
    State(state): State<AppState>,
    RevokingToken(claims): RevokingToken,
) -> Result<(HeaderMap, Json<Detail>), ApiError> {
    state.families.revoke_token_family(&claims).await?;
    let names = state.auth.names();
    let mut headers = HeaderMap::new();
    for (name, readers) in [
        (&names.access_cookie, Readers::ServerOnly),
        (&names.refresh_cookie, Readers::ServerOnly),
        (&names.access_csrf_cookie, Readers::Scripts),
        (&names.refresh_csrf_cookie, Readers::Scripts),
    ] {
        headers.append(header::SET_COOKIE, cookie(&state, name, "", readers, 0));
    }
    Ok((headers, Json(Detail { detail: "Logged out" })))
}
