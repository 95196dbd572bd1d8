//! A lean client for `handshake`, so that the generator costs less per
//! handshake than the server it measures.
//!
//! The upgrade request of every credential is built once, as bytes, before
//! the measured phase. An attempt then binds a 127.0.0.x source, connects,
//! writes the request in one write, checks the `101` head and reads the first
//! frame with a minimal parser, into a buffer its worker reuses. The socket
//! delays its ACKs (`TCP_QUICKACK` off), so that its ACK of the welcome rides
//! on its close frame; only a failed attempt gets a zero linger before it is
//! dropped, so that it leaves no TIME_WAIT on the client.
//! A clean close is one masked close frame, then reading until the server's
//! FIN, so the TIME_WAIT stays on the server (as in `dial`).

use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::Uri;

use crate::common::{Cred, Expect, Mode, Target};
use crate::dial::{Fail, add_query};
use crate::handshake::{Tally, Turns};

/// The `Sec-WebSocket-Key` of every request: RFC 6455's sample nonce (the
/// base64 of 16 bytes). It only proves that the server speaks WebSocket, so
/// one fixed key serves every attempt.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// A masked close frame without a payload: FIN + close, mask bit + length 0,
/// then the mask key (RFC 6455's sample key; it masks nothing).
const CLOSE_FRAME: [u8; 6] = [0x88, 0x80, 0x37, 0xfa, 0x21, 0x3d];
/// First size of a worker's read buffer, bytes.
const BUFFER: usize = 4 * 1024;
/// Largest response head accepted, bytes.
const MAX_HEAD: usize = 8 * 1024;
/// Largest server frame payload accepted, bytes.
const MAX_FRAME: usize = 64 * 1024;

/// Whether the raw client can carry credentials this way.
pub(crate) fn supports(mode: Mode) -> bool {
    matches!(mode, Mode::Query | Mode::Header | Mode::Subprotocol | Mode::Cookie)
}

/// Opens authenticated WebSockets to one target with pre-built requests.
#[derive(Debug)]
pub(crate) struct RawDialer {
    addr: SocketAddr,
    sources: Vec<IpAddr>,
    expect: Expect,
    timeout: Duration,
    /// `Sec-WebSocket-Accept` the server must answer to [`KEY`].
    accept: String,
    /// One complete upgrade request per credential.
    requests: Vec<Vec<u8>>,
}

impl RawDialer {
    pub(crate) fn new(
        target: &Target,
        mode: Mode,
        expect: Expect,
        timeout: Duration,
        creds: &[Cred],
    ) -> anyhow::Result<Self> {
        if creds.is_empty() {
            bail!("no credentials to build requests from");
        }
        let requests =
            creds.iter().map(|cred| request(target, mode, cred)).collect::<Result<_, _>>()?;
        Ok(Self {
            addr: target.addr,
            sources: target.sources.clone(),
            expect,
            timeout,
            accept: derive_accept_key(KEY.as_bytes()),
            requests,
        })
    }

    /// Opens a socket from `src` with request `n` (modulo the credentials) and
    /// awaits the expected first frame, all within the operation timeout.
    pub(crate) async fn open(
        &self,
        src: IpAddr,
        n: usize,
        inbox: &mut Inbox,
    ) -> Result<TcpStream, Fail> {
        let request = &self.requests[n % self.requests.len()];
        let mut slot = None;
        let opened = tokio::time::timeout(self.timeout, async {
            let stream = slot.insert(self.connect(src).await.map_err(|_| Fail::Connect)?);
            self.upgrade(stream, request, inbox).await
        })
        .await
        .unwrap_or(Err(Fail::Timeout));
        match opened {
            Ok(()) => slot.ok_or(Fail::Connect),
            Err(fail) => {
                if let Some(stream) = slot {
                    // A reset instead of a FIN: no TIME_WAIT on the client's ports.
                    let _ = stream.set_zero_linger();
                }
                Err(fail)
            }
        }
    }

