//! Accounts: validated usernames and Argon2id password hashes, computed off
//! the async threads and bounded in concurrency. Logging in as an unknown
//! user verifies against a dummy hash, so timing does not reveal who exists.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::sync::Arc;
use tokio::sync::{OnceCell, Semaphore};

use crate::error::DomainError;
use crate::store::{AccountStore, Credentials, Generation, Insertion, NewAccount};

/// Usernames: 3 to 64 characters of `A-Z a-z 0-9 _ . -`.
pub fn validate_username(name: &str) -> Result<(), DomainError> {
    let ok = (3..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok { Ok(()) } else { Err(DomainError::InvalidUsername) }
}

/// Passwords: 8 to 1024 bytes.
pub fn validate_password(password: &str) -> Result<(), DomainError> {
    if (8..=1024).contains(&password.len()) { Ok(()) } else { Err(DomainError::WeakPassword) }
}

/// How much password hashing may run and wait at once.
#[derive(Debug, Clone, Copy)]
pub struct HashingLimits {
    /// Hashes computed at once (each Argon2id hash takes about 19 MiB).
    pub parallel: usize,
    /// Password checks running or waiting for a slot; past it the check is
    /// refused at once with `overloaded`, so a flood of logins cannot queue
    /// without bound.
    pub queue: usize,
}

impl HashingLimits {
    /// The server's: two hashes at once, `queue` in all.
    pub fn server(queue: usize) -> Self {
        Self { parallel: 2, queue }
    }

    /// One hash at a time, for the command line.
    pub fn single() -> Self {
        Self { parallel: 1, queue: 1 }
    }
}

/// An account whose password a login has just checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccount {
    /// Its username as registered (the tokens' `sub`).
    pub username: String,
    /// Its generation when the hash was read.
    pub generation: Generation,
}

/// Accounts: rules and hashing over an [`AccountStore`].
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    hashing: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl Accounts {
    /// Accounts in this store, hashing within `limits`.
    pub fn new(store: Arc<dyn AccountStore>, limits: HashingLimits) -> Self {
        Self {
            store,
            hashing: Arc::new(Semaphore::new(limits.parallel.max(1))),
            queue: Arc::new(Semaphore::new(limits.queue.max(1))),
            dummy: Arc::default(),
        }
    }

    /// Creates an account; `username_taken` if it exists in any letter case.
    /// The spelling given here is kept as the account's `sub`.
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        now: i64,
    ) -> Result<(), DomainError> {
        validate_username(username)?;
        validate_password(password)?;
        let _queued =
            self.queue.clone().try_acquire_owned().map_err(|_| DomainError::Overloaded)?;
        let hash = self.hash(password.to_owned()).await?;
        let account = NewAccount { username, password_hash: &hash, created_at: now };
        match self.store.insert(account).await? {
            Insertion::Inserted => Ok(()),
            Insertion::Taken => Err(DomainError::UsernameTaken),
        }
    }

    /// The account `password` is right for, `username` in any letter case:
    /// its username as registered and the generation read with its hash
    /// (a login stores its family only while the account keeps it). Unknown
    /// users and malformed input cost the same as a wrong password.
    pub async fn verify(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<VerifiedAccount>, DomainError> {
        let _queued =
            self.queue.clone().try_acquire_owned().map_err(|_| DomainError::Overloaded)?;
        let _permit = self.hashing.acquire().await.map_err(|_| DomainError::Unavailable)?;
        // Read once this check may hash, not before its wait for a slot: an
        // operator change made while it waited is then already seen.
        let stored =
            if validate_username(username).is_ok() { self.find(username).await? } else { None };
        let password = if password.len() > 1024 { String::new() } else { password.to_owned() };
        let (hash, known, disabled) = match stored {
            Some(Credentials { username, password_hash, disabled, generation }) => {
                (password_hash, Some(VerifiedAccount { username, generation }), disabled)
            }
            None => (self.dummy_hash().await?, None, false),
        };
        let ok = tokio::task::spawn_blocking(move || {
            hash.parse::<PasswordHash>()
                .map(|parsed| {
                    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|_| DomainError::Unavailable)?;
        let known = known.filter(|_| ok);
        if known.is_some() && disabled {
            return Err(DomainError::AccountDisabled);
        }
        Ok(known)
    }

    /// Validates and hashes a new password (for a password change).
    pub async fn hash_new_password(&self, password: &str) -> Result<String, DomainError> {
        validate_password(password)?;
        let _queued =
            self.queue.clone().try_acquire_owned().map_err(|_| DomainError::Overloaded)?;
        self.hash(password.to_owned()).await
    }

    /// The stored spelling and hash of `username`: the exact spelling first,
    /// then any letter case. Accounts that differ only by case (from before
    /// usernames were unique without regard to case) match by exact spelling only.
    async fn find(&self, username: &str) -> Result<Option<Credentials>, DomainError> {
        let exact = self.store.find_exact(username).await?;
        if exact.is_some() {
            return Ok(exact);
        }
        let folded = self.store.find_folded(username).await?;
        Ok(match <[_; 1]>::try_from(folded) {
            Ok([one]) => Some(one),
            Err(_) => None,
        })
    }

    /// Usernames that differ from another account's only by letter case.
    pub async fn case_duplicates(&self) -> Result<Vec<String>, DomainError> {
        Ok(self.store.case_duplicates().await?)
    }

    async fn hash(&self, password: String) -> Result<String, DomainError> {
        let _permit = self.hashing.acquire().await.map_err(|_| DomainError::Unavailable)?;
        hash_holding_a_slot(password).await
    }

    /// The hash unknown users are verified against, made once (by the first
    /// check that needs it, in the hashing slot that check holds).
    async fn dummy_hash(&self) -> Result<String, DomainError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                hash_holding_a_slot(random).await
            })
            .await
            .cloned()
    }
}

/// Hashes a password; the caller holds a hashing slot.
async fn hash_holding_a_slot(password: String) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string())
    })
    .await
    .map_err(|_| DomainError::Unavailable)?
    .map_err(|_| DomainError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("a.b-c_9").is_ok());
        for bad in ["", "ab", "a b", "ali/ce", "ålice", &"a".repeat(65), "x\0y"] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
    }
}
