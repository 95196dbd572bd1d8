//! The `101` hold: a connection's first `101 Switching Protocols` is held
//! in the kernel (`TCP_CORK`) until the upgraded socket's first write or
//! read, so the 101 and the first frame (the welcome) leave as one segment:
//! per handshake, one send and one acknowledgement fewer on each side. The
//! hold ends at the socket's next operation, whatever it is, and the kernel
//! ends it after 200 ms in any case, so a 101 is never kept from a client
//! that is waiting for it. Only the connection's first 101 is looked for;
//! after it, the upgraded socket's writes are not inspected. (`TCP_CORK` is
//! Linux's; elsewhere the 101 goes out at once.)

use std::io;
use tokio::net::TcpStream;

/// How hyper's `101 Switching Protocols` response begins.
const SWITCHING_PROTOCOLS: &[u8] = b"HTTP/1.1 101 ";

/// Where a connection is with its `101`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switching {
    /// Still HTTP: each write is looked at.
    Before,
    /// A 101 is held in the kernel for the first frame.
    Held,
    /// The 101 went out (or could not be held): nothing more to look at.
    Sent,
}

/// A socket whose partial segments the kernel can hold back.
pub(crate) trait Cork {
    /// Turns the hold on (the kernel keeps partial segments, 200 ms at
    /// most) or off (they are sent).
    fn set_cork(&self, on: bool) -> io::Result<()>;
}

impl Cork for TcpStream {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set_cork(&self, on: bool) -> io::Result<()> {
        socket2::SockRef::from(self).set_tcp_cork(on)
    }

    /// Without `TCP_CORK` nothing is held.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn set_cork(&self, _: bool) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// One connection's hold on its `101`.
#[derive(Debug)]
pub(crate) struct SwitchingHold {
    state: Switching,
}

impl SwitchingHold {
    /// A connection that has sent no `101` yet.
    pub(crate) fn new() -> Self {
        Self { state: Switching::Before }
    }

    /// Before a write that begins with `first`: holds the connection's first
    /// `101` in `socket`. Returns the state the write found: [`Switching::Held`]
    /// when a `101` waits for it, so that once it has written, [`release`]
    /// sends both.
    ///
    /// [`release`]: SwitchingHold::release
    pub(crate) fn before_write(&mut self, socket: &impl Cork, first: &[u8]) -> Switching {
        let found = self.state;
        if found == Switching::Before && first.starts_with(SWITCHING_PROTOCOLS) {
            let held = socket.set_cork(true).is_ok();
            self.state = if held { Switching::Held } else { Switching::Sent };
        }
        found
    }

    /// Sends a held `101` with whatever was written after it; returns the
    /// state now. Anything but a held 101 is left as it is.
    pub(crate) fn release(&mut self, socket: &impl Cork) -> Switching {
        if self.state == Switching::Held {
            self.state = Switching::Sent;
            let _ = socket.set_cork(false);
        }
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A socket that records what it was asked, and whose kernel may refuse
    /// `TCP_CORK` (as every kernel but Linux's does).
    #[derive(Default)]
    struct Recorded {
        calls: RefCell<Vec<bool>>,
        refuses: bool,
    }

    impl Cork for Recorded {
        fn set_cork(&self, on: bool) -> io::Result<()> {
            self.calls.borrow_mut().push(on);
            if self.refuses { Err(io::ErrorKind::Unsupported.into()) } else { Ok(()) }
        }
    }

    const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    const WELCOME: &[u8] = b"\x81\x02hi";

    #[test]
    fn a_101_is_held_and_the_next_write_releases_it() {
        let (socket, mut hold) = (Recorded::default(), SwitchingHold::new());
        assert_eq!(hold.before_write(&socket, SWITCHING), Switching::Before);
        assert_eq!(*socket.calls.borrow(), [true], "the 101 is held");
        assert_eq!(hold.before_write(&socket, WELCOME), Switching::Held);
        assert_eq!(hold.release(&socket), Switching::Sent);
        assert_eq!(*socket.calls.borrow(), [true, false], "the first frame sends both");
    }

    #[test]
    fn other_responses_are_never_held_and_a_later_101_still_is() {
        let (socket, mut hold) = (Recorded::default(), SwitchingHold::new());
        assert_eq!(hold.before_write(&socket, b"HTTP/1.1 200 OK\r\n\r\n"), Switching::Before);
        assert_eq!(hold.before_write(&socket, b"101"), Switching::Before);
        assert_eq!(hold.release(&socket), Switching::Before, "a read before any 101");
        assert!(socket.calls.borrow().is_empty());
        // A kept-alive connection upgraded on a later request.
        hold.before_write(&socket, SWITCHING);
        assert_eq!(*socket.calls.borrow(), [true]);
    }

    #[test]
    fn after_the_101_the_upgraded_sockets_writes_are_not_looked_at() {
        let (socket, mut hold) = (Recorded::default(), SwitchingHold::new());
        hold.before_write(&socket, SWITCHING);
        hold.release(&socket);
        assert_eq!(hold.before_write(&socket, SWITCHING), Switching::Sent);
        assert_eq!(hold.release(&socket), Switching::Sent);
        assert_eq!(*socket.calls.borrow(), [true, false], "a frame like a 101 is not held");
    }

    #[test]
    fn a_101_that_cannot_be_held_goes_out_at_once() {
        let (socket, mut hold) =
            (Recorded { refuses: true, ..Recorded::default() }, SwitchingHold::new());
        assert_eq!(hold.before_write(&socket, SWITCHING), Switching::Before);
        assert_eq!(hold.before_write(&socket, WELCOME), Switching::Sent, "nothing is held");
        assert_eq!(hold.release(&socket), Switching::Sent);
        assert_eq!(*socket.calls.borrow(), [true], "never turned off: it never came on");
    }
}
