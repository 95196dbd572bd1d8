//! Two servers on one PostgreSQL database, end to end: an account made on
//! one logs in on the other; logout-all closes the live socket with 4003;
//! a restarted server keeps the revocation. `wsauth user` commands work on
//! the database the flag or the environment names.

use serde_json::json;
use std::process::Output;
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn two_servers_share_accounts_and_revocations_on_postgres() {
    let database = TestDatabase::postgres().await;
    let node_a = TestServer::start_on(&database, |_| {}).await;
    let node_b = TestServer::start_on(&database, |_| {}).await;

    let (access, _) = node_a.login("mallory").await;
    let (mut socket, welcome) = node_a.ws_welcome(&access).await;
    assert_eq!(welcome["sub"], "mallory", "{welcome}");

    // The account is in the shared database: node B logs it in.
    let r = node_b.post("/auth/login", json!({"username": "Mallory", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200, "login on node B");
    let r =
        node_b.post("/auth/register", json!({"username": "MALLORY", "password": PASSWORD})).await;
    assert_eq!(r.status(), 409, "the name is taken on node B too");

    assert_eq!(node_a.post_bearer("/auth/logout-all", &access).await.status(), 200);
    assert_eq!(next_close(&mut socket).await.0, 4003);

    // Node B, restarted, loads the revocation from the database.
    node_b.stop().await;
    let node_b = TestServer::start_on(&database, |_| {}).await;
    rejected(node_b.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");
    // A new login on the restarted node works.
    let (fresh, _) = node_b.login("mallory").await;
    node_b.ws_welcome(&fresh).await;

    let ready = node_b.http.get(node_b.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert!(body.to_string().contains("postgres"), "{body}");
}

/// Runs `wsauth user ARGS...` on `database` (its URL from `url_from`), with
/// `stdin` as its input.
async fn cli(database: &TestDatabase, url_from: UrlFrom, args: &[&str], stdin: &str) -> Output {
    let dir = tempfile::tempdir().expect("dir");
    let mut all = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"));
    match url_from {
        UrlFrom::Flag => all.extend(["--database-url".to_owned(), database.url.clone()]),
        UrlFrom::Environment => {
            command.env("WSAUTH_DATABASE_URL", &database.url);
        }
    }
    all.push("user".into());
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let input = stdin.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command
            .args(all)
            .env_remove("WSAUTH_HMAC_SECRET")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write");
        drop(pipe);
        child.wait_with_output().expect("output")
    });
    let output = tokio::time::timeout(Duration::from_secs(60), run).await;
    let output = output.expect("in time").expect("join");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    drop(dir);
    output
}

/// How the command is told the database.
#[derive(Clone, Copy)]
enum UrlFrom {
    Flag,
    Environment,
}

#[tokio::test]
async fn user_commands_work_on_postgres_and_reach_a_running_server() {
    let database = TestDatabase::postgres().await;
    let server = TestServer::start_on(&database, |_| {}).await;
    cli(&database, UrlFrom::Environment, &["add", "Nina"], &format!("{PASSWORD}\n")).await;
    let r = server.post("/auth/login", json!({"username": "nina", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200, "an account added from the command line logs in");
    let access = r.json::<serde_json::Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let (mut socket, _) = server.ws_welcome(&access).await;

    let listed = cli(&database, UrlFrom::Flag, &["list"], "").await;
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("Nina\t"));
    cli(&database, UrlFrom::Flag, &["revoke", "nina"], "").await;
    let closed = tokio::time::timeout(Duration::from_secs(2), next_close(&mut socket)).await;
    assert_eq!(closed.expect("closed within the poll interval").0, 4003);
}
