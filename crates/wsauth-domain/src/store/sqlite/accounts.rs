//! Users on SQLite. Usernames compare case-insensitively through
//! `lower(username)` (ASCII, which is all a username may hold).

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::UserInfo;
use crate::store::{
    AccountStore, Credentials, Generation, Insertion, NewAccount, PageQuery, StoreResult,
    like_prefix,
};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert(&self, account: NewAccount<'_>) -> StoreResult<Insertion> {
        // One statement: SQLite runs it atomically, so two registrations
        // differing only by case cannot both pass the check.
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, created_at, generation)
             SELECT ?1, ?2, ?3, ?4
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(?1))
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(account.username)
        .bind(account.password_hash)
        .bind(account.created_at)
        .bind(Generation::fresh())
        .execute(&self.pool)
        .await?;
        Ok(if inserted.rows_affected() == 0 { Insertion::Taken } else { Insertion::Inserted })
    }

    async fn find_exact(&self, username: &str) -> StoreResult<Option<Credentials>> {
        Ok(sqlx::query_as(
            "SELECT username, password_hash, disabled, generation FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn find_folded(&self, username: &str) -> StoreResult<Vec<Credentials>> {
        Ok(sqlx::query_as(
            "SELECT username, password_hash, disabled, generation FROM users
             WHERE lower(username) = lower(?) LIMIT 2",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn case_duplicates(&self) -> StoreResult<Vec<String>> {
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT username FROM users WHERE lower(username) IN
               (SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1)
             ORDER BY lower(username), username",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(names.into_iter().map(|(n,)| n).collect())
    }

    async fn page(&self, query: PageQuery<'_>) -> StoreResult<Vec<UserInfo>> {
        // SQLite's LIKE ignores ASCII letter case.
        Ok(sqlx::query_as(
            "SELECT username, created_at, disabled FROM users
             WHERE username LIKE ? ESCAPE '\\' AND username > ?
             ORDER BY username LIMIT ?",
        )
        .bind(like_prefix(query.prefix))
        .bind(query.after)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn lookup(&self, username: &str) -> StoreResult<Vec<UserInfo>> {
        Ok(sqlx::query_as(
            "SELECT username, created_at, disabled FROM users
             WHERE username = ?1 OR lower(username) = lower(?1)
             ORDER BY username = ?1 DESC LIMIT 2",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }
}
