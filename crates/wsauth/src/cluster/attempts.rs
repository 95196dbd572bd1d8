//! Limits on attempts that must hold across every node of a cluster (for
//! example password logins per client address): one node's budget must not
//! multiply with the node count. [`AddressLimiter`] is the one-process
//! implementation; backend crates (for example `wsauth-redis`) share one
//! budget between nodes.

use async_trait::async_trait;

use crate::accept::AddressLimiter;
use crate::{ClientKey, StoreError};

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// Go ahead.
    Admitted,
    /// Refused: the budget is spent; retry after this many seconds.
    RetryAfter(u64),
}

/// A per-client budget of attempts.
#[async_trait]
pub trait AttemptLimiter: Send + Sync + std::fmt::Debug + 'static {
    /// Takes one attempt from `client`'s budget. An error means the budget
    /// could not be consulted; callers fail closed on it.
    async fn admit(&self, client: &ClientKey) -> Result<Admission, StoreError>;
}

#[async_trait]
impl AttemptLimiter for AddressLimiter {
    async fn admit(&self, client: &ClientKey) -> Result<Admission, StoreError> {
        Ok(match self.check(*client) {
            Ok(()) => Admission::Admitted,
            Err(wait) => Admission::RetryAfter(wait),
        })
    }
}
