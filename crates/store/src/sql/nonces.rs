use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccessKeyStatus, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::SqlStore;
use crate::error::StoreError;
use crate::repo::{KeyCheck, NonceRepo, NonceUse};

/// How often one process purges expired nonces as a side effect of [`NonceRepo::use_nonce`].
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

#[async_trait]
impl NonceRepo for SqlStore {
    async fn use_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<NonceUse, StoreError> {
        self.purge_if_due(now).await?;
        let expires_at = now.saturating_add(ttl);
        // INVARIANT: the primary key (access_key_id, nonce_hash) is the whole replay check.
        // The insert either creates the row, revives a row whose time ran out, or changes
        // nothing because a live row exists: one atomic statement on either engine, so two
        // processes racing with the same nonce cannot both see it as fresh.
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(INSERT_NONCE)
            .bind(access_key_id)
            .bind(nonce_hash(nonce))
            .bind(expires_at.unix_millis())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(if inserted == 0 {
            NonceUse::Replayed
        } else {
            NonceUse::Fresh
        })
    }

    async fn use_nonces_with_keys(
        &self,
        batch: &[(String, String)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<(NonceUse, Option<KeyCheck>)>, StoreError> {
        self.purge_if_due(now).await?;
        let mut key_ids: Vec<&str> = batch.iter().map(|(k, _)| k.as_str()).collect();
        key_ids.sort_unstable();
        key_ids.dedup();

        // One transaction, so one commit (one fsync) for the whole batch, and a fixed number
        // of statements whatever its size: each one is a round trip, and on PostgreSQL the
        // batch's round trips are what every request in it waits for.
        let mut tx = self.begin().await?;
        let mut checks: HashMap<String, KeyCheck> = HashMap::with_capacity(key_ids.len());
        for chunk in key_ids.chunks(MAX_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT k.access_key_id, k.status, a.authz_epoch, u.user_name FROM access_keys k \
                 JOIN accounts a ON a.account_id = k.account_id \
                 LEFT JOIN users u ON u.user_id = k.user_id WHERE k.access_key_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String, i64, Option<String>)>(&sql);
            for key_id in chunk {
                query = query.bind(*key_id);
            }
            for (key_id, status, authz_epoch, user_name) in query.fetch_all(&mut *tx).await? {
                let status = status
                    .parse::<AccessKeyStatus>()
                    .map_err(|e| StoreError::Internal(format!("stored {e}")))?;
                checks.insert(
                    key_id,
                    KeyCheck {
                        status,
                        authz_epoch,
                        user_name,
                    },
                );
            }
        }
        let uses = spend(&mut tx, batch, now, ttl).await?;
        tx.commit().await?;
        Ok(uses
            .into_iter()
            .zip(batch)
            .map(|(used, (key_id, _))| (used, checks.get(key_id).cloned()))
            .collect())
    }

    async fn purge_expired_nonces(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM signature_nonces WHERE expires_at <= $1")
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}

impl SqlStore {
    /// Purges at most once per [`PURGE_INTERVAL`] per process; the compare-and-swap lets
    /// exactly one of several concurrent callers do it.
    pub(crate) async fn purge_if_due(&self, now: Timestamp) -> Result<(), StoreError> {
        let last = self.last_nonce_purge.load(Ordering::Relaxed);
        let interval = i64::try_from(PURGE_INTERVAL.as_millis()).unwrap_or(i64::MAX);
        let due = now.unix_millis().saturating_sub(last) >= interval;
        if due
            && self
                .last_nonce_purge
                .compare_exchange(
                    last,
                    now.unix_millis(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.purge_expired_nonces(now).await?;
        }
        Ok(())
    }
}

/// Spends a batch's nonces in the caller's transaction, in one statement per
/// [`MAX_ROWS_PER_STATEMENT`] pairs; the answers are in the batch's order.
pub(crate) async fn spend(
    conn: &mut AnyConnection,
    batch: &[(String, String)],
    now: Timestamp,
    ttl: Duration,
) -> Result<Vec<NonceUse>, StoreError> {
    let expires_at = now.saturating_add(ttl).unix_millis();
    let hashes: Vec<String> = batch.iter().map(|(_, nonce)| nonce_hash(nonce)).collect();
    // A nonce twice in one batch is fresh once and a replay the second time; the statement
    // below must not see it twice (PostgreSQL refuses to update a row twice in one INSERT).
    let mut first_seen: HashSet<(&str, &str)> = HashSet::with_capacity(batch.len());
    let firsts: Vec<bool> = batch
        .iter()
        .zip(&hashes)
        .map(|((key_id, _), hash)| first_seen.insert((key_id.as_str(), hash.as_str())))
        .collect();
    // INVARIANT: as in `use_nonce`, the primary key decides: a row is returned only if this
    // statement created it or revived an expired one.
    let mut rows: Vec<(&str, &str)> = batch
        .iter()
        .zip(&hashes)
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(((key_id, _), hash), _)| (key_id.as_str(), hash.as_str()))
        .collect();
    // Key order: concurrent batches that share nonces (a replay racing its original) then
    // take the rows' locks in the same order and cannot deadlock on PostgreSQL.
    rows.sort_unstable();
    let mut fresh: Vec<(String, String)> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, $1)", 3 + 2 * i, 4 + 2 * i))
            .collect();
        let sql = format!(
            "INSERT INTO signature_nonces (access_key_id, nonce_hash, expires_at) VALUES {} \
             ON CONFLICT (access_key_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE signature_nonces.expires_at <= $2 \
             RETURNING access_key_id, nonce_hash",
            values.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&sql)
            .bind(expires_at)
            .bind(now.unix_millis());
        for (key_id, hash) in chunk {
            query = query.bind(*key_id).bind(*hash);
        }
        fresh.extend(query.fetch_all(&mut *conn).await?);
    }
    fresh.sort_unstable();
    Ok(batch
        .iter()
        .zip(&hashes)
        .zip(&firsts)
        .map(|(((key_id, _), hash), first)| {
            let is_fresh = *first
                && fresh
                    .binary_search_by(|(k, h)| {
                        (k.as_str(), h.as_str()).cmp(&(key_id.as_str(), hash.as_str()))
                    })
                    .is_ok();
            if is_fresh {
                NonceUse::Fresh
            } else {
                NonceUse::Replayed
            }
        })
        .collect())
}

const INSERT_NONCE: &str = "INSERT INTO signature_nonces (access_key_id, nonce_hash, expires_at) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (access_key_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE signature_nonces.expires_at <= $4";

/// Rows (or keys) per statement: well under both engines' limits on bound parameters
/// (SQLite 32,766, PostgreSQL 65,535).
const MAX_ROWS_PER_STATEMENT: usize = 1000;

/// `$first, $first+1, …`: `count` placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (0..count)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nonces are client text of any length and content; their hash is a fixed-size key.
fn nonce_hash(nonce: &str) -> String {
    hex::encode(Sha256::digest(nonce.as_bytes()))
}
