//! The channel hub's stored profiles ([`wsauth::channels::Profiles`]):
//! a local account's roles and grants, read from the database. A trusted
//! issuer's subject (its key holds `#`, which no username may) and a
//! subject with no account have none; a database that does not answer
//! makes the hub refuse what the profile would have granted.

use async_trait::async_trait;
use std::sync::Arc;
use wsauth::channels::{Profile, Profiles, Unavailable};

use crate::rights::stored_grant;
use crate::store::RightsStore;

/// Profiles read from the database.
#[derive(Clone)]
pub struct StoredProfiles {
    store: Arc<dyn RightsStore>,
}

impl StoredProfiles {
    /// Profiles from `store`.
    pub fn new(store: Arc<dyn RightsStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Profiles for StoredProfiles {
    async fn profile(&self, sub: &str) -> Result<Profile, Unavailable> {
        if sub.contains('#') {
            return Ok(Profile::default());
        }
        let failed = |e: crate::store::DatabaseError| {
            tracing::error!(error = %e, "cannot read a subject's channel rights");
            Unavailable
        };
        let roles = self.store.roles(sub).await.map_err(failed)?;
        let grants = self.store.grants(sub).await.map_err(failed)?;
        let (Some(roles), Some(grants)) = (roles, grants) else {
            return Ok(Profile::default());
        };
        let grants = grants.into_iter().filter_map(stored_grant).map(|g| g.grant).collect();
        Ok(Profile { roles, grants })
    }
}
