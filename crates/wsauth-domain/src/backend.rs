//! Readiness of a backend the server depends on. Each backend implements
//! [`Backend`] beside the rest of its code: the database (`sqlite`: takes
//! the write lock and lets it go; `postgres`: `SELECT 1`) in `store/`, Redis
//! in the server's cluster wiring. Callers never branch on which ones exist.

use async_trait::async_trait;

/// A store the server depends on.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The name used in `/readyz` and in `wsauth_backend_up{backend}`.
    fn name(&self) -> &'static str;
    /// Answers when the backend is usable; the error says why not.
    async fn ping(&self) -> Result<(), String>;
}
