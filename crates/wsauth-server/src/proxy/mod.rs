//! The authenticating proxy: `[[proxy]]` routes whose handshakes are
//! authenticated exactly as `/ws` is (the library's `WsGuard`), then
//! relayed to an upstream WebSocket server that never sees the credential.
//!
//! The order, top to bottom in [`proxy`]: the guard's checks (rate,
//! credential, Origin, verification, registration, revocation) -> the
//! refresh handle -> open the upstream (502 if it cannot be reached or
//! refuses) -> the client's `101` with the upstream's subprotocol -> the
//! relay (`relay.rs`) until either side closes or the registry ends it.

mod forwarding;
mod handles;
mod headers;
mod io;
mod relay;
pub mod settings;
mod upstream;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsauth::accept::{ClientSlot, ClientSlots, SlotsFull};
use wsauth::{Access, AuthError, Fresh, Optional, Requirement, SocketLimits, WsAuth, WsGuard};

pub(crate) use handles::{Bound, Deadline, RefreshHandles};
pub use settings::{IdentityHeader, OwnPaths, ProxyCheck, ProxyRoute};

use crate::error::{ApiError, ErrorBody};
use forwarding::Hop;
use handles::HandleRefused;
use upstream::{HANDLE_QUERY, Upstream, UpstreamError, UpstreamRequest};

/// What a proxied handshake uses of the server (taken from the
/// application's state, `state.rs`).
#[derive(Clone)]
pub(crate) struct ProxyContext {
    /// Authentication and the live sockets.
    pub(crate) auth: WsAuth,
    /// The routes and their refresh handles.
    pub(crate) proxies: Proxies,
    /// Cancelled at shutdown: relays close with 1001.
    pub(crate) shutdown: CancellationToken,
    /// Relay tasks, awaited at shutdown.
    pub(crate) sockets: TaskTracker,
}

/// The configured proxy routes, and the refresh handles of their open
/// sockets. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    targets: Arc<Vec<Arc<Target>>>,
    pub(crate) handles: RefreshHandles,
    /// The server's connection places (`max_connections` and
    /// `max_connections_per_address`), set when it starts serving: each
    /// upstream socket takes one, so a proxied connection counts both of
    /// its file descriptors.
    places: Arc<std::sync::OnceLock<ClientSlots>>,
}

