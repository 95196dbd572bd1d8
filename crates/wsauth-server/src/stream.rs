//! The socket as hyper sees it: a `TcpStream` that holds its place under the
//! connection caps for as long as it lives (an upgraded WebSocket included),
//! notes each byte that moves, so a stalled HTTP connection can be told
//! from a busy one, reads ahead for small readers, and sends a `101` together
//! with the upgraded socket's first frame.
//!
//! Reading ahead is what lets an idle WebSocket hold no read buffer: the
//! WebSocket layer keeps only a small one (`limits.read_buffer_size`), and
//! each of its reads is served from a chunk of up to [`READ_AHEAD`] bytes
//! taken from the kernel in one call. That chunk exists only while its bytes
//! wait to be read: it is allocated when the socket is readable and freed
//! once drained.
//!
//! The `101 Switching Protocols` is held in the kernel until the upgraded
//! socket's first write or read (`hold.rs`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use wsauth::accept::ClientSlot;

mod hold;

use hold::{Switching, SwitchingHold};

/// Whether a byte moved on a connection since the task that watches it last
/// looked, shared between the stream and that task. Marking is a store, not
/// a clock read, so a busy socket pays almost nothing for being watched.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    moved: Arc<AtomicBool>,
}

/// How many checks of an idle period must in a row find nothing moved.
const QUIET_CHECKS: u32 = 4;

impl Progress {
    pub(crate) fn new() -> Self {
        Self { moved: Arc::new(AtomicBool::new(false)) }
    }

    fn mark(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// Completes once no byte has moved for `idle`: checks every quarter of
    /// it, so a stalled connection ends between `idle` and 1.25 times `idle`
    /// after its last byte.
    pub(crate) async fn stalled_for(&self, idle: Duration) {
        let check = idle / QUIET_CHECKS;
        let mut quiet = 0;
        while quiet < QUIET_CHECKS {
            tokio::time::sleep(check).await;
            quiet = if self.moved.swap(false, Ordering::Relaxed) { 0 } else { quiet + 1 };
        }
    }
}

/// The most one read takes from the kernel for a reader that asked for less.
pub(crate) const READ_AHEAD: usize = 4096;

/// An accepted `TcpStream`: its place under the connection caps, held for as
/// long as the socket lives, its progress, and bytes read ahead.
#[derive(Debug)]
pub(crate) struct AcceptedStream {
    stream: TcpStream,
    progress: Progress,
    /// Bytes read from the kernel and not yet handed out, from `ahead_at`;
    /// empty (no allocation) whenever none wait.
    ahead: Vec<u8>,
    ahead_at: usize,
    hold: SwitchingHold,
    _slot: ClientSlot,
}

impl AcceptedStream {
    pub(crate) fn new(stream: TcpStream, slot: ClientSlot, progress: Progress) -> Self {
        // No Nagle: a WebSocket writes small frames one after another (the
        // 101, then the welcome frame), and with Nagle each waits for the
        // previous one's ACK, which a client delaying its ACKs holds back up
        // to 40 ms. A failure leaves the socket as it was.
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            progress,
            ahead: Vec::new(),
            ahead_at: 0,
            hold: SwitchingHold::new(),
            _slot: slot,
        }
    }

    /// Before a write beginning with `first`: holds it in the kernel if it
    /// is the connection's `101`. Returns what the write found: a held 101
    /// is sent with it.
    fn before_write(&mut self, first: &[u8]) -> Switching {
        self.hold.before_write(&self.stream, first)
    }

