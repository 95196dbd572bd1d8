//! The WebSocket endpoints: `/ws` authenticates before the `101`;
//! `/ws/deferred` (first-message mode) expects `{"type":"auth","token":...}`
//! as the first frame.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use wsauth::{DeferredGuard, WsGuard};

use crate::sockets;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/ws", get(ws)).route("/ws/deferred", get(deferred))
}

async fn ws(State(state): State<AppState>, guard: WsGuard) -> Response {
    let tracker = state.sockets.clone();
    guard.on_upgrade_live(move |socket| tracker.track_future(sockets::run(socket, state.shutdown)))
}

async fn deferred(State(state): State<AppState>, guard: DeferredGuard) -> Response {
    let tracker = state.sockets.clone();
    guard.on_upgrade(move |socket| tracker.track_future(sockets::run(socket, state.shutdown)))
}
