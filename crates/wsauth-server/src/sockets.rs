//! One live WebSocket session: the welcome frame and the commands. Expiry
//! (4001), revocation (4003), in-band refresh, rate and size limits and
//! keepalive are the library's `LiveSocket`; shutdown closes with 1001.

use axum::extract::ws::Message;
use serde::Deserialize;
use serde_json::{Value, json};
use wsauth::{Incoming, LiveSocket};

use crate::state::AppState;

/// A command sent by the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Command {
    Echo { data: Value },
    Whoami,
}

/// Runs a session until the client leaves, breaks a rule, its credential
/// ends, or the server shuts down.
pub(crate) async fn run(socket: LiveSocket, state: AppState) {
    let mut socket = socket.with_shutdown(state.shutdown.clone());
    let claims = socket.claims();
    let welcome = json!({
        "type": "welcome",
        "sub": claims.sub,
        "exp": claims.exp,
        "deadline": socket.deadline(),
        "credential": socket.credential(),
        "claims": claims,
    });
    tracing::debug!(sub = %claims.sub, credential = socket.credential().as_str(), "socket open");
    socket.send_json(&welcome);
    while let Some(incoming) = socket.recv().await {
        let reply = match incoming {
            Incoming::Text(text) => answer(&text, &socket),
            Incoming::Binary(_) => {
                error_frame("unsupported_frame", "Binary frames are not supported")
            }
        };
        socket.send(Message::text(reply.to_string()));
    }
    let (code, reason) = socket.closed().unwrap_or((1006, ""));
    tracing::debug!(sub = %socket.claims().sub, code, reason, "socket closed");
}

fn answer(text: &str, socket: &LiveSocket) -> Value {
    match serde_json::from_str::<Command>(text) {
        Ok(Command::Echo { data }) => json!({ "type": "echo", "data": data }),
        Ok(Command::Whoami) => json!({ "type": "whoami", "claims": socket.claims() }),
        Err(_) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => error_frame("unknown_command", "Unknown or malformed command"),
            _ => error_frame("invalid_json", "Frames must be JSON objects"),
        },
    }
}

fn error_frame(code: &str, detail: &str) -> Value {
    json!({ "type": "error", "error": code, "detail": detail })
}
