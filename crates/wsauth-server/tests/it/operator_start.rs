//! What an operator reads when a node starts: one summary of what it
//! serves, and a database that cannot be reached named with its address
//! and the reason, once. `wsauth user` commands stay quiet about the
//! database.

use std::process::Command;

use crate::binary::{BIN, spawn_with_env, terminate};
use crate::refused_settings::refused_at_start;
use crate::support::{SECRET, TestDatabase};

/// Asserts `stderr` says the address once, with `reason`, and nothing of
/// the password, the pool or PostgreSQL's source lines.
fn assert_named_once(stderr: &str, address: &str, reason: &str) {
    assert_eq!(stderr.matches(address).count(), 1, "{stderr}");
    assert!(stderr.to_lowercase().contains(reason), "{stderr}");
    for unwanted in ["hunter2", "timed out", "line:", "Caused by", "stack backtrace"] {
        assert!(!stderr.contains(unwanted), "{unwanted:?} in {stderr}");
    }
}

/// "pool timed out" after 5 s of silence, with no host, port or cause.
#[test]
fn a_database_that_refuses_connections_is_named_with_the_cause() {
    let toml = "database_url = \"postgres://wsauth:hunter2@127.0.0.1:1/wsauth\"\n";
    let stderr = refused_at_start(toml, &[]);
    assert_named_once(&stderr, "wsauth@127.0.0.1:1/wsauth", "connection refused");
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_named_with_the_cause() {
    let existing = TestDatabase::postgres().await;
    let (server, _) = existing.url.rsplit_once('/').expect("url");
    let missing = format!("{server}/wsauth_no_such_database");
    let stderr = refused_at_start(&format!("database_url = {missing:?}\n"), &[]);
    assert_named_once(&stderr, "/wsauth_no_such_database", "does not exist");
}

/// A wrong password: the role `wsauth_password_check` is the one that
/// `./test.sh services` makes PostgreSQL ask a password of (every other
/// local connection is trusted).
#[tokio::test]
async fn a_wrong_database_password_is_named_with_the_cause() {
    use sqlx::Connection;
    let existing = TestDatabase::postgres().await;
    let mut admin = sqlx::PgConnection::connect(&existing.url).await.expect("connect");
    let create = "DO $$ BEGIN CREATE ROLE wsauth_password_check LOGIN PASSWORD 'the-right-one'; \
                  EXCEPTION WHEN duplicate_object THEN \
                  ALTER ROLE wsauth_password_check LOGIN PASSWORD 'the-right-one'; END $$";
    sqlx::raw_sql(create).execute(&mut admin).await.expect("the role");
    let _ = admin.close().await;
    let (_, rest) = existing.url.split_once('@').expect("url");
    let url = |password: &str| format!("postgres://wsauth_password_check:{password}@{rest}");
    // The rule is in force: the right password gets in, so the wrong one is
    // refused for being wrong.
    let right = sqlx::PgConnection::connect(&url("the-right-one")).await.unwrap_or_else(|e| {
        panic!("{e}: run ./test.sh services, which makes this role give its password")
    });
    let _ = right.close().await;
    let stderr = refused_at_start(&format!("database_url = {:?}\n", url("hunter2")), &[]);
    let address = format!("wsauth_password_check@{}", rest.split('/').next().expect("host"));
    assert_named_once(&stderr, &address, "password authentication failed");
}

/// Startup said little: one line now says what the node serves, without a
/// password.
#[tokio::test]
async fn a_start_logs_one_summary_of_what_the_node_serves() {
    let database = TestDatabase::postgres().await;
    let with_password = database.url.replacen("postgres@", "postgres:hunter2@", 1);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("wsauth.toml");
    let settings = format!(
        "hmac_secret = {SECRET:?}\nadmin_api_key = \"an-admin-key-of-some-length-0123\"\n\
         database_url = {with_password:?}\n\
         [[proxy]]\npath = \"/chat\"\nupstream = \"ws://127.0.0.1:9/chat\"\n"
    );
    std::fs::write(&file, settings).expect("write config");
    let file = file.to_str().expect("utf-8 path");
    let args = ["--config", file, "serve", "--listen", "127.0.0.1:0"];
    let mut running = spawn_with_env(dir.path(), &args, &[("WSAUTH_LOG", "info")]);
    let url = running.url.clone();
    terminate(&mut running.child);
    let logs = running.logs.join().expect("logs");
    assert!(!logs.contains("hunter2"), "{logs}");
    let summaries: Vec<&str> = logs.lines().filter(|line| line.contains(" serving ")).collect();
    assert_eq!(summaries.len(), 1, "{logs}");
    let kid = wsauth::Key::hmac(wsauth::Algorithm::HS256, SECRET.as_bytes()).expect("key");
    for expected in [
        format!("listen={url}"),
        format!("metrics={url}/metrics"),
        "database=postgres postgres://postgres:***@127.0.0.1".to_owned(),
        "redis=none".to_owned(),
        "cluster=\"off\"".to_owned(),
        format!("keys={} HS256 (signs)", kid.kid()),
        "proxy=/chat -> ws://127.0.0.1:9/chat".to_owned(),
        "trusted_issuers=none".to_owned(),
        "admin_api=\"on\"".to_owned(),
    ] {
        assert!(summaries[0].contains(&expected), "{expected:?} not in {}", summaries[0]);
    }
}

/// Every `wsauth user` command printed INFO "database ready".
#[test]
fn user_commands_do_not_log_that_the_database_is_ready() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(BIN)
        .args(["--data-dir", &dir.path().join("data").display().to_string(), "user", "list"])
        .env_remove("WSAUTH_LOG")
        .output()
        .expect("run wsauth user list");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("database ready"), "{stderr}");
    assert!(!stderr.contains("INFO"), "{stderr}");
}
