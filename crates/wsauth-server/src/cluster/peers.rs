//! Telling the other nodes of a cluster what this one revoked: the facts go
//! to Redis (revoked `jti`s until their `exp`, revoked sessions until their
//! family's expiry, subject marks, blocked accounts), where every node's
//! handshake checks them; the events go on the revocation bus, which closes
//! the live sockets other nodes hold.

use async_trait::async_trait;
use wsauth::cluster::RevocationBus;
use wsauth::{RevocationEvent, RevocationStore, StoreError};
use wsauth_redis::{RedisBus, RedisRevocationStore};

use super::bounded;
use std::future::Future;
use wsauth_domain::propagate::{Committed, Peers};

/// The other nodes, through Redis.
pub(crate) struct RedisPeers {
    shared: RedisRevocationStore,
    bus: RedisBus,
}

impl RedisPeers {
    /// Facts to `shared`, events on `bus`.
    pub(crate) fn new(shared: RedisRevocationStore, bus: RedisBus) -> Self {
        Self { shared, bus }
    }

    async fn store(&self, change: &Committed) -> Result<(), StoreError> {
        let shared = &self.shared;
        match change {
            Committed::Tokens(tokens) => {
                for token in tokens {
                    twice(|| shared.revoke_token(&token.jti, token.exp)).await?;
                }
            }
            Committed::Family { revoked, .. } => {
                let family = &revoked.family;
                twice(|| shared.revoke_session(&family.id, family.expires_at)).await?;
                for token in &revoked.legacy_tokens {
                    twice(|| shared.revoke_token(&token.jti, token.exp)).await?;
                }
            }
            Committed::Subject { sub, families, before } => {
                for family in families {
                    twice(|| shared.revoke_session(&family.id, family.expires_at)).await?;
                }
                twice(|| shared.revoke_subject_before(sub, *before)).await?;
            }
            Committed::Account { sub, disabled: true } => {
                twice(|| shared.block_subject(sub)).await?;
            }
            Committed::Account { sub, disabled: false } => {
                twice(|| shared.unblock_subject(sub)).await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Peers for RedisPeers {
    async fn share(
        &self,
        change: &Committed,
        events: &[RevocationEvent],
    ) -> Result<(), StoreError> {
        // Stored first: a node that misses the event still refuses the
        // token at its next check.
        self.store(change).await?;
        for event in events {
            twice(|| self.bus.publish(event)).await?;
        }
        Ok(())
    }
}

/// A connection learns that Redis came back only by failing once; it
/// reconnects then, so a call that failed is made once more (each attempt
/// bounded to 1 s).
async fn twice<F, Fut>(call: F) -> Result<(), StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    match bounded(call()).await {
        Ok(()) => Ok(()),
        Err(_) => bounded(call()).await,
    }
}
