//! The socket as hyper sees it: a `TcpStream` that holds its place under the
//! connection caps for as long as it lives (an upgraded WebSocket included)
//! and records when a byte last moved, so a stalled HTTP connection can be
//! told from a busy one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wsauth::ClientSlot;

/// When a byte last moved on a connection, shared between the stream and the
/// task that watches it.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    started: Instant,
    /// Milliseconds from `started` to the last read or write.
    last_ms: Arc<AtomicU64>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self { started: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }

    fn mark(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Completes once no byte has moved for `idle`.
    pub(crate) async fn stalled_for(&self, idle: Duration) {
        loop {
            let deadline = self.last() + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// An accepted `TcpStream`: its place under the connection caps, held for as
/// long as the socket lives, and its progress.
#[derive(Debug)]
pub(crate) struct AcceptedStream {
    stream: TcpStream,
    progress: Progress,
    _slot: ClientSlot,
}

impl AcceptedStream {
    pub(crate) fn new(stream: TcpStream, slot: ClientSlot, progress: Progress) -> Self {
        Self { stream, progress, _slot: slot }
    }
}

impl AsyncRead for AcceptedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.progress.mark();
        }
        result
    }
}

impl AsyncWrite for AcceptedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.progress.mark();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.progress.mark();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
