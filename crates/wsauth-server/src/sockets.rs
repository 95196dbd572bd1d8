//! One live WebSocket session: the welcome frame, the commands, and a real
//! close frame with a code on every way it can end.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use serde::Deserialize;
use serde_json::{Value, json};
use wsauth::{Authenticated, close_code};

use crate::state::AppState;

/// A command sent by the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Command {
    Echo { data: Value },
    Whoami,
}

/// Runs a session until the client leaves, breaks the protocol, or the
/// server shuts down.
pub(crate) async fn run(mut socket: WebSocket, auth: Authenticated, state: AppState) {
    let claims = &auth.claims;
    let welcome = json!({
        "type": "welcome",
        "sub": claims.sub,
        "exp": claims.exp,
        "credential": auth.credential,
        "claims": claims,
    });
    if socket
        .send(Message::text(welcome.to_string()))
        .await
        .is_err()
    {
        return;
    }
    tracing::debug!(sub = %claims.sub, credential = auth.credential.as_str(), "socket open");
    let end = loop {
        let message = tokio::select! {
            () = state.shutdown.cancelled() => {
                break Some((close_code::GOING_AWAY, "server shutting down"));
            }
            message = socket.recv() => message,
        };
        let reply = match message {
            None | Some(Ok(Message::Close(_))) => break None,
            Some(Err(e)) => break Some(close_for_error(&e)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                error_frame("unsupported_frame", "Binary frames are not supported")
            }
            Some(Ok(Message::Text(text))) => answer(&text, &auth),
        };
        if socket.send(Message::text(reply.to_string())).await.is_err() {
            break None;
        }
    };
    match end {
        // The client closed: flush the close reply tungstenite queued for it.
        None => {
            let _ = futures_util::SinkExt::close(&mut socket).await;
        }
        Some((code, reason)) => close(&mut socket, code, reason).await,
    }
    tracing::debug!(sub = %auth.claims.sub, "socket closed");
}

/// Sends a close frame and waits briefly for the client's reply, so the TCP
/// close is clean and the client sees the code (never 1006).
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn answer(text: &str, auth: &Authenticated) -> Value {
    match serde_json::from_str::<Command>(text) {
        Ok(Command::Echo { data }) => json!({ "type": "echo", "data": data }),
        Ok(Command::Whoami) => json!({ "type": "whoami", "claims": auth.claims }),
        Err(_) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => error_frame("unknown_command", "Unknown or malformed command"),
            _ => error_frame("invalid_json", "Frames must be JSON objects"),
        },
    }
}

fn error_frame(code: &str, detail: &str) -> Value {
    json!({ "type": "error", "error": code, "detail": detail })
}

/// The close code for a receive error: too big, bad UTF-8, or a protocol error.
fn close_for_error(error: &axum::Error) -> (u16, &'static str) {
    use std::error::Error as _;
    let inner = error
        .source()
        .and_then(|e| e.downcast_ref::<tungstenite::Error>());
    match inner {
        Some(tungstenite::Error::Capacity(_)) => (close_code::MESSAGE_TOO_BIG, "message too big"),
        Some(tungstenite::Error::Utf8(_)) => (close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        _ => (close_code::PROTOCOL_ERROR, "protocol error"),
    }
}
