//! The WebSocket endpoints: `/ws` authenticates before the `101`;
//! `/ws/deferred` (first-message mode) expects `{"type":"auth","token":...}`
//! as the first frame.

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::{DeferredGuard, WsGuard};

use super::openapi::{BadRequest, Forbidden, TooManyRequests, Unauthorized, Unavailable};
use crate::sockets;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(ws)).routes(routes!(deferred))
}

/// A WebSocket, authenticated before the upgrade: exactly one credential
/// (a bearer header, `?token=`, `?ticket=`, the `bearer.<JWT>` subprotocol
/// entry, or the access cookie with `?csrf_token=`), an allowed `Origin` if
/// any. Every check runs before the `101`; a refusal is an HTTP status with
/// the error body. The frames are in docs/protocol.md.
#[utoipa::path(
    get, path = "/ws", tag = "ws",
    params(
        ("Upgrade" = String, Header, pattern = "^websocket$"),
        ("Connection" = String, Header, pattern = "^Upgrade$"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$",
            description = "16 random bytes, base64"),
        ("Sec-WebSocket-Protocol" = Option<String>, Header,
            description = "`wsauth, bearer.<access JWT>` to carry the token here; \
                the server selects `wsauth`"),
        ("Origin" = Option<String>, Header,
            description = "Must be one of `allowed_origins` when present; required \
                with the cookie credential"),
    ),
    security(
        ("bearer" = []),
        ("query_token" = []),
        ("ticket" = []),
        ("access_cookie" = [], "ws_csrf" = []),
    ),
    responses(
        (status = 101, description = "Switching Protocols: the socket is open; the first \
            frame is `{\"type\":\"welcome\",...}`",
            headers(
                ("Upgrade" = String, description = "`websocket`"),
                ("Sec-WebSocket-Accept" = String),
                ("Sec-WebSocket-Protocol" = String, description = "`wsauth`, when offered"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn ws(State(state): State<AppState>, guard: WsGuard) -> Response {
    let (tracker, shutdown) = (state.sockets.clone(), state.shutdown.clone());
    let channels = state.channels.clone();
    guard.on_upgrade_live(move |socket| {
        tracker.track_future(sockets::run(socket, channels, shutdown))
    })
}

/// A WebSocket in first-message mode: upgraded without a credential (Origin
/// and handshake limits still apply); the first frame must be
/// `{"type":"auth","token":"<access JWT>"}` within 5 s, or the socket closes
/// (4408, 4401, 4001, 4003, 1013; docs/protocol.md).
#[utoipa::path(
    get, path = "/ws/deferred", tag = "ws",
    params(
        ("Upgrade" = String, Header, pattern = "^websocket$"),
        ("Connection" = String, Header, pattern = "^Upgrade$"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$",
            description = "16 random bytes, base64"),
        ("Sec-WebSocket-Protocol" = Option<String>, Header,
            description = "`wsauth` may be offered; it is then selected"),
        ("Origin" = Option<String>, Header,
            description = "Must be one of `allowed_origins` when present"),
    ),
    responses(
        (status = 101, description = "Switching Protocols: send the auth frame",
            headers(
                ("Upgrade" = String, description = "`websocket`"),
                ("Sec-WebSocket-Accept" = String),
            )),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 429, description = "`too_many_requests`: the handshake rate, or too many \
            sockets awaiting their auth frame (in all, or from this address)",
            body = crate::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 503, response = Unavailable),
    )
)]
async fn deferred(State(state): State<AppState>, guard: DeferredGuard) -> Response {
    let (tracker, shutdown) = (state.sockets.clone(), state.shutdown.clone());
    let channels = state.channels.clone();
    guard.on_upgrade(move |socket| tracker.track_future(sockets::run(socket, channels, shutdown)))
}
