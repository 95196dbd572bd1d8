//! The `wsauth` binary as a child process: started on port 0, its first
//! line read for the address, its logs collected, stopped with a signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_wsauth");

/// A running `wsauth serve`: the child, its base URL and its logs (stderr,
/// returned once the process ends).
pub struct Running {
    pub child: Child,
    pub url: String,
    pub logs: std::thread::JoinHandle<String>,
}

impl Running {
    /// `ws://` base URL of the same server.
    pub fn ws_url(&self) -> String {
        self.url.replacen("http://", "ws://", 1)
    }
}

/// Starts the binary with `args` and `env` (no inherited HMAC secret) and
/// waits for its "listening" line.
pub fn spawn_with_env(cwd: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("WSAUTH_HMAC_SECRET")
        .env("WSAUTH_LOG", "debug")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsauth");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read listening line");
    let url = line
        .trim()
        .strip_prefix("wsauth listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut all);
        all
    });
    Running { child, url, logs }
}

/// Sends SIGTERM and waits (at most 5 s, then SIGKILL) for the exit.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    signal(child, "TERM");
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().expect("wait")
}

/// Sends a signal (`TERM`, `KILL`, ...) to the child.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits, without blocking the async runtime, for the child to exit;
/// `None` if it is still running after `limit`.
pub async fn exited_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