    async fn connect(&self, src: IpAddr) -> std::io::Result<TcpStream> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // Lets the kernel hand out a port whose old 4-tuple lingers in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::new(src, 0))?;
        let stream = socket.connect(self.addr).await?;
        stream.set_quickack(false)?;
        Ok(stream)
    }

    async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        request: &[u8],
        inbox: &mut Inbox,
    ) -> Result<(), Fail> {
        inbox.clear();
        stream.write_all(request).await.map_err(|_| Fail::Connect)?;
        loop {
            if let Some(len) = parse_head(inbox.pending(), self.accept.as_bytes())? {
                inbox.consume(len);
                break;
            }
            let want = inbox.pending().len() + 1;
            if want > MAX_HEAD {
                return Err(Fail::Handshake);
            }
            if inbox.fill(stream, want).await.map_err(|_| Fail::Connect)? == 0 {
                return Err(Fail::Handshake);
            }
        }
        if matches!(self.expect, Expect::Any) {
            return Ok(());
        }
        loop {
            match parse_frame(inbox.pending())? {
                Parsed::Need(want) => {
                    if inbox.fill(stream, want).await.map_err(|_| Fail::Closed(None))? == 0 {
                        return Err(Fail::Closed(None));
                    }
                }
                Parsed::Done(Frame::Text(text), _) => {
                    return if self.expect.matches(text) { Ok(()) } else { Err(Fail::Unexpected) };
                }
                Parsed::Done(Frame::PingPong, len) => inbox.consume(len),
                Parsed::Done(Frame::Close(code), _) => return Err(Fail::Closed(code)),
                Parsed::Done(Frame::Other, _) => return Err(Fail::Unexpected),
            }
        }
    }
}

