//! What an operator sees: Prometheus metrics after known traffic, readiness
//! with a backend that does not answer, and the metrics on an internal address.

use serde_json::{Value, json};
use std::time::Duration;

use crate::support::*;

/// The value of the sample `name` whose labels include every pair in `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        let wanted = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (metric == name && wanted).then(|| value.parse().ok())?
    })
}

async fn scrape(server: &TestServer) -> String {
    let r = server.http.get(server.url("/metrics")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain"));
    r.text().await.expect("text")
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let server = TestServer::start().await;
    let (access, refresh) = server.login("alice").await;
    let r = server.post("/auth/login", json!({"username": "alice", "password": "wrong one"})).await;
    assert_eq!(r.status(), 401);
    assert_eq!(server.post_bearer("/auth/refresh", &refresh).await.status(), 200);
    assert_eq!(server.post_bearer("/auth/refresh", "garbage").await.status(), 401);
    let (mut ws, _) = server.ws_welcome(&access).await;
    rejected(server.ws("/ws?token=garbage", &[]).await).await.assert_401("invalid_token");
    rejected(server.ws("/ws", &[]).await).await.assert_401("missing_token");
    let ticket = server.ticket(&access).await;
    let (mut by_ticket, _) = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("101");
    let _ = next_json(&mut by_ticket).await;

    let text = scrape(&server).await;
    let accepted = |credential| {
        sample(
            &text,
            "wsauth_handshakes_total",
            &[("outcome", "accepted"), ("credential", credential)],
        )
    };
    assert_eq!(accepted("query"), Some(1.0), "{text}");
    assert_eq!(accepted("ticket"), Some(1.0));
    let rejected_with = |credential, error| {
        sample(
            &text,
            "wsauth_handshakes_total",
            &[("outcome", "rejected"), ("credential", credential), ("error", error)],
        )
    };
    assert_eq!(rejected_with("query", "invalid_token"), Some(1.0));
    assert_eq!(rejected_with("none", "missing_token"), Some(1.0));
    assert_eq!(sample(&text, "wsauth_live_sockets", &[]), Some(2.0));
    assert_eq!(sample(&text, "wsauth_logins_total", &[("outcome", "ok")]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_logins_total", &[("outcome", "bad_credentials")]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_refreshes_total", &[("outcome", "ok")]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_refreshes_total", &[("outcome", "invalid_token")]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_tickets_issued_total", &[]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_tickets_redeemed_total", &[]), Some(1.0));
    assert_eq!(sample(&text, "wsauth_backend_up", &[("backend", "sqlite")]), Some(1.0));
    assert!(
        sample(&text, "wsauth_handshake_duration_seconds_count", &[("outcome", "accepted")])
            .is_some_and(|n| n >= 2.0)
    );

    // A logout closes both sockets with 4003, and the kick latency is recorded.
    assert_eq!(server.post_bearer("/auth/logout", &access).await.status(), 200);
    assert_eq!(next_close(&mut ws).await.0, 4003);
    assert_eq!(next_close(&mut by_ticket).await.0, 4003);
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(&server).await;
        if sample(&text, "wsauth_live_sockets", &[]) == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sample(&text, "wsauth_live_sockets", &[]), Some(0.0), "{text}");
    assert_eq!(sample(&text, "wsauth_socket_closes_total", &[("code", "4003")]), Some(2.0));
    assert_eq!(sample(&text, "wsauth_revocation_close_seconds_count", &[]), Some(2.0));
    // No label carries a username, a token or an address.
    for secret in ["alice", &access[..24], "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
}

#[tokio::test]
async fn limits_that_refuse_are_counted_by_name() {
    let server = TestServer::start_config(|c| {
        c.limits.handshake_rate = 1.0;
        c.limits.handshake_burst = 1.0;
    })
    .await;
    let (access, _) = server.login("bob").await;
    server.ws_welcome(&access).await;
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert(429, "too_many_requests");
    let text = scrape(&server).await;
    assert_eq!(
        sample(&text, "wsauth_rate_limited_total", &[("limit", "handshake_rate")]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "wsauth_handshakes_total",
            &[("outcome", "rejected"), ("error", "too_many_requests")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn readyz_names_a_backend_that_does_not_answer() {
    let server = TestServer::start().await;
    let r = server.http.get(server.url("/readyz")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["backends"][0], json!({"backend": "sqlite", "up": true}));
    // Another writer holds SQLite's write lock: writes would fail, so not ready.
    let db = server.data_dir.join("wsauth.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
    let mut other = sqlx::ConnectOptions::connect(&options).await.expect("open");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.expect("lock");
    let r = server.http.get(server.url("/readyz")).send().await.expect("send");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["failed"], json!(["sqlite"]));
    assert_eq!(body["error"], "unavailable");
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "wsauth_backend_up", &[("backend", "sqlite")]), Some(0.0));
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("unlock");
    let r = server.http.get(server.url("/readyz")).send().await.expect("send");
    assert_eq!(r.status(), 200, "ready again once the backend answers");
    // Liveness does not depend on backends.
    let r = server.http.get(server.url("/healthz")).send().await.expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn metrics_move_to_the_internal_address_or_switch_off() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(dir.path().join("data"));
    cfg.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    let app = wsauth_server::Application::build(cfg).await.expect("build");
    let internal = app.internal_addr().expect("internal address");
    let main = app.local_addr();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run());
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let on_main = http.get(format!("http://{main}/metrics")).send().await.expect("send");
    assert_eq!(on_main.status(), 404);
    let on_internal = http.get(format!("http://{internal}/metrics")).send().await.expect("send");
    assert_eq!(on_internal.status(), 200);
    assert!(on_internal.text().await.expect("text").contains("wsauth_live_sockets"));
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;

    let off = TestServer::start_config(|c| c.metrics = false).await;
    let r = off.http.get(off.url("/metrics")).send().await.expect("send");
    assert_eq!(r.status(), 404);
}

#[test]
fn the_grafana_dashboard_uses_only_exported_metric_names() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let dashboard = std::fs::read_to_string(format!("{root}/deploy/grafana-dashboard.json"))
        .expect("deploy/grafana-dashboard.json");
    let _: Value = serde_json::from_str(&dashboard).expect("valid JSON");
    let source = std::fs::read_to_string(format!("{root}/crates/wsauth-server/src/metrics.rs"))
        .expect("metrics.rs");
    let mut names: Vec<&str> = dashboard
        .match_indices("wsauth_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let base = name.strip_suffix("_bucket").unwrap_or(name);
        assert!(
            source.contains(&format!("\"{base}\"")),
            "{name} is not a metric the server exports"
        );
    }
}

/// The labels a documented metric's row in docs/operations.md lists for
/// `label`: the backticked words in parentheses after it.
fn documented_labels(metric: &str, label: &str) -> Vec<String> {
    const DOC: &str = include_str!("../../../../docs/operations.md");
    let row = DOC.lines().find(|line| line.starts_with(&format!("| `{metric}`"))).expect(metric);
    let after = row.split(&format!("`{label}` (")).nth(1).expect(label);
    let listed = after.split(')').next().expect("closed");
    listed.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// `wsauth_rate_limited_total` and `wsauth_proxy_upstream_failures_total`
/// appeared only after their first event, so an alert on their rate had
/// nothing to read until then.
#[tokio::test]
async fn limit_and_proxy_failure_series_exist_at_zero_from_the_start() {
    let server = TestServer::start_config(|c| {
        c.proxy = vec![wsauth_server::proxy::ProxyRoute::new("/chat", "ws://127.0.0.1:1/")];
    })
    .await;
    let text = scrape(&server).await;
    let limits = documented_labels("wsauth_rate_limited_total", "limit");
    assert_eq!(limits.len(), 8, "{limits:?}");
    for limit in &limits {
        assert_eq!(
            sample(&text, "wsauth_rate_limited_total", &[("limit", limit)]),
            Some(0.0),
            "{limit}: {text}"
        );
    }
    let errors = documented_labels("wsauth_proxy_upstream_failures_total", "error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    for error in &errors {
        let labels = [("route", "/chat"), ("error", error.as_str())];
        assert_eq!(
            sample(&text, "wsauth_proxy_upstream_failures_total", &labels),
            Some(0.0),
            "{error}: {text}"
        );
    }
}