impl Proxies {
    /// Prepares every route (validated with the configuration); a CA file
    /// that cannot be read is an error here, at start.
    pub fn build(routes: &[ProxyRoute], limits: &SocketLimits) -> Result<Self, String> {
        let targets = routes
            .iter()
            .map(|route| {
                Ok(Arc::new(Target {
                    path: route.path.clone(),
                    check: route.check,
                    upstream: Upstream::new(route, limits)?,
                }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            targets: Arc::new(targets),
            handles: RefreshHandles::default(),
            places: Arc::default(),
        })
    }

    /// Counts upstream sockets in the server's connection places.
    pub(crate) fn count_upstreams_in(&self, places: ClientSlots) {
        let _ = self.places.set(places);
    }

    /// A connection place for one upstream socket, counted as the client's
    /// own connection is (`serve::place_key`: by the peer's address, or
    /// against the total only for a trusted proxy). 429 past the address's
    /// share, 503 past the total.
    fn upstream_place(&self, auth: &WsAuth, hop: &Hop) -> Result<Option<ClientSlot>, ApiError> {
        let Some(places) = self.places.get() else { return Ok(None) };
        let key = hop.peer.and_then(|peer| crate::serve::place_key(auth.trusted_proxies(), peer));
        places.try_acquire(key).map(Some).map_err(|full| match full {
            SlotsFull::Client => ApiError::Auth(AuthError::TooManyRequests { retry_after: 1 }),
            _ => ApiError::Unavailable,
        })
    }

    /// The router of every configured proxy route.
    pub(crate) fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
        ProxyContext: FromRef<S>,
        WsAuth: FromRef<S>,
    {
        let mut router = Router::new();
        for target in self.targets.iter() {
            let method = match target.check {
                ProxyCheck::Access => handler::<Access, S>(target.clone()),
                ProxyCheck::Fresh => handler::<Fresh, S>(target.clone()),
                ProxyCheck::Optional => handler::<Optional, S>(target.clone()),
            };
            router = router.route(&target.path, method);
        }
        router
    }
}

/// One configured route, ready to serve.
#[derive(Debug)]
struct Target {
    path: String,
    check: ProxyCheck,
    upstream: Upstream,
}

fn handler<R: Requirement, S>(target: Arc<Target>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ProxyContext: FromRef<S>,
    WsAuth: FromRef<S>,
{
    get(
        move |State(state): State<ProxyContext>,
              hop: Hop,
              headers: HeaderMap,
              uri: Uri,
              guard: WsGuard<R>| {
            let target = target.clone();
            async move {
                let client = Client { headers: &headers, query: uri.query(), hop };
                proxy(state, &target, client, guard).await
            }
        },
    )
}

/// The client's handshake as the upstream request is made from it.
struct Client<'a> {
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    hop: Hop,
}

/// An authenticated handshake: open the upstream, then upgrade and relay.
async fn proxy<R: Requirement>(
    state: ProxyContext,
    target: &Target,
    client: Client<'_>,
    guard: WsGuard<R>,
) -> Response {
    let parts = guard.into_live_parts();
    let (mut upgrade, session) = (parts.upgrade, parts.session);
    let claims = R::authenticated(&parts.auth).map(|a| a.claims.clone());
    let deadline = claims.as_ref().map(|c| Deadline::new(state.auth.live().deadline_for(c)));
    let lease = match (handle_of(client.query), &session, &claims, &deadline) {
        (Err(e), ..) => return e.into_response(),
        (Ok(Some(handle)), Some(session), Some(claims), Some(deadline)) => {
            let bound = Bound {
                binding: session.binding(),
                deadline: deadline.clone(),
                check: target.check,
            };
            match state.proxies.handles.claim(&claims.sub, &handle, bound) {
                Ok(lease) => Some(lease),
                Err(HandleRefused::Malformed) => {
                    return AuthError::BadHandshake(
                        "wsauth_handle must be 22 to 128 characters of A-Z a-z 0-9 - _",
                    )
                    .into_response();
                }
                Err(HandleRefused::InUse) => {
                    return AuthError::BadHandshake("wsauth_handle is already in use")
                        .into_response();
                }
            }
        }
        _ => None,
    };
    let place = match state.proxies.upstream_place(&state.auth, &client.hop) {
        Ok(place) => place,
        Err(e) => return e.into_response(),
    };
    let request = UpstreamRequest {
        headers: client.headers,
        query: client.query,
        claims: claims.as_ref(),
        names: state.auth.names(),
        hop: &client.hop,
    };
    let (upstream, chosen) = match target.upstream.open(request).await {
        Ok(opened) => opened,
        Err(e) => {
            crate::metrics::proxy_upstream_failed(&target.path, upstream_error_code(&e));
            return bad_gateway(&e);
        }
    };
    if let Some(chosen) = chosen {
        upgrade.set_selected_protocol(chosen);
    }
    let relay = relay::Relay {
        upstream,
        session,
        deadline,
        auth: state.auth.clone(),
        shutdown: state.shutdown.clone(),
        route: target.path.clone(),
        sub: claims.map(|c| c.sub),
        lease,
        place,
    };
    let tracker = state.sockets.clone();
    upgrade.on_upgrade(move |socket| {
        tracker.track_future(async move {
            relay.run(socket).await;
        })
    })
}

/// The `wsauth_handle` query parameter, if any; two different values are a
/// malformed handshake.
fn handle_of(query: Option<&str>) -> Result<Option<String>, AuthError> {
    let mut found: Option<String> = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == HANDLE_QUERY {
            match &found {
                Some(previous) if *previous != value => {
                    return Err(AuthError::BadHandshake("More than one wsauth_handle"));
                }
                _ => found = Some(value.into_owned()),
            }
        }
    }
    Ok(found)
}

/// Every `error` label a proxied handshake's 502 can carry.
pub(crate) fn upstream_error_codes() -> [&'static str; 2] {
    [UpstreamError::Unreachable, UpstreamError::Refused].map(|e| upstream_error_code(&e))
}

fn upstream_error_code(error: &UpstreamError) -> &'static str {
    match error {
        UpstreamError::Unreachable => "upstream_unreachable",
        UpstreamError::Refused => "upstream_refused",
    }
}

/// 502 with the error body, before any upgrade.
fn bad_gateway(error: &UpstreamError) -> Response {
    let body =
        ErrorBody { detail: error.to_string(), error: upstream_error_code(error).to_owned() };
    let mut response = (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
