//! Closing a socket so the client sees why: the close frame and the wait
//! for the client's reply, and the close code for a failed read.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};

use crate::close_code;

/// Sends a close frame, then drains until the client's close reply (at most 2 s).
pub(crate) async fn close_socket(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// The close code for a receive error: too big, bad UTF-8, or a protocol error.
pub(super) fn close_for_error(error: &axum::Error) -> (u16, &'static str) {
    use std::error::Error as _;
    match error.source().and_then(|e| e.downcast_ref::<tungstenite::Error>()) {
        Some(tungstenite::Error::Capacity(_)) => (close_code::MESSAGE_TOO_BIG, "message too big"),
        Some(tungstenite::Error::Utf8(_)) => (close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        _ => (close_code::PROTOCOL_ERROR, "protocol error"),
    }
}

/// Whether a write failed because the message did not fit the write buffer.
pub(super) fn is_write_buffer_full(error: &axum::Error) -> bool {
    use std::error::Error as _;
    matches!(
        error.source().and_then(|e| e.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::WriteBufferFull(_))
    )
}
