//! Accounts: validated usernames and Argon2id password hashes, computed off
//! the async threads and bounded in concurrency. Logging in as an unknown
//! user verifies against a dummy hash, so timing does not reveal who exists.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use sqlx::SqlitePool;
use std::sync::Arc;
use tokio::sync::{OnceCell, Semaphore};

use crate::error::ApiError;

/// Usernames: 3 to 64 characters of `A-Z a-z 0-9 _ . -`.
pub fn validate_username(name: &str) -> Result<(), ApiError> {
    let ok = (3..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok { Ok(()) } else { Err(ApiError::InvalidUsername) }
}

/// Passwords: 8 to 1024 bytes.
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if (8..=1024).contains(&password.len()) { Ok(()) } else { Err(ApiError::WeakPassword) }
}

/// The account store.
#[derive(Clone)]
pub struct Accounts {
    pool: SqlitePool,
    hashing: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl Accounts {
    /// Accounts in this database. At most `parallel` hashes run at once
    /// (each takes about 19 MiB of memory).
    pub fn new(pool: SqlitePool, parallel: usize) -> Self {
        Self { pool, hashing: Arc::new(Semaphore::new(parallel.max(1))), dummy: Arc::default() }
    }

    /// Creates an account; `username_taken` if it exists.
    pub async fn create(&self, username: &str, password: &str, now: i64) -> Result<(), ApiError> {
        validate_username(username)?;
        validate_password(password)?;
        let hash = self.hash(password.to_owned()).await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ApiError::UsernameTaken);
        }
        Ok(())
    }

    /// Whether `password` is right for `username`. Unknown users and
    /// malformed input cost the same as a wrong password.
    pub async fn verify(&self, username: &str, password: &str) -> Result<bool, ApiError> {
        let stored: Option<(String,)> = if validate_username(username).is_ok() {
            sqlx::query_as("SELECT password_hash FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?
        } else {
            None
        };
        let password = if password.len() > 1024 { String::new() } else { password.to_owned() };
        let (hash, known) = match stored {
            Some((hash,)) => (hash, true),
            None => (self.dummy_hash().await?, false),
        };
        let _permit = self.hashing.acquire().await.map_err(|_| ApiError::Unavailable)?;
        let ok = tokio::task::spawn_blocking(move || {
            hash.parse::<PasswordHash>()
                .map(|parsed| {
                    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
        Ok(ok && known)
    }

    async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self.hashing.acquire().await.map_err(|_| ApiError::Unavailable)?;
        tokio::task::spawn_blocking(move || {
            Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string())
        })
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(|_| ApiError::Unavailable)
    }

    async fn dummy_hash(&self) -> Result<String, ApiError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                self.hash(random).await
            })
            .await
            .cloned()
    }
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
