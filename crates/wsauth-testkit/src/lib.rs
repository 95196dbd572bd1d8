//! Test helpers shared by the wsauth crates' tests (a dev-dependency only,
//! never published):
//! - [`claims`]: access-token claims written out by hand, for tests of
//!   stores and registries that need claims without issuing a token;
//! - [`OwnRedis`]: a `redis-server` of the test's own on a free port, for
//!   tests that stop and restart it.

mod claims;
mod redis_server;

pub use claims::claims;
pub use redis_server::OwnRedis;

use wsauth::{Claims, TokenKind};
