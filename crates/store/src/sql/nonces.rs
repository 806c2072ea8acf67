use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccessKeyStatus, Timestamp};
use sha2::{Digest, Sha256};

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
        let expires_at = now.saturating_add(ttl).unix_millis();
        // One transaction, so one commit (one fsync on SQLite) for the whole batch; each
        // row is still decided by the primary key, as in `use_nonce`, and a nonce twice in
        // one batch is fresh once and a replay the second time.
        let mut tx = self.begin().await?;
        let mut checks: Vec<(&str, Option<KeyCheck>)> = Vec::new();
        for (key_id, _) in batch {
            if checks.iter().any(|(k, _)| *k == key_id.as_str()) {
                continue;
            }
            let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
                "SELECT k.status, a.authz_epoch, u.user_name FROM access_keys k \
                 JOIN accounts a ON a.account_id = k.account_id \
                 LEFT JOIN users u ON u.user_id = k.user_id WHERE k.access_key_id = $1",
            )
            .bind(key_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let check = match row {
                None => None,
                Some((status, authz_epoch, user_name)) => Some(KeyCheck {
                    status: status
                        .parse::<AccessKeyStatus>()
                        .map_err(|e| StoreError::Internal(format!("stored {e}")))?,
                    authz_epoch,
                    user_name,
                }),
            };
            checks.push((key_id.as_str(), check));
        }
        let mut out = Vec::with_capacity(batch.len());
        for (key_id, nonce) in batch {
            let inserted = sqlx::query(INSERT_NONCE)
                .bind(key_id.as_str())
                .bind(nonce_hash(nonce))
                .bind(expires_at)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let used = if inserted == 0 {
                NonceUse::Replayed
            } else {
                NonceUse::Fresh
            };
            let check = checks
                .iter()
                .find(|(k, _)| *k == key_id.as_str())
                .and_then(|(_, c)| c.clone());
            out.push((used, check));
        }
        tx.commit().await?;
        Ok(out)
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
    async fn purge_if_due(&self, now: Timestamp) -> Result<(), StoreError> {
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

const INSERT_NONCE: &str = "INSERT INTO signature_nonces (access_key_id, nonce_hash, expires_at) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (access_key_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE signature_nonces.expires_at <= $4";

/// Nonces are client text of any length and content; their hash is a fixed-size key.
fn nonce_hash(nonce: &str) -> String {
    hex::encode(Sha256::digest(nonce.as_bytes()))
}
