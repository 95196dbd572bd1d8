//! A real WebSocket upstream for the proxy tests, on 127.0.0.1 port 0: it
//! records every handshake that reached it (the raw request included) and
//! every close it received, echoes text and binary frames, and obeys two
//! text commands: `close:<code>:<reason>` closes with that code, and
//! `flood:<count>:<size>` sends `count` binary frames of `size` bytes as
//! fast as the proxy takes them (counting the bytes it got rid of).

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// One handshake as the upstream received it.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Path and query.
    pub target: String,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl Handshake {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The whole request as text, to look for a credential anywhere in it.
    pub fn raw(&self) -> String {
        let mut out = format!("GET {}\n", self.target);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct Seen {
    pub handshakes: Vec<Handshake>,
    pub closes: Vec<(u16, String)>,
}

/// How the upstream answers handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Refuse,
}

pub struct EchoUpstream {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    /// Bytes of `flood` frames written so far.
    pub flooded: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoUpstream {
    pub async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let flooded = Arc::new(AtomicU64::new(0));
        let (s, f) = (seen.clone(), flooded.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, answer, s.clone(), f.clone()));
            }
        });
        Self { addr, seen, flooded, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub fn handshakes(&self) -> Vec<Handshake> {
        self.seen.lock().expect("lock").handshakes.clone()
    }

    /// Waits for the upstream to have received `n` closes; returns them.
    pub async fn closes(&self, n: usize) -> Vec<(u16, String)> {
        for _ in 0..500 {
            let closes = self.seen.lock().expect("lock").closes.clone();
            if closes.len() >= n {
                return closes;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the upstream received {:?}, expected {n} closes",
            self.seen.lock().expect("lock").closes
        );
    }
}

async fn serve(
    tcp: tokio::net::TcpStream,
    answer: Answer,
    seen: Arc<Mutex<Seen>>,
    flooded: Arc<AtomicU64>,
) {
    let record = seen.clone();
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    let callback = move |request: &Request, mut response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| {
                (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect();
        let target = request.uri().to_string();
        record.lock().expect("lock").handshakes.push(Handshake { target, headers });
        if answer == Answer::Refuse {
            let mut refusal = ErrorResponse::new(Some("not today".into()));
            *refusal.status_mut() = StatusCode::FORBIDDEN;
            return Err(refusal);
        }
        let offered = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(str::trim).map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>();
        if let Some(chosen) = offered.iter().find(|p| *p == "chat.v2" || *p == "chat.v1") {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(chosen).expect("value"));
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else { return };
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Text(text) => {
                if let Some(rest) = text.strip_prefix("close:") {
                    let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
                    let frame = CloseFrame {
                        code: code.parse::<u16>().unwrap_or(1000).into(),
                        reason: reason.to_owned().into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                    while let Some(Ok(_)) = ws.next().await {}
                    return;
                }
                if let Some(rest) = text.strip_prefix("flood:") {
                    let (count, size) = rest.split_once(':').unwrap_or(("0", "0"));
                    let (count, size): (usize, usize) =
                        (count.parse().unwrap_or(0), size.parse().unwrap_or(0));
                    let frame = Bytes::from(vec![7u8; size]);
                    for _ in 0..count {
                        if ws.send(Message::Binary(frame.clone())).await.is_err() {
                            return;
                        }
                        flooded.fetch_add(size as u64, Ordering::Relaxed);
                    }
                    continue;
                }
                if ws.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            Message::Binary(data) => {
                let Ok(()) = ws.send(Message::Binary(data)).await else { return };
            }
            Message::Close(frame) => {
                let close = frame
                    .map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                seen.lock().expect("lock").closes.push(close);
                let _ = ws.flush().await;
                return;
            }
            _ => {}
        }
    }
}
