//! Token families on SQLite. Rotation, reuse detection and revocation each
//! run in one `BEGIN IMMEDIATE` transaction: SQLite's single writer orders
//! them, and the row a rotation decides from cannot change until it commits.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::admin::record;
use crate::store::{
    Decide, Decision, EventKind, FamilyExpiry, FamilyInsertion, FamilyRow, FamilyStore, LogEntry,
    NewFamily, RevokedFamily, RevokedToken, StoreResult,
};

#[async_trait]
impl FamilyStore for SqliteStore {
    async fn insert(&self, family: NewFamily) -> StoreResult<FamilyInsertion> {
        // The write lock first: every operator change takes it too, so the
        // account read here is the one the change left, or the change comes
        // after this family exists and revokes it.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = sqlx::query_as("SELECT generation, disabled FROM users WHERE username = ?")
            .bind(&family.sub)
            .fetch_optional(&mut *tx)
            .await?;
        let verdict = FamilyInsertion::judge(now, &family.generation);
        if verdict != FamilyInsertion::Inserted {
            return Ok(verdict);
        }
        sqlx::query(
            "INSERT INTO families (id, sub, created_at, expires_at, current_refresh,
                                   bucket_tokens, bucket_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&family.id)
        .bind(&family.sub)
        .bind(family.created_at)
        .bind(family.expires_at)
        .bind(&family.current_refresh)
        .bind(family.bucket.tokens)
        .bind(family.bucket.at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(verdict)
    }

    async fn rotate(&self, family: &str, decide: Decide<'_>) -> StoreResult<Option<RevokedFamily>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row: Option<FamilyRow> = sqlx::query_as(
            "SELECT id, sub, revoked, current_refresh, previous_refresh, rotated_at_ms,
                    successor, bucket_tokens, bucket_at_ms
             FROM families WHERE id = ?",
        )
        .bind(family)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let revoked = match decide(&row) {
            Decision::Refuse => return Ok(None),
            Decision::Rotate(next) => {
                sqlx::query(
                    "UPDATE families SET current_refresh = ?, previous_refresh = ?,
                            rotated_at_ms = ?, successor = ?, expires_at = max(expires_at, ?),
                            bucket_tokens = ?, bucket_at_ms = ?
                     WHERE id = ?",
                )
                .bind(&next.current_refresh)
                .bind(&next.previous_refresh)
                .bind(next.rotated_at_ms)
                .bind(&next.successor)
                .bind(next.expires_at)
                .bind(next.bucket.tokens)
                .bind(next.bucket.at_ms)
                .bind(&row.id)
                .execute(&mut *tx)
                .await?;
                None
            }
            Decision::Retry(bucket) => {
                sqlx::query("UPDATE families SET bucket_tokens = ?, bucket_at_ms = ? WHERE id = ?")
                    .bind(bucket.tokens)
                    .bind(bucket.at_ms)
                    .bind(&row.id)
                    .execute(&mut *tx)
                    .await?;
                None
            }
            Decision::Revoke => {
                let (revoked, _) = revoke_family_rows(&mut tx, &row.id).await?;
                let entries = LogEntry::family(&row.sub, EventKind::Reuse, &revoked);
                record(&mut tx, &self.origin, &entries).await?;
                Some(revoked)
            }
        };
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revoke(&self, family: &str) -> StoreResult<RevokedFamily> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (revoked, sub) = revoke_family_rows(&mut tx, family).await?;
        if let Some(sub) = &sub {
            let entries = LogEntry::family(sub, EventKind::Logout, &revoked);
            record(&mut tx, &self.origin, &entries).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revoke_subject(&self, sub: &str, before: i64) -> StoreResult<Vec<FamilyExpiry>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let families = revoke_subject_rows(&mut tx, sub, before).await?;
        let entry = LogEntry::subject(sub, EventKind::LogoutAll.as_str());
        record(&mut tx, &self.origin, &[entry]).await?;
        tx.commit().await?;
        Ok(families)
    }

    async fn legacy_family(&self, jti: &str) -> StoreResult<Option<String>> {
        let legacy: Option<(String,)> =
            sqlx::query_as("SELECT family FROM legacy_tokens WHERE jti = ?")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
        Ok(legacy.map(|(family,)| family))
    }

    async fn purge(&self, now: i64) -> StoreResult<u64> {
        let families = sqlx::query("DELETE FROM families WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM legacy_tokens WHERE exp < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(families.rows_affected())
    }
}

/// Revokes every family of `sub` and marks the subject so that tokens
/// without a family issued before `before` are refused. Runs inside the
/// caller's transaction.
pub(super) async fn revoke_subject_rows(
    tx: &mut SqliteConnection,
    sub: &str,
    before: i64,
) -> StoreResult<Vec<FamilyExpiry>> {
    let families: Vec<FamilyExpiry> = sqlx::query_as(
        "UPDATE families SET revoked = 1, successor = NULL
         WHERE sub = ? AND revoked = 0 RETURNING id, expires_at",
    )
    .bind(sub)
    .fetch_all(&mut *tx)
    .await?;
    super::revoked::mark_subject(&mut *tx, sub, before).await?;
    Ok(families)
}

/// Revokes one family and its tokens from before families had rows, inside
/// the caller's transaction; also returns its subject (`None`: no such row).
async fn revoke_family_rows(
    tx: &mut SqliteConnection,
    family: &str,
) -> StoreResult<(RevokedFamily, Option<String>)> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "UPDATE families SET revoked = 1, successor = NULL WHERE id = ?
         RETURNING expires_at, sub",
    )
    .bind(family)
    .fetch_optional(&mut *tx)
    .await?;
    let legacy_tokens: Vec<RevokedToken> =
        sqlx::query_as("SELECT jti, exp FROM legacy_tokens WHERE family = ?")
            .bind(family)
            .fetch_all(&mut *tx)
            .await?;
    super::revoked::insert_tokens(&mut *tx, &legacy_tokens).await?;
    let (expires_at, sub) = row.map_or((0, None), |(expires_at, sub)| (expires_at, Some(sub)));
    let family = FamilyExpiry { id: family.to_owned(), expires_at };
    Ok((RevokedFamily { family, legacy_tokens }, sub))
}
