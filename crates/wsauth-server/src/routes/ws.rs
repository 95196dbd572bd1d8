//! The WebSocket endpoint: the guard checks everything before the `101`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use wsauth::WsGuard;

use crate::sockets;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/ws", get(ws))
}

async fn ws(State(state): State<AppState>, guard: WsGuard) -> Response {
    let tracker = state.sockets.clone();
    guard.on_upgrade(move |socket, auth| tracker.track_future(sockets::run(socket, auth, state)))
}
