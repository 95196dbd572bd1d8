//! Redis for cluster tests: the shared server (`WSAUTH_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379`, started by `./test.sh services`) under
//! a key prefix of the test's own, so tests run in parallel; and a
//! `redis-server` of a test's own (wsauth-testkit's `OwnRedis`).

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

/// A `redis-server` of the test's own, for tests that stop and restart it.
pub use wsauth_testkit::OwnRedis;
