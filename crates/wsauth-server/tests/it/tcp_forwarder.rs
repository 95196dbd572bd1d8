//! A TCP forwarder in front of a server (Redis, say) that a test can cut and
//! heal: a cut closes every forwarded connection and refuses new ones (they
//! are accepted and closed at once), as a network partition between one
//! node and that server would look to the node.

use std::net::SocketAddr;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards 127.0.0.1:`port()` to `target` until dropped.
pub struct TcpForwarder {
    port: u16,
    connected: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpForwarder {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind forwarder");
        let port = listener.local_addr().expect("addr").port();
        let (connected, state) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !*state.borrow() {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(forward(inbound, target, state.clone()));
            }
        });
        Self { port, connected, task }
    }

    /// The forwarder's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.connected.send_replace(false);
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.connected.send_replace(true);
    }
}

impl Drop for TcpForwarder {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// One connection, until either side closes it or the forwarder is cut.
async fn forward(mut inbound: TcpStream, target: SocketAddr, mut state: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
    tokio::select! {
        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = state.wait_for(|connected| !connected) => {}
    }
}
