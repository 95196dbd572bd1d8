//! Forward auth's first step: the request to judge, with the asking
//! request's headers and peer address, as the rest of the pipeline reads
//! a handshake.

use axum::extract::ConnectInfo;
use axum::http::{Method, request::Parts};
use std::net::SocketAddr;

use crate::AuthError;
use crate::auth::WsAuth;
use crate::forward::original::{OriginalRequest, names_an_original};

/// The request to judge, as the guard sees it: the one the forwarding
/// headers name (believed only from a trusted proxy; a `GET`, as a
/// handshake is, or a `HEAD`), or, without them, the request itself; with
/// the asking request's headers and peer address.
pub(super) fn parts(auth: &WsAuth, asking: &Parts) -> Result<Parts, AuthError> {
    let original = original_request(auth, asking)?;
    if !matches!(original.method, Method::GET | Method::HEAD) {
        return Err(AuthError::BadHandshake("A WebSocket handshake is a GET"));
    }
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.method = original.method;
    parts.uri = original.uri;
    parts.headers = asking.headers.clone();
    if let Some(peer) = asking.extensions.get::<ConnectInfo<SocketAddr>>() {
        parts.extensions.insert(*peer);
    }
    Ok(parts)
}

fn original_request(auth: &WsAuth, parts: &Parts) -> Result<OriginalRequest, AuthError> {
    if !names_an_original(&parts.headers) {
        return Ok(OriginalRequest { method: parts.method.clone(), uri: parts.uri.clone() });
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if !peer.is_some_and(|ip| auth.trusted_proxies().contains(ip)) {
        return Err(AuthError::UntrustedProxy);
    }
    OriginalRequest::from_headers(&parts.headers)?
        .ok_or(AuthError::BadForwardedRequest("No original request named"))
}