    /// After a write: notes the progress, and sends a held `101` together
    /// with what was written.
    fn after_write(&mut self, found: Switching, result: &Poll<io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(n)) if *n > 0) {
            self.progress.mark();
            if found == Switching::Held {
                self.hold.release(&self.stream);
            }
        }
    }

    /// Hands out bytes read ahead, freeing the chunk once it is drained.
    fn take_ahead(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.ahead.len() - self.ahead_at);
        buf.put_slice(&self.ahead[self.ahead_at..self.ahead_at + n]);
        self.ahead_at += n;
        if self.ahead_at == self.ahead.len() {
            self.ahead = Vec::new();
            self.ahead_at = 0;
        }
    }

    /// Reads one chunk of up to [`READ_AHEAD`] bytes once the socket is
    /// readable (no allocation before), and hands out what `buf` takes.
    fn poll_read_ahead(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.stream.poll_read_ready(cx))?;
            // Read into the spare capacity: the chunk is never zeroed first.
            let mut chunk = Vec::with_capacity(READ_AHEAD);
            match self.stream.try_read_buf(&mut chunk) {
                // End of stream: nothing is kept.
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(_) => {
                    self.ahead = chunk;
                    self.ahead_at = 0;
                    self.progress.mark();
                    self.take_ahead(buf);
                    return Poll::Ready(Ok(()));
                }
                // A spurious readiness: wait for the next one.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for AcceptedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.hold.release(&this.stream);
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.ahead_at < this.ahead.len() {
            this.take_ahead(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() < READ_AHEAD {
            return this.poll_read_ahead(cx, buf);
        }
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
        let found = this.before_write(buf);
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.after_write(found, &result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let found = this.before_write(bufs.first().map_or(&[], |first| &first[..]));
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(found, &result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.hold.release(&this.stream);
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use wsauth::accept::ClientSlots;

    /// An accepted stream and the client's end, on loopback.
    async fn pair() -> (AcceptedStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client =
            TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let slot = ClientSlots::new(1, 1).try_acquire(None).expect("slot");
        (AcceptedStream::new(server, slot, Progress::new()), client)
    }

    /// When `stalled_for(idle)` completes for a connection on which a byte
    /// moved every `step` until `busy` had passed, counted from the start.
    async fn stalled_after(idle: Duration, step: Duration, busy: Duration) -> Duration {
        let progress = Progress::new();
        let start = tokio::time::Instant::now();
        let marker = progress.clone();
        tokio::spawn(async move {
            while start.elapsed() < busy {
                marker.mark();
                tokio::time::sleep(step).await;
            }
        });
        progress.stalled_for(idle).await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_stalled_only_after_a_whole_idle_period_without_a_byte() {
        let idle = Duration::from_secs(60);
        let quiet = stalled_after(idle, Duration::from_secs(1), Duration::ZERO).await;
        assert!(quiet >= idle && quiet <= idle * 5 / 4, "{quiet:?}");
        // Busy for five minutes, a byte every 14 s (under a check's 15 s):
        // stalled only after the last byte, at most 1.25 idle periods later.
        let busy = Duration::from_secs(300);
        let end = stalled_after(idle, Duration::from_secs(14), busy).await;
        assert!(end >= busy + idle - Duration::from_secs(14), "{end:?}");
        assert!(end <= busy + idle * 5 / 4, "{end:?}");
    }

    #[cfg(target_os = "linux")]
    fn corked(server: &AcceptedStream) -> bool {
        socket2::SockRef::from(&server.stream).tcp_cork().expect("TCP_CORK")
    }

    #[cfg(target_os = "linux")]
    const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";
    #[cfg(target_os = "linux")]
    const WELCOME: &[u8] = b"\x81\x02hi";

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_101_is_held_until_the_first_frame_and_both_arrive() {
        let (mut server, mut client) = pair().await;
        server.write_all(SWITCHING).await.expect("101");
        assert!(corked(&server), "the 101 waits for the first frame");
        server.write_all(WELCOME).await.expect("frame");
        assert!(!corked(&server), "the first frame sends both");
        let mut got = vec![0u8; SWITCHING.len() + WELCOME.len()];
        client.read_exact(&mut got).await.expect("both");
        assert_eq!(got, [SWITCHING, WELCOME].concat());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_read_sends_a_held_101() {
        let (mut server, mut client) = pair().await;
        let vectored = [io::IoSlice::new(SWITCHING)];
        std::future::poll_fn(|cx| Pin::new(&mut server).poll_write_vectored(cx, &vectored))
            .await
            .expect("101");
        assert!(corked(&server));
        client.write_all(WELCOME).await.expect("client frame");
        let mut frame = [0u8; 4];
        server.read_exact(&mut frame).await.expect("read");
        assert!(!corked(&server), "reading sends the 101");
        let mut got = vec![0u8; SWITCHING.len()];
        client.read_exact(&mut got).await.expect("101");
        assert_eq!(got, SWITCHING);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn other_responses_are_never_held_nor_the_upgraded_sockets_writes() {
        let (mut server, _client) = pair().await;
        server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n").await.expect("200");
        assert!(!corked(&server));
        server.write_all(b"101").await.expect("body");
        assert!(!corked(&server));
        server.write_all(SWITCHING).await.expect("101");
        server.write_all(WELCOME).await.expect("frame");
        // The upgraded socket's bytes are never taken for a 101.
        server.write_all(SWITCHING).await.expect("a frame that looks like a 101");
        assert!(!corked(&server));
    }

    #[tokio::test]
    async fn small_frames_are_not_held_back_by_nagle() {
        let (server, _client) = pair().await;
        assert!(server.stream.nodelay().expect("nodelay"));
    }

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order_and_keep_no_chunk_once_drained() {
        let (mut server, mut client) = pair().await;
        let sent: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).await.expect("write");
        client.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        let mut small = [0u8; 256];
        loop {
            let n = server.read(&mut small).await.expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
            assert!(server.ahead.len() <= READ_AHEAD);
        }
        assert_eq!(got, sent);
        assert_eq!(server.ahead.capacity(), 0, "a drained stream keeps no chunk");
    }

    #[tokio::test]
    async fn a_chunk_lives_only_while_its_bytes_wait() {
        let (mut server, mut client) = pair().await;
        client.write_all(&[7u8; 300]).await.expect("write");
        let mut small = [0u8; 100];
        server.read_exact(&mut small).await.expect("first 100");
        assert!(server.ahead.capacity() > 0, "200 bytes are waiting");
        let mut rest = [0u8; 200];
        server.read_exact(&mut rest).await.expect("the other 200");
        assert_eq!(server.ahead.capacity(), 0);
        assert!(rest.iter().all(|b| *b == 7));
    }

    #[tokio::test]
    async fn large_reads_bypass_the_chunk() {
        let (mut server, mut client) = pair().await;
        client.write_all(&[1u8; 1000]).await.expect("write");
        let mut large = vec![0u8; READ_AHEAD * 2];
        let n = server.read(&mut large).await.expect("read");
        assert!(n > 0 && large[..n].iter().all(|b| *b == 1));
        assert_eq!(server.ahead.capacity(), 0);
    }
}
