//! Every Redis call bounded by [`CALL_TIMEOUT`](super::CALL_TIMEOUT): a
//! Redis that stops answering fails the call (and the request fails
//! closed) instead of holding it.

use async_trait::async_trait;
use std::future::Future;
use wsauth::cluster::{Admission, AttemptLimiter};
use wsauth::{
    Claims, ClientKey, StoreError, StoredTicket, TicketAdmission, TicketDigest, TicketStore,
};

use super::CALL_TIMEOUT;

/// Runs `call`, failing it after [`CALL_TIMEOUT`](super::CALL_TIMEOUT).
pub(crate) async fn bounded<T>(
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(StoreError("redis: no answer within 1 s".into())))
}

/// A store whose every call is [`bounded`].
#[derive(Debug)]
pub(crate) struct Bounded<S>(pub S);

#[async_trait]
impl<S: TicketStore> TicketStore for Bounded<S> {
    async fn insert(
        &self,
        digest: TicketDigest,
        claims: Claims,
        expires_at: i64,
        max_per_subject: usize,
    ) -> Result<TicketAdmission, StoreError> {
        bounded(self.0.insert(digest, claims, expires_at, max_per_subject)).await
    }

    async fn take(&self, digest: &TicketDigest) -> Result<Option<StoredTicket>, StoreError> {
        bounded(self.0.take(digest)).await
    }
}

#[async_trait]
impl<S: AttemptLimiter> AttemptLimiter for Bounded<S> {
    async fn admit(&self, client: &ClientKey) -> Result<Admission, StoreError> {
        bounded(self.0.admit(client)).await
    }
}
