use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccessKeyStatus, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::SqlStore;
use crate::error::StoreError;
use crate::repo::{KeyCheck, NonceRepo, NonceSpend, NonceUse};

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
        // batch's round trips are what every request in it waits for. (A single statement
        // joining the batch's JSON to the keys was tried: with the tables' statistics stale,
        // as they are while users are being created, PostgreSQL planned it as a scan of all
        // users, and CreateUser ran 20 % slower.)
        let mut tx = self.begin().await?;
        let checks = key_checks(&mut tx, &key_ids).await?;
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

/// A batch of `(AccessKeyId, SignatureNonce)` pairs prepared for spending: their hashes, and
/// which of them is the first of its pair in the batch.
///
/// A nonce twice in one batch is fresh once and a replay the second time; the statements
/// that spend a batch see each pair once (PostgreSQL refuses to update a row twice in one
/// INSERT).
pub(crate) struct NonceBatch<'a> {
    keys: Vec<&'a str>,
    hashes: Vec<String>,
    firsts: Vec<bool>,
}

impl<'a> NonceBatch<'a> {
    /// The nonces of calls that ran before spending them.
    pub(crate) fn of_spends(spends: &'a [NonceSpend]) -> Self {
        Self::new(
            spends
                .iter()
                .map(|n| (n.access_key_id.as_str(), n.nonce.as_str())),
        )
    }

    pub(crate) fn new(batch: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let (keys, hashes): (Vec<&str>, Vec<String>) = batch
            .into_iter()
            .map(|(key_id, nonce)| (key_id, nonce_hash(nonce)))
            .unzip();
        let mut first_seen: HashSet<(&str, &str)> = HashSet::with_capacity(keys.len());
        let firsts = keys
            .iter()
            .zip(&hashes)
            .map(|(key_id, hash)| first_seen.insert((key_id, hash.as_str())))
            .collect();
        Self {
            keys,
            hashes,
            firsts,
        }
    }

    /// The pair at `index` as `(AccessKeyId, nonce hash)`, if it is the first of its pair in
    /// the batch (a later one is a replay whatever the database says).
    pub(crate) fn first(&self, index: usize) -> Option<(&str, &str)> {
        if *self.firsts.get(index)? {
            Some((self.keys[index], self.hashes[index].as_str()))
        } else {
            None
        }
    }

    /// The distinct pairs, with the index of each one's first occurrence, in key order:
    /// concurrent batches that share nonces (a replay racing its original) then take the
    /// rows' locks in the same order and cannot deadlock on PostgreSQL.
    pub(crate) fn rows(&self) -> Vec<(&str, &str, usize)> {
        let mut rows: Vec<(&str, &str, usize)> = (0..self.keys.len())
            .filter_map(|i| self.first(i).map(|(key_id, hash)| (key_id, hash, i)))
            .collect();
        rows.sort_unstable();
        rows
    }

    /// Each pair's answer, in the batch's order, from the pairs the insert returned (a row
    /// comes back only if the insert created it or revived an expired one) and those whose
    /// key's state was not as assumed (which were not inserted).
    pub(crate) fn answers(
        &self,
        mut fresh: Vec<(String, String)>,
        mut changed: Vec<(String, String)>,
    ) -> Vec<NonceUse> {
        fresh.sort_unstable();
        changed.sort_unstable();
        let holds = |rows: &[(String, String)], pair: (&str, &str)| {
            rows.binary_search_by(|(k, h)| (k.as_str(), h.as_str()).cmp(&pair))
                .is_ok()
        };
        (0..self.keys.len())
            .map(|i| match self.first(i) {
                Some(pair) if holds(&changed, pair) => NonceUse::KeyChanged,
                Some(pair) if holds(&fresh, pair) => NonceUse::Fresh,
                _ => NonceUse::Replayed,
            })
            .collect()
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
    let prepared = NonceBatch::new(batch.iter().map(|(k, n)| (k.as_str(), n.as_str())));
    let rows: Vec<(&str, &str)> = prepared
        .rows()
        .into_iter()
        .map(|(k, h, _)| (k, h))
        .collect();
    let fresh = spend_rows(conn, &rows, now, ttl).await?;
    Ok(prepared.answers(fresh, Vec::new()))
}

/// Inserts distinct `(AccessKeyId, nonce hash)` rows, in the caller's transaction; returns
/// those that were fresh.
pub(crate) async fn spend_rows(
    conn: &mut AnyConnection,
    rows: &[(&str, &str)],
    now: Timestamp,
    ttl: Duration,
) -> Result<Vec<(String, String)>, StoreError> {
    let expires_at = now.saturating_add(ttl).unix_millis();
    let mut fresh: Vec<(String, String)> = Vec::with_capacity(rows.len());
    // INVARIANT: as in `use_nonce`, the primary key decides.
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
    Ok(fresh)
}

/// The current state of each of `key_ids` that exists, keyed by AccessKeyId.
pub(crate) async fn key_checks(
    conn: &mut AnyConnection,
    key_ids: &[&str],
) -> Result<HashMap<String, KeyCheck>, StoreError> {
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
        for (key_id, status, authz_epoch, user_name) in query.fetch_all(&mut *conn).await? {
            let status = status
                .parse::<AccessKeyStatus>()
                .map_err(|e| StoreError::Internal(format!("stored {e}")))?;
            let check = KeyCheck {
                status,
                authz_epoch,
                user_name,
            };
            checks.insert(key_id, check);
        }
    }
    Ok(checks)
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
