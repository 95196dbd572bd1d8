//! Messages arrive whole whatever their size and however their bytes come:
//! the server's streams read ahead in chunks (stream.rs) and the WebSocket
//! layer's own buffer is small (`read_buffer_size`, 256 bytes by default).

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, Ws, next_json};

fn echo(data: &str) -> String {
    json!({"type": "echo", "data": data}).to_string()
}

/// A masked client text frame, written by hand.
fn masked_text(payload: &[u8]) -> Vec<u8> {
    let mask = [0x0au8, 0x0b, 0x0c, 0x0d];
    let mut out = vec![0x81];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&u16::try_from(n).expect("short").to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

async fn assert_echoed(ws: &mut Ws, data: &str) {
    let reply: Value = next_json(ws).await;
    assert_eq!(reply["type"], "echo");
    assert_eq!(reply["data"].as_str().map(str::len), Some(data.len()));
    assert_eq!(reply["data"], data);
}

#[tokio::test]
async fn messages_of_every_size_up_to_the_limit_arrive_whole() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    // Around the WebSocket layer's buffer (256), the read-ahead chunk (4096)
    // and the message limit (64 KiB, less the command's own bytes).
    for size in [0, 1, 200, 230, 256, 300, 4000, 4096, 5000, 20_000, 65_000] {
        let data = "x".repeat(size);
        ws.send(Message::text(echo(&data))).await.expect("send");
        assert_echoed(&mut ws, &data).await;
    }
    // Several messages in one write are each answered.
    let frames: Vec<u8> =
        ["a", "bb", "ccc"].iter().flat_map(|d| masked_text(echo(d).as_bytes())).collect();
    raw(&mut ws).write_all(&frames).await.expect("write");
    for data in ["a", "bb", "ccc"] {
        assert_echoed(&mut ws, data).await;
    }
}

#[tokio::test]
async fn a_message_trickling_in_byte_by_byte_arrives_whole() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    let data = "y".repeat(400);
    let frame = masked_text(echo(&data).as_bytes());
    let stream = raw(&mut ws);
    for byte in &frame {
        stream.write_all(std::slice::from_ref(byte)).await.expect("write");
        stream.flush().await.expect("flush");
        tokio::task::yield_now().await;
    }
    assert_echoed(&mut ws, &data).await;
}

/// The client's TCP stream under its WebSocket, to write frames by hand.
fn raw(ws: &mut Ws) -> &mut tokio::net::TcpStream {
    match ws.get_mut() {
        MaybeTlsStream::Plain(stream) => stream,
        _ => panic!("the test server speaks plain TCP"),
    }
}
