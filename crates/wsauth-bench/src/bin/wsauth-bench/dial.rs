//! Opening one authenticated WebSocket: bind a 127.0.0.x source address,
//! connect, upgrade with the credential, await the expected first frame (and
//! with a [`Subscription`], subscribe and await `subscribed`); and
//! closing it so that the server closes the TCP connection first (its side
//! keeps the TIME_WAIT, so the client's ports are never exhausted).

use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{
    AUTHORIZATION, COOKIE, ORIGIN, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::api::Api;
use crate::common::{Cred, Expect, Mode, Target};
use crate::subscribe::{NotSubscribed, Subscription, subscribe};

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Why a connection did not count.
#[derive(Debug)]
pub(crate) enum Fail {
    /// TCP connect (or bind) failed.
    Connect,
    /// The server answered the upgrade with this HTTP status.
    Status(u16),
    /// The WebSocket handshake failed otherwise.
    Handshake,
    /// The operation did not finish within the timeout.
    Timeout,
    /// The ticket request failed (its own kind string).
    Ticket(String),
    /// The socket closed before the expected frame, with this close code.
    Closed(Option<u16>),
    /// A different first frame arrived.
    Unexpected,
    /// The subscription after the welcome failed (its own kind string).
    NotSubscribed(String),
}

impl Fail {
    pub(crate) fn kind(&self) -> String {
        match self {
            Self::Connect => "connect".into(),
            Self::Status(s) => format!("http_{s}"),
            Self::Handshake => "handshake".into(),
            Self::Timeout => "timeout".into(),
            Self::Ticket(k) | Self::NotSubscribed(k) => k.clone(),
            Self::Closed(Some(code)) => format!("closed_{code}"),
            Self::Closed(None) => "closed".into(),
            Self::Unexpected => "unexpected_frame".into(),
        }
    }
}

/// Opens authenticated WebSockets to one target.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    target: Arc<Target>,
    mode: Mode,
    expect: Expect,
    api: Api,
    timeout: Duration,
    config: WebSocketConfig,
    subscription: Option<Subscription>,
}

/// The client's own buffers stay small so that holding many sockets is cheap.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

pub(crate) fn add_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", ser.finish())
}

impl Dialer {
    pub(crate) fn new(
        target: Arc<Target>,
        mode: Mode,
        expect: Expect,
        api: Api,
        timeout: Duration,
    ) -> Self {
        Self { target, mode, expect, api, timeout, config: client_config(), subscription: None }
    }

