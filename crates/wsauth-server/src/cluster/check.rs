//! Revocation checks in a cluster: this node's mirror (what it revoked, and
//! what it loaded or learned from the database) OR the shared Redis (what
//! any node revoked), in one round trip per check (shared with the checks
//! waiting at the same moment, `wsauth_redis`'s batching). A revocation
//! that returned success on any node is in Redis before that success is
//! sent (`propagate.rs`), so every later check on every node sees it. A
//! Redis that fails or does not answer within 1 s fails the check, and the
//! handshake or request is refused (503): a node that cannot see Redis
//! cannot know what the others revoked. Nor can one whose bus was away
//! and has not caught up from the database since (`catch_up.rs`).

use async_trait::async_trait;
use std::sync::Arc;
use wsauth::{Claims, RevocationStore, StoreError};
use wsauth_redis::RedisRevocationStore;

use super::bounded;
use super::catch_up::CatchUp;
use wsauth_domain::mirror::StoredRevocations;

/// The mirror, then Redis.
pub(crate) struct ClusterRevocations {
    mirror: Arc<StoredRevocations>,
    shared: RedisRevocationStore,
    catch_up: Arc<CatchUp>,
}

impl ClusterRevocations {
    /// Checks `mirror` and `shared` (whose marks must spare tokens with a
    /// session, as the mirror's do); fails while `catch_up` is not current.
    pub(super) fn new(
        mirror: Arc<StoredRevocations>,
        shared: RedisRevocationStore,
        catch_up: Arc<CatchUp>,
    ) -> Self {
        Self { mirror, shared, catch_up }
    }
}

#[async_trait]
impl RevocationStore for ClusterRevocations {
    async fn revoke_token(&self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.mirror.revoke_token(jti, exp).await?;
        bounded(self.shared.revoke_token(jti, exp)).await
    }

    async fn revoke_subject_before(&self, sub: &str, before: i64) -> Result<(), StoreError> {
        self.mirror.revoke_subject_before(sub, before).await?;
        bounded(self.shared.revoke_subject_before(sub, before)).await
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool, StoreError> {
        if self.mirror.is_revoked(claims).await? {
            return Ok(true);
        }
        if !self.catch_up.is_current() {
            return Err(StoreError(
                "not subscribed to the revocation bus, or not caught up since; refusing".into(),
            ));
        }
        bounded(self.shared.is_revoked(claims)).await
    }
}
