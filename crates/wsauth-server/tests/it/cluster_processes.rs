//! Cluster nodes as real processes on one PostgreSQL database and one Redis
//! prefix: a node killed with SIGKILL loses no revocation (the other nodes
//! refuse at once, the node itself once restarted), and three nodes behind
//! nginx, running `deploy/nginx/cluster.conf` with only its ports replaced,
//! serve one user wherever each request lands.

use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::binary::{Running, exited_within, signal, terminate};
use crate::operations::sample;
use crate::redis_servers::TestRedis;
use crate::restarts::{self, Client};
use crate::support::*;

/// What makes a `wsauth serve` process a node of this cluster, plus `extra`.
fn node(dir: &Path, database: &TestDatabase, redis: &TestRedis, extra: &[(&str, &str)]) -> Running {
    let mut env = vec![
        ("WSAUTH_DATABASE_URL", database.url.as_str()),
        ("WSAUTH_REDIS_URL", redis.url.as_str()),
        ("WSAUTH_REDIS_PREFIX", redis.prefix.as_str()),
    ];
    env.extend_from_slice(extra);
    restarts::start(dir, &env)
}

#[tokio::test]
async fn a_node_killed_with_sigkill_loses_no_revocation() {
    let (database, redis) = (TestDatabase::postgres().await, TestRedis::shared());
    let dir = tempfile::tempdir().expect("dir");
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = node(&a_data, &database, &redis, &[]);
    let mut b = node(&b_data, &database, &redis, &[]);

    let ledger = restarts::revoke_one_of_each(&Client::new(&a)).await;
    signal(&a.child, "KILL");
    assert!(exited_within(&mut a.child, Duration::from_secs(10)).await.is_some());
    let other = Client::new(&b);
    for token in &ledger.refused_access {
        assert_eq!(other.handshake(token).await, (401, "token_revoked".to_owned()));
    }

    let mut restarted = node(&a_data, &database, &redis, &[]);
    restarts::check(&Client::new(&restarted), &ledger).await;
    terminate(&mut restarted.child);
    terminate(&mut b.child);
}

/// nginx running the repository's cluster configuration, with its listen
/// port and the three node addresses replaced. Stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(nodes: &[&Running; 3]) -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nginx/cluster.conf");
        let mut conf = std::fs::read_to_string(path).expect("deploy/nginx/cluster.conf");
        let port = free_port();
        conf = replaced(&conf, "listen 127.0.0.1:8080;", &format!("listen 127.0.0.1:{port};"));
        for (placeholder, running) in ["8001", "8002", "8003"].iter().zip(nodes) {
            let address = running.url.trim_start_matches("http://");
            conf = replaced(
                &conf,
                &format!("server 127.0.0.1:{placeholder} "),
                &format!("server {address} "),
            );
        }
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("tmp")).expect("tmp");
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, conf).expect("write nginx.conf");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&file)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nginx must be installed for this test (./test.sh services installs it)");
        let mut nginx = Self { child, port, dir };
        nginx.wait_until_listening();
        nginx
    }

    fn wait_until_listening(&mut self) {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("stderr.log"));
                panic!("nginx exited at start ({status}): {}", log.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen on {} within 10 s", self.port);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers (a SIGKILLed master would
    /// leave them running); SIGKILL after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replaced(conf: &str, from: &str, to: &str) -> String {
    assert!(conf.contains(from), "deploy/nginx/cluster.conf no longer has {from:?}");
    conf.replace(from, to)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}

fn nginx_binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or("nginx")
}

/// A client of the front address from its own loopback address.
fn client_from(nginx: &Nginx, last_octet: u8) -> Client {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet));
    let http = reqwest::Client::builder().no_proxy().local_address(source).build().expect("client");
    Client { http, url: nginx.url() }
}

async fn live_sockets(node: &Running) -> f64 {
    let r = reqwest::get(format!("{}/metrics", node.url)).await.expect("metrics");
    let text = r.text().await.expect("text");
    sample(&text, "wsauth_live_sockets", &[]).unwrap_or_else(|| panic!("no gauge in {text}"))
}

#[tokio::test]
async fn three_processes_behind_nginx_serve_one_user_wherever_requests_land() {
    let (database, redis) = (TestDatabase::postgres().await, TestRedis::shared());
    let dir = tempfile::tempdir().expect("dir");
    let limits = [
        ("WSAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("WSAUTH_LIMITS_PASSWORD_RATE", "0.01"),
        ("WSAUTH_LIMITS_PASSWORD_BURST", "6"),
    ];
    let nodes: Vec<Running> = ["a", "b", "c"]
        .iter()
        .map(|name| node(&dir.path().join(name), &database, &redis, &limits))
        .collect();
    let nginx = Nginx::start(&[&nodes[0], &nodes[1], &nodes[2]]);
    let front = client_from(&nginx, 2);

    // Register and log in (two password attempts), then six sockets: round
    // robin puts some on every node.
    let (access, _) = front.login("nora").await;
    let mut sockets = Vec::new();
    for _ in 0..6 {
        let (mut ws, _) = connect(&nginx.ws_url(&format!("/ws?token={access}")), &[])
            .await
            .expect("101 through nginx");
        assert_eq!(next_json(&mut ws).await["type"], "welcome");
        sockets.push(ws);
    }
    for running in &nodes {
        assert!(live_sockets(running).await >= 1.0, "every node holds one of the sockets");
    }

    // A ticket issued through the front address opens one socket, once.
    let r = front.post_bearer("/auth/ws-ticket", &access).await;
    assert_eq!(r.status(), 200);
    let ticket = str_of(&r.json().await.expect("json"), "ticket");
    let url = nginx.ws_url(&format!("/ws?ticket={ticket}"));
    let (mut by_ticket, _) = connect(&url, &[]).await.expect("the ticket opens a socket");
    assert_eq!(next_json(&mut by_ticket).await["type"], "welcome");
    let again = connect(&url, &[]).await.expect_err("a ticket is redeemed once");
    again.assert_401("invalid_ticket");

    // One logout, wherever it lands, closes the token's sockets on every node.
    assert_eq!(front.post_bearer("/auth/logout", &access).await.status(), 200);
    for ws in sockets.iter_mut().chain([&mut by_ticket]) {
        assert_eq!(next_close(ws).await.0, 4003);
    }

    // The nodes count password attempts by the client's address, not
    // nginx's, and a client's own X-Forwarded-For buys it nothing: four
    // more attempts spend the burst of six, the next is refused.
    let wrong = json!({"username": "nora", "password": "not the password"});
    for i in 0..5 {
        let r = front
            .http
            .post(format!("{}/auth/login", front.url))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&wrong)
            .send()
            .await
            .expect("login");
        let expected = if i < 4 { 401 } else { 429 };
        assert_eq!(r.status(), expected, "attempt {i} from 127.0.0.2 with a forged chain");
    }
    let neighbour = client_from(&nginx, 3);
    assert_eq!(neighbour.post("/auth/login", wrong).await.status(), 401, "another client's budget");
    for mut running in nodes {
        terminate(&mut running.child);
    }
}