/// Sends a close frame, then reads (discarding the server's close frame)
/// until the server closes the TCP connection, all within `timeout`.
pub(crate) async fn close_cleanly<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    inbox: &mut Inbox,
    timeout: Duration,
) {
    let _ = tokio::time::timeout(timeout, async {
        if stream.write_all(&CLOSE_FRAME).await.is_err() {
            return;
        }
        while let Ok(n) = stream.read(&mut inbox.buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Runs `concurrency` workers that open and close sockets while `turns`
/// hands out attempts; counts as `handshake::churn` does.
pub(crate) async fn churn(
    dialer: &Arc<RawDialer>,
    concurrency: usize,
    turns: Arc<Turns>,
    close_timeout: Duration,
) -> Tally {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let dialer = Arc::clone(dialer);
        let turns = Arc::clone(&turns);
        tasks.spawn(async move {
            let mut tally = Tally::new();
            let mut inbox = Inbox::new();
            let sources = &dialer.sources;
            while let Some(idx) = turns.next().await {
                let started = Instant::now();
                match dialer.open(sources[idx % sources.len()], idx, &mut inbox).await {
                    Ok(stream) => {
                        tally.opened(started);
                        close_cleanly(stream, &mut inbox, close_timeout).await;
                    }
                    Err(fail) => tally.failed(&fail).await,
                }
            }
            tally
        });
    }
    Tally::gather(tasks).await
}

/// The complete upgrade request for `cred`, credential headers as `dial` sends them.
fn request(target: &Target, mode: Mode, cred: &Cred) -> anyhow::Result<Vec<u8>> {
    let base = target.ws_base.as_str();
    let (url, headers) = match mode {
        Mode::Query => (add_query(base, &[("token", &cred.token)]), vec![]),
        Mode::Header => {
            (base.to_owned(), vec![("Authorization", format!("Bearer {}", cred.token))])
        }
        Mode::Subprotocol => (
            base.to_owned(),
            vec![("Sec-WebSocket-Protocol", format!("wsauth, bearer.{}", cred.token))],
        ),
        Mode::Cookie => (
            add_query(base, &[("csrf_token", cred.csrf.as_deref().unwrap_or(""))]),
            vec![
                ("Cookie", format!("access_token_cookie={}", cred.token)),
                ("Origin", target.origin.clone()),
            ],
        ),
        Mode::Ticket | Mode::FirstMessage => {
            bail!("the raw client does not support --mode {}", mode.as_str())
        }
    };
    let uri: Uri = url.parse().context("the WebSocket URL with the credential is not valid")?;
    let host = uri.authority().context("the WebSocket URL has no host")?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in headers {
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            bail!("the {name} header would contain a control character");
        }
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    Ok(head.into_bytes())
}

/// A worker's read buffer, reused across its attempts: `buf[start..end]` was
/// read and not yet consumed.
#[derive(Debug)]
pub(crate) struct Inbox {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self { buf: vec![0; BUFFER], start: 0, end: 0 }
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Makes room for `want` pending bytes in all (the caller bounds `want`),
    /// then reads once; returns the bytes read, 0 at EOF.
    async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        stream: &mut R,
        want: usize,
    ) -> std::io::Result<usize> {
        let want = want.max(self.end - self.start + 1);
        if self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if want > self.buf.len() {
                self.buf.resize(want, 0);
            }
        }
        let n = stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// A parse that is complete (with the bytes it took) or needs this many bytes in all.
#[derive(Debug, PartialEq)]
enum Parsed<T> {
    Done(T, usize),
    Need(usize),
}

/// A server frame, as far as a handshake cares.
#[derive(Debug, PartialEq)]
enum Frame<'a> {
    /// An unfragmented text frame's payload.
    Text(&'a [u8]),
    /// A close frame, with its code if it has one.
    Close(Option<u16>),
    /// A ping or a pong: skipped.
    PingPong,
    /// Binary, fragmented or extended (RSV bits) data.
    Other,
}

/// The length of a complete `101` response head that carries `accept`, or
/// `None` while the head is incomplete.
fn parse_head(buf: &[u8], accept: &[u8]) -> Result<Option<usize>, Fail> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let mut lines = buf[..end].split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status = lines.next().unwrap_or_default();
    let mut parts = status.splitn(3, |&b| b == b' ');
    let code = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with(b"HTTP/1.") => {
            std::str::from_utf8(code).ok().and_then(|c| c.parse::<u16>().ok())
        }
        _ => None,
    }
    .ok_or(Fail::Handshake)?;
    if code != 101 {
        return Err(Fail::Status(code));
    }
    let accepted = lines.any(|line| match line.iter().position(|&b| b == b':') {
        Some(colon) => {
            line[..colon].eq_ignore_ascii_case(b"sec-websocket-accept")
                && line[colon + 1..].trim_ascii() == accept
        }
        None => false,
    });
    if accepted { Ok(Some(end + 4)) } else { Err(Fail::Handshake) }
}

/// The first server frame in `buf`; server frames are never masked.
fn parse_frame(buf: &[u8]) -> Result<Parsed<Frame<'_>>, Fail> {
    let [b0, b1, ..] = *buf else { return Ok(Parsed::Need(2)) };
    if b1 & 0x80 != 0 {
        return Err(Fail::Unexpected);
    }
    let (len, header) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(Parsed::Need(4)),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(bytes) => (u64::from_be_bytes(bytes), 10),
            None => return Ok(Parsed::Need(10)),
        },
        short => (u64::from(short), 2),
    };
    let len = usize::try_from(len).ok().filter(|&l| l <= MAX_FRAME).ok_or(Fail::Unexpected)?;
    let total = header + len;
    let Some(payload) = buf.get(header..total) else { return Ok(Parsed::Need(total)) };
    let frame = match (b0 & 0xf0, b0 & 0x0f) {
        (0x80, 0x1) => Frame::Text(payload),
        (0x80, 0x8) => Frame::Close(match *payload {
            [a, b, ..] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }),
        (0x80, 0x9 | 0xa) => Frame::PingPong,
        _ => Frame::Other,
    };
    Ok(Parsed::Done(frame, total))
}

#[cfg(test)]
mod tests;
