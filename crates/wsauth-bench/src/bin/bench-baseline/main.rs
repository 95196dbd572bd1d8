//! The minimal baseline: tokio-tungstenite with an HS256 check of `?token=`
//! inside the handshake callback (HTTP 401 before any upgrade), a 4 KiB read
//! buffer, one `{"type":"welcome"}` text frame after the upgrade, then echo.
//! With `--stack axum`, the same server on hyper and axum (`on_axum.rs`).
//!
//! ```text
//! bench-baseline --listen 127.0.0.1:0 --hmac-secret "$SECRET"
//! bench-baseline --listen 127.0.0.1:0 --hmac-secret "$SECRET" --stack axum
//! bench-baseline --listen 127.0.0.1:9001 --hmac-secret "$SECRET" --behind-wsauth
//! ```
//!
//! With `--behind-wsauth` it is the upstream of a wsauth `[[proxy]]` route:
//! a handshake carrying `X-Wsauth-Sub` (which only the proxy sets) is
//! accepted without a token, so proxied and direct echo can be compared
//! against the same server.

mod on_axum;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wsauth_bench::jwt::Verifier;

/// A minimal authenticated WebSocket server to compare wsauth against.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (loopback only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// HS256 secret the `?token=` JWT must be signed with.
    #[arg(long, env = "BENCH_HMAC_SECRET", hide_env_values = true)]
    hmac_secret: String,
    /// Also accept handshakes that carry `X-Wsauth-Sub` and no token: this
    /// server is then the upstream of a wsauth proxy route.
    #[arg(long)]
    behind_wsauth: bool,
    /// The WebSocket stack: tokio-tungstenite's own handshake, or hyper and
    /// axum (as wsauth uses them).
    #[arg(long, value_enum, default_value_t = Stack::Tungstenite)]
    stack: Stack,
}

/// Which crates serve the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Stack {
    Tungstenite,
    Axum,
}

/// Whether a handshake without a token is accepted on the proxy's word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    TokenOnly,
    OrProxyHeader,
}

const WELCOME: &str = r#"{"type":"welcome"}"#;
const UNAUTHORIZED: &str = r#"{"detail":"Invalid or missing token","error":"invalid_token"}"#;

/// The socket limits of both stacks.
const READ_BUFFER: usize = 4096;
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
const MAX_MESSAGE: usize = 64 * 1024;

fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

fn token_from_query(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn unauthorized() -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(UNAUTHORIZED.to_owned()));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

// The handshake callback's error type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn serve_connection(stream: TcpStream, verifier: Arc<Verifier>, identity: Identity) {
    let _ = stream.set_nodelay(true);
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if identity == Identity::OrProxyHeader && req.headers().contains_key("x-wsauth-sub") {
            return Ok(resp);
        }
        match token_from_query(req.uri().query()) {
            Some(token) if verifier.verify(&token).is_some() => Ok(resp),
            _ => Err(unauthorized()),
        }
    };
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(socket_config())).await
    else {
        return;
    };
    if ws.send(Message::text(WELCOME)).await.is_err() {
        return;
    }
    while let Some(msg) = ws.next().await {
        let reply = match msg {
            Ok(Message::Text(t)) => Message::Text(t),
            Ok(Message::Binary(b)) => Message::Binary(b),
            // Pings are answered and close frames echoed by the protocol layer.
            Ok(_) => continue,
            Err(_) => return,
        };
        if ws.send(reply).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listen = wsauth_bench::loopback::require(args.listen)?;
    let verifier = Arc::new(Verifier::new(&args.hmac_secret));
    let identity = if args.behind_wsauth { Identity::OrProxyHeader } else { Identity::TokenOnly };
    let listener =
        TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "bench-baseline listening on http://{local}")?;
    out.flush()?;
    drop(out);
    if args.stack == Stack::Axum {
        return on_axum::serve(listener, verifier, identity).await;
    }
    let mut accept_errors: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, Arc::clone(&verifier), identity));
                }
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        eprintln!("bench-baseline: accept failed ({accept_errors} times): {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_read_from_the_query() {
        assert_eq!(token_from_query(Some("a=1&token=x.y.z")).as_deref(), Some("x.y.z"));
        assert_eq!(token_from_query(Some("a=1")), None);
        assert_eq!(token_from_query(None), None);
    }
}