    /// The same dialer, whose sockets subscribe to a channel once welcomed
    /// (the expected first frame must be the JSON welcome).
    pub(crate) fn subscribing(self, subscription: Subscription) -> Self {
        Self { subscription: Some(subscription), ..self }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The HTTP API of the same server.
    pub(crate) fn api(&self) -> &Api {
        &self.api
    }

    /// Opens a socket from `src` with `cred` and awaits the expected first
    /// frame (and the subscription, when subscribing), all within the timeout.
    pub(crate) async fn open(&self, src: IpAddr, cred: &Cred) -> Result<Ws, Fail> {
        tokio::time::timeout(self.timeout, self.open_inner(src, cred))
            .await
            .unwrap_or(Err(Fail::Timeout))
    }

    async fn open_inner(&self, src: IpAddr, cred: &Cred) -> Result<Ws, Fail> {
        let base = self.target.ws_base.as_str();
        let url = match self.mode {
            Mode::Query => add_query(base, &[("token", &cred.token)]),
            Mode::Cookie => add_query(base, &[("csrf_token", cred.csrf.as_deref().unwrap_or(""))]),
            Mode::Ticket => {
                let ticket = self.api.ws_ticket(&cred.token).await.map_err(Fail::Ticket)?;
                add_query(base, &[("ticket", &ticket)])
            }
            Mode::Header | Mode::Subprotocol | Mode::FirstMessage => base.to_owned(),
        };
        let mut request = url.into_client_request().map_err(|_| Fail::Handshake)?;
        let value = |s: String| HeaderValue::from_str(&s).map_err(|_| Fail::Handshake);
        let headers = request.headers_mut();
        match self.mode {
            Mode::Header => {
                headers.insert(AUTHORIZATION, value(format!("Bearer {}", cred.token))?);
            }
            Mode::Subprotocol => {
                headers.insert(
                    SEC_WEBSOCKET_PROTOCOL,
                    value(format!("wsauth, bearer.{}", cred.token))?,
                );
            }
            Mode::Cookie => {
                headers.insert(COOKIE, value(format!("access_token_cookie={}", cred.token))?);
                headers.insert(ORIGIN, value(self.target.origin.clone())?);
            }
            Mode::Query | Mode::Ticket | Mode::FirstMessage => {}
        }
        let stream = connect_from(src, self.target.addr).await.map_err(|_| Fail::Connect)?;
        let (mut ws, _resp) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(self.config))
                .await
                .map_err(|e| match e {
                WsError::Http(resp) => Fail::Status(resp.status().as_u16()),
                WsError::Io(_) => Fail::Connect,
                _ => Fail::Handshake,
            })?;
        if self.mode == Mode::FirstMessage {
            let auth = serde_json::json!({ "type": "auth", "token": cred.token });
            ws.send(Message::text(auth.to_string())).await.map_err(|_| Fail::Handshake)?;
        }
        if matches!(self.expect, Expect::Any) {
            return graceful(ws);
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if !self.expect.matches(text.as_bytes()) {
                        return Err(Fail::Unexpected);
                    }
                    if let Some(subscription) = &self.subscription {
                        let failed = |NotSubscribed(kind)| Fail::NotSubscribed(kind);
                        let channel = subscription.channel(text.as_bytes()).map_err(failed)?;
                        subscribe(&mut ws, subscription, &channel).await.map_err(failed)?;
                    }
                    return graceful(ws);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    return Err(Fail::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => return Err(Fail::Unexpected),
                Some(Err(_)) | None => return Err(Fail::Closed(None)),
            }
        }
    }
}

/// A TCP connection to `dst` from `src` (any free port on it).
///
/// It starts with a zero linger time: a failed attempt (the server refused
/// the upgrade and kept the connection open) is dropped with a reset and
/// leaves no TIME_WAIT on the client's ports. [`graceful`] restores the
/// normal close once the socket is accepted.
pub(crate) async fn connect_from(src: IpAddr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match dst {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets the kernel hand out a port whose old 4-tuple lingers in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.set_zero_linger()?;
    socket.bind(SocketAddr::new(src, 0))?;
    let stream = socket.connect(dst).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Restores the normal (graceful) close on an accepted socket.
fn graceful(ws: Ws) -> Result<Ws, Fail> {
    // `None` is the default linger: close returns at once and sends a FIN,
    // so the deprecation concern (blocking on drop) does not apply.
    #[allow(deprecated)]
    ws.get_ref().set_linger(None).map_err(|_| Fail::Connect)?;
    Ok(ws)
}

/// Sends a close frame, awaits the server's, then waits for the server to
/// close the TCP connection, all within `timeout`.
pub(crate) async fn close_cleanly(ws: Ws, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, async move {
        let mut ws = ws;
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
        drain_until_eof(ws.into_inner()).await;
    })
    .await;
}

/// Finishes a close the server started: answer its close frame (the protocol
/// layer does on the next read), then wait for the server's FIN.
pub(crate) async fn finish_server_close(ws: Ws, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, async move {
        let mut ws = ws;
        while let Some(Ok(_)) = ws.next().await {}
        drain_until_eof(ws.into_inner()).await;
    })
    .await;
}

async fn drain_until_eof(mut tcp: TcpStream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = tcp.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(add_query("ws://h/ws", &[("token", "a.b.c")]), "ws://h/ws?token=a.b.c");
        assert_eq!(add_query("ws://h/ws?x=1", &[("ticket", "a b")]), "ws://h/ws?x=1&ticket=a+b");
    }
}
