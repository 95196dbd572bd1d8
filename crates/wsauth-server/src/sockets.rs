//! One live WebSocket session: the welcome frame and the commands. Expiry
//! (4001), revocation (4003), in-band refresh, rate and size limits and
//! keepalive are the library's `LiveSocket`; the channel commands are the
//! library's `ChannelSession`; shutdown closes with 1001.

use axum::extract::ws::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use std::borrow::Cow;
use tokio_util::sync::CancellationToken;
use wsauth::channels::{ChannelSession, Channels, Handled, RolesOf, channel_subject};
use wsauth::{Claims, CredentialKind, Incoming, LiveSocket};

/// What a socket's channel commands need: the node's hub, and where a
/// trusted issuer's token carries its roles.
#[derive(Clone)]
pub(crate) struct ChannelSetup {
    pub(crate) channels: Channels,
    pub(crate) roles_of: RolesOf,
}

/// The version of the `/ws` protocol: 2 has channels.
const PROTOCOL: u8 = 2;

/// A command sent by the client: `{"type": ..., "data": ...}`. `data` is
/// kept as the client's own JSON text, so an echo costs no re-encoding.
#[derive(Deserialize)]
struct Command<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Runs a session until the client leaves, breaks a rule, its credential
/// ends, or the server shuts down.
pub(crate) async fn run(socket: LiveSocket, channels: ChannelSetup, shutdown: CancellationToken) {
    let mut socket = socket.with_shutdown(shutdown);
    socket.send(Message::text(welcome(&socket)));
    // Joins the hub on the first channel command only.
    let mut session = ChannelSession::new(channels.channels, channels.roles_of);
    while let Some(incoming) = socket.recv().await {
        let reply = match incoming {
            Incoming::Text(text) => match session.handle(&mut socket, &text).await {
                Handled::Answered => continue,
                Handled::NotChannel => answer(&text, &socket),
            },
            Incoming::Binary(_) => {
                error_frame("unsupported_frame", "Binary frames are not supported")
            }
        };
        socket.send(Message::text(reply));
    }
    if let Some(closed) = socket.closed() {
        let (code, reason) = (closed.code, closed.reason);
        tracing::debug!(sub = %socket.claims().sub, code, reason, "socket closed");
    }
}

/// The first frame: who the socket belongs to and until when. Written in
/// one pass from the claims (no intermediate JSON tree).
#[derive(Serialize)]
struct Welcome<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    protocol: u8,
    sub: &'a str,
    channel_sub: &'a str,
    issuer: Option<&'a str>,
    subject: &'a str,
    exp: i64,
    deadline: i64,
    credential: CredentialKind,
    claims: &'a Claims,
}

fn welcome(socket: &LiveSocket) -> String {
    let claims = socket.claims();
    let channel_sub = channel_subject(claims);
    let frame = Welcome {
        kind: "welcome",
        protocol: PROTOCOL,
        sub: &claims.sub,
        channel_sub: &channel_sub,
        issuer: claims.iss.as_deref(),
        subject: claims.subject(),
        exp: claims.exp,
        deadline: socket.deadline(),
        credential: socket.credential(),
        claims,
    };
    // Serializing plain fields and claims that came from JSON cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

fn answer(text: &str, socket: &LiveSocket) -> String {
    match serde_json::from_str::<Command<'_>>(text) {
        Ok(Command { kind, data }) if kind == "echo" => {
            // An absent or null `data` echoes as null.
            format!(r#"{{"type":"echo","data":{}}}"#, data.map_or("null", RawValue::get))
        }
        Ok(Command { kind, .. }) if kind == "whoami" => {
            json!({ "type": "whoami", "claims": socket.claims() }).to_string()
        }
        Ok(_) => error_frame("unknown_command", "Unknown or malformed command"),
        Err(_) => match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) if raw.get().starts_with('{') => {
                error_frame("unknown_command", "Unknown or malformed command")
            }
            _ => error_frame("invalid_json", "Frames must be JSON objects"),
        },
    }
}

fn error_frame(code: &str, detail: &str) -> String {
    json!({ "type": "error", "error": code, "detail": detail }).to_string()
}
