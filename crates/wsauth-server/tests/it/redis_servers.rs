//! Redis for cluster tests: the shared server (`WSAUTH_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379`, started by `./test.sh services`) under
//! a key prefix of the test's own, so tests run in parallel.

use wsauth_server::Config;

/// One test's place in a Redis: its URL and a fresh key prefix.
#[derive(Clone)]
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// The shared Redis, under a fresh prefix.
    pub fn shared() -> Self {
        let url = std::env::var("WSAUTH_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Self::at(url)
    }

    /// The Redis at `url`, under a fresh prefix.
    pub fn at(url: String) -> Self {
        Self { url, prefix: format!("wsauth-it-{}:", uuid::Uuid::new_v4().simple()) }
    }

    /// Makes `config` a node of this cluster.
    pub fn join(&self, config: &mut Config) {
        config.redis_url = Some(self.url.clone());
        config.redis_prefix = self.prefix.clone();
    }
}

/// A `redis-server` of the test's own on a free port, for tests that stop
/// and restart it. Stopped when dropped.
pub struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut redis = Self { port, child: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again (empty: nothing is saved) on the same port.
    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
