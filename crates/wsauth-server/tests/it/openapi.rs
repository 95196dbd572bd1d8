//! `GET /openapi.json`: the document the server describes itself with, and
//! the server keeping to it. (schemathesis checks much more of it, against
//! the live server: openapi-check/run.sh.)

use serde_json::Value;
use std::time::Duration;

use crate::support::*;

const ADMIN_KEY: &str = "an-admin-key-that-is-long-enough-0123456789";

async fn document(http: &reqwest::Client, base: &str) -> Value {
    let r = http.get(format!("{base}/openapi.json")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.expect("json")
}

/// Every operation as `(method, path, documented statuses)`.
fn operations(doc: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let statuses = operation["responses"].as_object().expect("responses").keys();
            found.push((method.to_uppercase(), path.clone(), statuses.cloned().collect()));
        }
    }
    found
}

#[tokio::test]
async fn every_documented_operation_is_served_and_refuses_as_documented() {
    let server = TestServer::start_config(|c| c.admin_api_key = Some(ADMIN_KEY.into())).await;
    let doc = document(&server.http, &server.url("")).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let operations = operations(&doc);
    assert!(operations.len() >= 24, "{operations:?}");
    for (method, path, statuses) in operations {
        let url = server.url(&path.replace("{username}", "nobody"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        // No credential, no body: every route answers, none with a status
        // its description does not list.
        let r = server.http.request(method.clone(), url).send().await.expect("send");
        let status = r.status().as_u16().to_string();
        assert!(statuses.contains(&status), "{method} {path}: {status} is not in {statuses:?}");
        // A HEAD answer has no body to check.
        if r.status().is_client_error() && method != reqwest::Method::HEAD {
            let body: Value = r.json().await.expect("an error body");
            assert!(body["error"].is_string() && body["detail"].is_string(), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn an_upgrade_is_documented_as_101() {
    let server = TestServer::start().await;
    let doc = document(&server.http, &server.url("")).await;
    assert!(doc["paths"]["/ws"]["get"]["responses"]["101"].is_object());
    let (access, _) = server.login("alice").await;
    let r = server
        .http
        .get(server.url("/ws"))
        .bearer_auth(access)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 101);
}

#[tokio::test]
async fn routes_moved_to_the_internal_address_are_described_once() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(dir.path().join("data"));
    cfg.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    let app = wsauth_server::Application::build(cfg).await.expect("build");
    let internal = app.internal_addr().expect("internal address");
    let main = app.local_addr();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run());
    let http = reqwest::Client::builder().no_proxy().build().expect("client");

    let doc = document(&http, &format!("http://{main}")).await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/metrics") && paths.contains_key("/admin/users"));
    let description = doc["info"]["description"].as_str().expect("description");
    assert!(description.contains("metrics_listen"), "{description}");
    // The internal address serves the operator's routes and nothing else.
    let r = http.get(format!("http://{internal}/openapi.json")).send().await.expect("send");
    assert_eq!(r.status(), 404);
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
}
