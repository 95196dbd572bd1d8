//! `bench-baseline` on each stack answers as the comparisons assume: a
//! valid `?token=` gets the `101`, the welcome frame and an echo; a missing
//! or wrongly signed one gets a 401 before any upgrade.

use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::{Error, Message};
use wsauth_bench::jwt::{Minter, unix_now};

const SECRET: &str = "a-test-secret-of-at-least-thirty-two-bytes";

/// A running `bench-baseline`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(stack: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bench-baseline"))
            .args(["--listen", "127.0.0.1:0", "--stack", stack])
            .env("BENCH_HMAC_SECRET", SECRET)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("bench-baseline listening on http://")
            .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?
            .to_owned();
        Ok(Self { child, addr })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serves_the_compared_handshake(stack: &str) -> anyhow::Result<()> {
    let server = Server::start(stack)?;
    let token = Minter::new(SECRET).access("alice", unix_now() + 60, None)?;
    let url = format!("ws://{}/ws?token={token}", server.addr);
    let (mut socket, response) = tokio_tungstenite::connect_async(url.as_str()).await?;
    assert_eq!(response.status(), 101, "{stack}");
    let welcome = socket.next().await.ok_or_else(|| anyhow::anyhow!("closed"))??;
    assert_eq!(welcome, Message::text(r#"{"type":"welcome"}"#), "{stack}");
    socket.send(Message::text("ping me")).await?;
    let echo = socket.next().await.ok_or_else(|| anyhow::anyhow!("closed"))??;
    assert_eq!(echo, Message::text("ping me"), "{stack}");
    socket.close(None).await?;

    let forged = Minter::new("another-secret-of-at-least-thirty-two-bytes").access(
        "alice",
        unix_now() + 60,
        None,
    )?;
    for query in [String::new(), format!("?token={forged}")] {
        let url = format!("ws://{}/ws{query}", server.addr);
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(Error::Http(response)) => assert_eq!(response.status(), 401, "{stack} {query}"),
            other => panic!("{stack} {query}: expected a 401, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_tungstenite_stack_serves_the_compared_handshake() -> anyhow::Result<()> {
    serves_the_compared_handshake("tungstenite").await
}

#[tokio::test]
async fn the_axum_stack_serves_the_compared_handshake() -> anyhow::Result<()> {
    serves_the_compared_handshake("axum").await
}
