//! Users on PostgreSQL. The unique index on `lower(username)` makes names
//! unique without regard to case: of two concurrent registrations differing
//! only by case, the second waits for the first and then inserts nothing.

use async_trait::async_trait;

use super::PostgresStore;
use crate::store::UserInfo;
use crate::store::{
    AccountStore, Credentials, Generation, Insertion, NewAccount, PageQuery, StoreResult,
    like_prefix,
};

#[async_trait]
impl AccountStore for PostgresStore {
    async fn insert(&self, account: NewAccount<'_>) -> StoreResult<Insertion> {
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, created_at, generation)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(account.username)
        .bind(account.password_hash)
        .bind(account.created_at)
        .bind(Generation::fresh())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 0 => Ok(Insertion::Taken),
            Ok(_) => Ok(Insertion::Inserted),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Insertion::Taken),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_exact(&self, username: &str) -> StoreResult<Option<Credentials>> {
        Ok(sqlx::query_as(
            "SELECT username, password_hash, disabled, generation FROM users
             WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn find_folded(&self, username: &str) -> StoreResult<Vec<Credentials>> {
        Ok(sqlx::query_as(
            "SELECT username, password_hash, disabled, generation FROM users
             WHERE lower(username) = lower($1) LIMIT 2",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn case_duplicates(&self) -> StoreResult<Vec<String>> {
        // Always empty while the unique index holds; asked for all the same,
        // so the warning at start means the same on both databases.
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
        // ILIKE: SQLite's LIKE ignores ASCII letter case too.
        Ok(sqlx::query_as(
            "SELECT username, created_at, disabled FROM users
             WHERE username ILIKE $1 ESCAPE '\\' AND username > $2
             ORDER BY username LIMIT $3",
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
             WHERE username = $1 OR lower(username) = lower($1)
             ORDER BY username = $1 DESC LIMIT 2",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }
}
