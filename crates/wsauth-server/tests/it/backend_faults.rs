//! The database failing under a running server: locked by another writer,
//! out of space, or not answering at all. Every write answers 503
//! `unavailable` and changes nothing (a logout that failed leaves its token
//! working: nothing is half-revoked); while the database can still be read,
//! what needs no write keeps working from the in-memory revocation mirror;
//! once it cannot be read, the node cannot know what another process
//! revoked, so within a second it refuses handshakes too (open sockets stay
//! open); and service resumes, without a restart, once the database is
//! back. docs/testing-load.md has the whole table.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

const ADMIN_KEY: &str = "an-admin-key-of-at-least-32-bytes-0123456789";

fn with_admin(c: &mut wsauth_server::Config) {
    c.admin_api_key = Some(ADMIN_KEY.to_owned());
}

/// A second writer holding SQLite's write lock past the server's busy timeout.
struct WriteLock(sqlx::SqliteConnection);

async fn open_database(data_dir: &Path) -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data_dir.join("wsauth.db"));
    sqlx::ConnectOptions::connect(&options).await.expect("open")
}

impl WriteLock {
    async fn take(data_dir: &Path) -> Self {
        let mut conn = open_database(data_dir).await;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.expect("lock");
        Self(conn)
    }

    async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.expect("unlock");
    }
}

