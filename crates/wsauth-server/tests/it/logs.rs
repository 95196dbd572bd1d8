//! No token, ticket, cookie or CSRF value ever appears in a log line, even at
//! debug level.

use crate::support::*;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Buffer {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Buffer::default();
            let writer = buffer.clone();
            let _ = tracing_subscriber::fmt()
                .with_env_filter("debug,wsauth=trace,wsauth_server=trace")
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .try_init();
            buffer
        })
        .clone()
}

#[tokio::test]
async fn d30_no_credential_appears_in_any_log_line() {
    let logs = capture();
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    server.ws_welcome(&access).await;
    let _ = server
        .ws("/ws", &[("sec-websocket-protocol", &format!("wsauth, bearer.{access}"))])
        .await
        .expect("101");
    let _ = server.ws("/ws", &[("authorization", &format!("Bearer {access}"))]).await.expect("101");
    let ticket = server.ticket(&access).await;
    let _ = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("101");
    let _ = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect_err("reused");
    let bad = format!("{access}x");
    let _ = server.ws(&format!("/ws?token={bad}"), &[]).await.expect_err("bad");
    let _ = server.ws(&format!("/ws?{access}"), &[]).await.expect_err("bare");
    let cookies = server.cookie_login("alice").await;
    let csrf = cookie(&cookies, "csrf_access_token").to_owned();
    let _ = server
        .ws(
            &format!("/ws?csrf_token={csrf}"),
            &[("cookie", &cookie_header(&cookies)), ("origin", &server.origin())],
        )
        .await
        .expect("101");
    // Forward auth: the token travels in the original URI (a header).
    let verify = server
        .http
        .get(server.url("/auth/verify"))
        .header("x-original-uri", format!("/ws?token={access}"))
        .header("x-original-method", "GET")
        .send()
        .await
        .expect("verify");
    assert_eq!(verify.status(), 403, "an untrusted proxy is refused");
    let _ = server.http.get(server.url(&format!("/auth/verify?token={access}"))).send().await;
    let _ = server.post_bearer("/auth/refresh", &refresh).await;
    let _ = server.post_bearer("/auth/logout", &access).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let text =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_owned();
    assert!(text.contains("/ws"), "the access log is empty:\n{text}");
    let mut secrets = vec![access.clone(), refresh.clone(), ticket.clone(), csrf.clone()];
    secrets.extend(cookies.iter().map(|(_, v)| v.clone()));
    for secret in &secrets {
        // Any 24-character piece of a secret is enough to count as a leak.
        let probe: String =
            secret.chars().rev().take(24).collect::<String>().chars().rev().collect();
        assert!(!text.contains(&probe), "a credential leaked into the logs:\n{text}");
    }
    assert!(!text.contains(SECRET), "the signing secret leaked");
}
