//! Token families on PostgreSQL. A rotation reads its family's row with
//! `SELECT ... FOR UPDATE`: the row lock is held until it commits, and every
//! revocation updates the same row, so the two are ordered exactly as
//! SQLite's write lock orders them (docs/design/tokens-and-rotation.md explains why).

use async_trait::async_trait;
use sqlx::PgConnection;

use super::PostgresStore;
use super::admin::record;
use crate::store::{
    Decide, Decision, EventKind, FamilyExpiry, FamilyInsertion, FamilyRow, FamilyStore, LogEntry,
    NewFamily, RevokedFamily, RevokedToken, StoreResult,
};

#[async_trait]
impl FamilyStore for PostgresStore {
    async fn insert(&self, family: NewFamily) -> StoreResult<FamilyInsertion> {
        // `FOR SHARE` holds the account's row against every operator change
        // (each updates or deletes that row before revoking) until this
        // family is committed; a change already made is waited for and then
        // read (docs/design/tokens-and-rotation.md: "A login never outlives ...").
        let mut tx = self.pool.begin().await?;
        let now =
            sqlx::query_as("SELECT generation, disabled FROM users WHERE username = $1 FOR SHARE")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        let mut tx = self.pool.begin().await?;
        let row: Option<FamilyRow> = sqlx::query_as(
            "SELECT id, sub, revoked, current_refresh, previous_refresh, rotated_at_ms,
                    successor, bucket_tokens, bucket_at_ms
             FROM families WHERE id = $1 FOR UPDATE",
        )
        .bind(family)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let revoked = match decide(&row) {
            Decision::Refuse => return Ok(None),
            Decision::Rotate(next) => {
                sqlx::query(
                    "UPDATE families SET current_refresh = $1, previous_refresh = $2,
                            rotated_at_ms = $3, successor = $4,
                            expires_at = GREATEST(expires_at, $5),
                            bucket_tokens = $6, bucket_at_ms = $7
                     WHERE id = $8",
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
                sqlx::query(
                    "UPDATE families SET bucket_tokens = $1, bucket_at_ms = $2 WHERE id = $3",
                )
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
        let mut tx = self.pool.begin().await?;
        let (revoked, sub) = revoke_family_rows(&mut tx, family).await?;
        if let Some(sub) = &sub {
            let entries = LogEntry::family(sub, EventKind::Logout, &revoked);
            record(&mut tx, &self.origin, &entries).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revoke_subject(&self, sub: &str, before: i64) -> StoreResult<Vec<FamilyExpiry>> {
        let mut tx = self.pool.begin().await?;
        let families = revoke_subject_rows(&mut tx, sub, before).await?;
        let entry = LogEntry::subject(sub, EventKind::LogoutAll.as_str());
        record(&mut tx, &self.origin, &[entry]).await?;
        tx.commit().await?;
        Ok(families)
    }

    async fn legacy_family(&self, jti: &str) -> StoreResult<Option<String>> {
        let legacy: Option<(String,)> =
            sqlx::query_as("SELECT family FROM legacy_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
        Ok(legacy.map(|(family,)| family))
    }

    async fn purge(&self, now: i64) -> StoreResult<u64> {
        let families = sqlx::query("DELETE FROM families WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM legacy_tokens WHERE exp < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(families.rows_affected())
    }
}

/// Revokes every family of `sub` and marks the subject so that tokens
/// without a family issued before `before` are refused. Runs inside the
/// caller's transaction. The rows are locked in id order, so two of these
/// for one subject wait for each other instead of deadlocking; a rotation
/// holding one of them makes this wait, then revokes what it committed.
pub(super) async fn revoke_subject_rows(
    tx: &mut PgConnection,
    sub: &str,
    before: i64,
) -> StoreResult<Vec<FamilyExpiry>> {
    let families: Vec<FamilyExpiry> = sqlx::query_as(
        "UPDATE families SET revoked = TRUE, successor = NULL
         WHERE id IN (SELECT id FROM families WHERE sub = $1 AND NOT revoked
                      ORDER BY id FOR UPDATE)
           AND NOT revoked
         RETURNING id, expires_at",
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
    tx: &mut PgConnection,
    family: &str,
) -> StoreResult<(RevokedFamily, Option<String>)> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "UPDATE families SET revoked = TRUE, successor = NULL WHERE id = $1
         RETURNING expires_at, sub",
    )
    .bind(family)
    .fetch_optional(&mut *tx)
    .await?;
    let legacy_tokens: Vec<RevokedToken> =
        sqlx::query_as("SELECT jti, exp FROM legacy_tokens WHERE family = $1")
            .bind(family)
            .fetch_all(&mut *tx)
            .await?;
    super::revoked::insert_tokens(&mut *tx, &legacy_tokens).await?;
    let (expires_at, sub) = row.map_or((0, None), |(expires_at, sub)| (expires_at, Some(sub)));
    let family = FamilyExpiry { id: family.to_owned(), expires_at };
    Ok((RevokedFamily { family, legacy_tokens }, sub))
}