/// A small tmpfs of the test's own, so the database can run out of space
/// without any real disk filling up. Mounting needs root; `None` otherwise.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes a file until the disk is full (at most its 8 MiB). The
    /// database's write-ahead log is emptied first: otherwise writes could
    /// go on for a while into room the log already holds.
    async fn fill(&self, data_dir: &Path) {
        use std::io::Write;
        let mut conn = open_database(data_dir).await;
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut conn)
            .await
            .expect("checkpoint");
        assert_eq!(busy, 0, "the log could not be truncated");
        let mut file = std::fs::File::create(self.filler()).expect("create filler");
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..1024 {
            match file.write(&chunk) {
                Ok(n) if n == chunk.len() => continue,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        panic!("the disk never filled up");
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("remove filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

async fn assert_unavailable(response: reqwest::Response) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((status.as_u16(), &body["error"]), (503, &json!("unavailable")), "{body}");
}

async fn admin(server: &TestServer, path: &str) -> reqwest::Response {
    server.post_bearer(path, ADMIN_KEY).await
}

/// Every write the API makes, at once: each must answer 503.
async fn every_write_fails(server: &TestServer, access: &str, refresh: &str, other: &str) {
    let newcomer = json!({"username": "newcomer", "password": PASSWORD});
    let alice = json!({"username": "alice", "password": PASSWORD});
    let (register, login, rotate, logout, logout_all, revoke, disable) = tokio::join!(
        server.post("/auth/register", newcomer),
        server.post("/auth/login", alice),
        server.post_bearer("/auth/refresh", refresh),
        server.post_bearer("/auth/logout", access),
        server.post_bearer("/auth/logout-all", other),
        admin(server, "/admin/users/bobby/revoke"),
        admin(server, "/admin/users/bobby/disable"),
    );
    for response in [register, login, rotate, logout, logout_all, revoke, disable] {
        assert_unavailable(response).await;
    }
}

/// What needs no write keeps working: handshakes in every mode that reads
/// only the mirror, tickets (kept in memory), in-band refresh, and the
/// socket already open.
async fn reads_keep_working(server: &TestServer, access: &str, open: &mut Ws) {
    send_json(open, json!({"type": "echo", "data": 1})).await;
    assert_eq!(next_json(open).await["data"], 1);
    server.ws_welcome(access).await;
    let ticket = server.ticket(access).await;
    let (mut by_ticket, _) = server.ws(&format!("/ws?ticket={ticket}"), &[]).await.expect("101");
    assert_eq!(next_json(&mut by_ticket).await["type"], "welcome");
    let (mut deferred, _) = server.ws("/ws/deferred", &[]).await.expect("101");
    send_json(&mut deferred, json!({"type": "auth", "token": access})).await;
    assert_eq!(next_json(&mut deferred).await["type"], "welcome");
    let (mut refreshing, _) = server.ws_welcome(&server.forge(|_| {})).await;
    send_json(&mut refreshing, json!({"type": "refresh", "token": server.forge(|_| {})})).await;
    assert_eq!(next_json(&mut refreshing).await["type"], "refreshed");
}

/// Longer than any bound below, by a margin for a loaded machine (a read
/// of the log waits up to the pool's 5 s acquire timeout).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// A database that cannot be read: the revocation log cannot be followed,
/// so within a second new handshakes are refused (503 `unavailable`, the
/// node cannot know what another process revoked meanwhile); the socket
/// already open stays open.
async fn handshakes_fail_closed(server: &TestServer, access: &str, open: &mut Ws) {
    let cut = std::time::Instant::now();
    let refused = loop {
        match server.ws(&format!("/ws?token={access}"), &[]).await {
            Ok(_) => assert!(cut.elapsed() < PATIENCE, "still serving handshakes"),
            Err(refused) => break refused,
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    refused.assert(503, "unavailable");
    send_json(open, json!({"type": "echo", "data": 2})).await;
    assert_eq!(next_json(open).await["data"], 2);
}

/// Once the database is back: the logout that failed works now and closes
/// the socket; every write works again.
async fn service_resumes(server: &TestServer, access: &str, refresh: &str, open: &mut Ws) {
    assert_eq!(server.post_bearer("/auth/logout", access).await.status(), 200);
    assert_eq!(next_close(open).await.0, 4003);
    rejected(server.ws(&format!("/ws?token={access}"), &[]).await)
        .await
        .assert_401("token_revoked");
    assert_eq!(server.post_bearer("/auth/refresh", refresh).await.status(), 401);
    server.register("newcomer").await;
    let (other, _) = server.login("bobby").await;
    assert_eq!(server.post_bearer("/auth/logout-all", &other).await.status(), 200);
    assert_eq!(admin(server, "/admin/users/bobby/disable").await.status(), 200);
}

#[tokio::test]
async fn a_locked_database_fails_writes_with_503_and_half_revokes_nothing() {
    let server = TestServer::start_config(with_admin).await;
    let (access, refresh) = server.login("alice").await;
    let (other, _) = server.login("bobby").await;
    let (mut open, _) = server.ws_welcome(&access).await;

    let lock = WriteLock::take(&server.data_dir).await;
    every_write_fails(&server, &access, &refresh, &other).await;
    reads_keep_working(&server, &access, &mut open).await;
    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503, "a locked database is not ready");
    lock.release().await;

    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    service_resumes(&server, &access, &refresh, &mut open).await;
}

#[tokio::test]
async fn a_full_database_fails_writes_with_503_and_keeps_serving_handshakes() {
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let mut config = config(disk.path().join("data"));
    with_admin(&mut config);
    let server = TestServer::start_with(config, None, wsauth::ManualClock::starting_now()).await;
    let (access, refresh) = server.login("alice").await;
    let (other, _) = server.login("bobby").await;
    let (mut open, _) = server.ws_welcome(&access).await;

    disk.fill(&server.data_dir).await;
    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503, "a database on a full disk is not ready");
    every_write_fails(&server, &access, &refresh, &other).await;
    reads_keep_working(&server, &access, &mut open).await;
    disk.free();
    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200, "ready again once the disk has room");

    service_resumes(&server, &access, &refresh, &mut open).await;
}

#[tokio::test]
async fn a_postgres_that_stops_answering_fails_writes_with_503_and_service_resumes() {
    let database = TestDatabase::postgres().await;
    let server = TestServer::start_on(&database, with_admin).await;
    let (access, refresh) = server.login("alice").await;
    let (other, _) = server.login("bobby").await;
    let (mut open, _) = server.ws_welcome(&access).await;

    database.refuse_connections().await;
    every_write_fails(&server, &access, &refresh, &other).await;
    handshakes_fail_closed(&server, &access, &mut open).await;
    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503, "a database that does not answer is not ready");
    database.accept_connections().await;
    let back = std::time::Instant::now();
    while server.ws(&format!("/ws?token={access}"), &[]).await.is_err() {
        assert!(back.elapsed() < PATIENCE, "not serving handshakes again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let ready = server.http.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200, "ready again once the database answers");
    service_resumes(&server, &access, &refresh, &mut open).await;
}

/// Writers waiting out a lock hold every pooled connection for the busy
/// timeout; the revocation log is still read (on a connection of its own),
/// so handshakes keep working meanwhile instead of failing as stale.
#[tokio::test]
async fn writers_waiting_out_a_lock_do_not_keep_the_revocation_log_unread() {
    let server = TestServer::start_config(with_admin).await;
    let (access, _) = server.login("alice").await;
    let others: Vec<String> = {
        let mut tokens = Vec::new();
        for name in ["bobby", "carla", "danny", "erica", "frank", "gwen"] {
            tokens.push(server.login(name).await.0);
        }
        tokens
    };
    let lock = WriteLock::take(&server.data_dir).await;
    let writes: Vec<_> = others
        .iter()
        .map(|token| {
            let (http, url, token) =
                (server.http.clone(), server.url("/auth/logout-all"), token.clone());
            tokio::spawn(async move { http.post(url).bearer_auth(token).send().await })
        })
        .collect();
    // Past the staleness bound, with every pooled connection waiting.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.ws_welcome(&access).await;
    for write in writes {
        let answer = write.await.expect("task").expect("response");
        assert_unavailable(answer).await;
    }
    lock.release().await;
}
