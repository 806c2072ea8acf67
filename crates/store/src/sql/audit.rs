use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{seal_chain, AuditRecord, ChainHead, ChainRow, Timestamp, GENESIS_HASH};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::engine::Engine;
use super::{rows, SqlStore};
use crate::error::StoreError;
use crate::repo::{NonceSpend, NonceUse, Store};
use crate::repo_audit::{AuditCursor, AuditEventRow, AuditQuery, AuditRepo, AuditSlot};

/// [`AuditRepo::busy_seal_interval`] on SQLite.
const BUSY_SEAL_INTERVAL_SQLITE: Duration = Duration::from_millis(25);

/// Rows per multi-row statement. Only these sizes are used, so a connection prepares at most
/// three statements per table whatever the batch sizes: a statement with a new row count is
/// a new prepare, and preparing hundreds of placeholders costs more than the insert.
const STATEMENT_ROWS: [usize; 3] = [64, 8, 1];

/// Splits `rows` into slices of the sizes in [`STATEMENT_ROWS`], largest first.
fn fixed_chunks<T>(mut rows: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    for size in STATEMENT_ROWS {
        while rows.len() >= size {
            let (head, tail) = rows.split_at(size);
            out.push(head);
            rows = tail;
        }
    }
    out
}

/// `(…), (…)` with `width` placeholders per row, numbered from 1.
fn values(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An event's resources, each once: a resource row's key is (event, type, name).
fn distinct_resources(record: &AuditRecord) -> Vec<&(String, String)> {
    let mut seen: Vec<&(String, String)> = record.resources.iter().collect();
    seen.sort();
    seen.dedup();
    seen
}

/// SQLite: writes events, unsealed, on the group writer's connection and commits the group,
/// in one round trip whatever their number. The rows travel as JSON parameters, so the text
/// is the same every time (prepared once). Statements run in order and stop at the first
/// failure, so the `COMMIT` runs only if every event was written.
///
/// The events' ids are not read back: inside the write transaction nobody else inserts, and
/// SQLite numbers rows inserted without an id one above the largest id already there
/// (sqlite.org/autoinc.html), in the order `ORDER BY key` inserts them. So the group's
/// events are the last `count` ids, and the event at index `i` has id `max - count + 1 + i`.
const INSERT_EVENTS_AND_COMMIT: &str = "\
    INSERT INTO audit_events (event_id, account_id, event_time, event_name, event_rw, \
        service_name, user_name, access_key_id, source_ip, error_code, body) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
        value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
        FROM json_each($1) ORDER BY key; \
    INSERT INTO audit_unsealed (event_pk) \
        SELECT id FROM audit_events ORDER BY id DESC LIMIT $2; \
    INSERT INTO audit_resources (event_pk, account_id, resource_type, resource_name) \
        SELECT (SELECT max(id) FROM audit_events) - $2 + 1 + (value ->> 0), \
        value ->> 1, value ->> 2, value ->> 3 FROM json_each($3); \
    COMMIT";

/// An event as a JSON row for `json_each` / `jsonb_array_elements`.
fn event_row(r: &AuditRecord) -> Vec<serde_json::Value> {
    vec![
        r.event_id.clone().into(),
        r.account_id.clone().into(),
        r.event_time.unix_millis().into(),
        r.event_name.clone().into(),
        r.event_rw.clone().into(),
        r.service_name.clone().into(),
        r.user_name.clone().into(),
        r.access_key_id.clone().into(),
        r.source_ip.clone().into(),
        r.error_code.clone().into(),
        r.body.clone().into(),
    ]
}

/// The events' distinct resources as `[position in the batch, account, type, name]`.
fn resource_rows<'a>(records: impl Iterator<Item = &'a AuditRecord>) -> String {
    let resources: Vec<serde_json::Value> = records
        .enumerate()
        .flat_map(|(index, r)| {
            distinct_resources(r)
                .into_iter()
                .map(move |(kind, name)| serde_json::json!([index, r.account_id, kind, name]))
        })
        .collect();
    serde_json::Value::Array(resources).to_string()
}

/// Events as JSON rows, and their resources (see [`resource_rows`]).
fn event_rows(records: &[AuditRecord]) -> (String, String) {
    let rows: Vec<serde_json::Value> = records.iter().map(|r| event_row(r).into()).collect();
    (
        serde_json::Value::Array(rows).to_string(),
        resource_rows(records.iter()),
    )
}

pub(crate) async fn insert_events_and_commit(
    conn: &mut sqlx::AnyConnection,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    let (rows, resources) = event_rows(records);
    let count = i64::try_from(records.len())
        .map_err(|_| StoreError::Internal("too many audit events in one group".into()))?;
    sqlx::query(INSERT_EVENTS_AND_COMMIT)
        .bind(rows)
        .bind(count)
        .bind(resources)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes events, unsealed, in the caller's transaction (PostgreSQL), in one statement
/// whatever their number: each statement is a round trip that every caller in the batch
/// waits for.
pub(crate) async fn insert_events(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    // Not [`SPEND_AND_INSERT_EVENTS_PG`] without nonces, which would do the same: with it,
    // CreateUser ran 20–25 % slower on PostgreSQL, in alternating runs.
    let (rows, resources) = event_rows(records);
    sqlx::query(INSERT_EVENTS_PG)
        .bind(rows)
        .bind(resources)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// [`insert_events`]' statement. Ids come from the sequence in the order the rows are
/// inserted, so ranking the new ids gives each event's position in the batch, which is how
/// its resources name it.
const INSERT_EVENTS_PG: &str = "\
    WITH batch AS ( \
        SELECT r.value AS v, r.ordinality AS n FROM jsonb_array_elements($1::jsonb) \
        WITH ORDINALITY AS r), \
    inserted AS ( \
        INSERT INTO audit_events (event_id, account_id, event_time, event_name, event_rw, \
            service_name, user_name, access_key_id, source_ip, error_code, body) \
        SELECT v ->> 0, v ->> 1, (v ->> 2)::bigint, v ->> 3, v ->> 4, v ->> 5, v ->> 6, \
            v ->> 7, v ->> 8, v ->> 9, v ->> 10 FROM batch ORDER BY n \
        RETURNING id), \
    numbered AS ( \
        SELECT id, row_number() OVER (ORDER BY id) - 1 AS position FROM inserted), \
    unsealed AS ( \
        INSERT INTO audit_unsealed (event_pk) SELECT id FROM numbered) \
    INSERT INTO audit_resources (event_pk, account_id, resource_type, resource_name) \
    SELECT n.id, r.value ->> 1, r.value ->> 2, r.value ->> 3 \
    FROM jsonb_array_elements($2::jsonb) AS r \
    JOIN numbered n ON n.position = (r.value ->> 0)::bigint";

/// PostgreSQL: spends a batch's nonces and appends the events of the calls whose nonce was
/// fresh (and those without one), in one statement, so in one round trip and one implicit
/// transaction, where `BEGIN`, two statements and `COMMIT` were four round trips that every
/// call in the batch waited for.
///
/// `$1`: the distinct pairs in key order (see [`super::nonces::NonceBatch::rows`]), each
/// `[AccessKeyId, nonce hash, assumption]` where the assumption is `null` or `[epoch, user
/// name]`; `$2`: their expiry; `$3`: now. `$4`: the events as [`event_row`]s with their
/// nonce's pair appended (`null`s for none); `$5`: their resources. Returns the pairs that
/// were fresh (kind 0) and those whose key's state was not as assumed (kind 1), which are
/// neither inserted nor have their events written.
///
/// `changed` looks each key up with correlated subqueries, one primary-key probe per table
/// and pair, rather than with joins, which the planner is free to make hash joins over whole
/// tables: it cannot see how many pairs the JSON holds, and with stale statistics it did
/// exactly that to a statement joining a batch's keys to users (see
/// [`crate::NonceRepo::use_nonces_with_keys`] on SQL stores).
///
/// Every CTE sees the same snapshot; `spent` is read through its `RETURNING` rows, which are
/// exactly the pairs this statement inserted or revived. Ids come from the sequence in the
/// order the kept events are inserted, so ranking them gives each kept event's position.
const SPEND_AND_INSERT_EVENTS_PG: &str = "\
    WITH pairs AS ( \
        SELECT p.value ->> 0 AS key_id, p.value ->> 1 AS hash, p.value -> 2 AS assumed, \
            p.ordinality AS n \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS p), \
    changed AS ( \
        SELECT p.key_id, p.hash FROM pairs p \
        WHERE jsonb_typeof(p.assumed) = 'array' AND NOT COALESCE(( \
            SELECT k.status = 'Active' \
            AND (SELECT a.authz_epoch FROM accounts a WHERE a.account_id = k.account_id) \
                = (p.assumed ->> 0)::bigint \
            AND (SELECT u.user_name FROM users u WHERE u.user_id = k.user_id) \
                IS NOT DISTINCT FROM p.assumed ->> 1 \
            FROM access_keys k WHERE k.access_key_id = p.key_id), false)), \
    spent AS ( \
        INSERT INTO signature_nonces (access_key_id, nonce_hash, expires_at) \
        SELECT p.key_id, p.hash, $2 FROM pairs p \
        WHERE NOT EXISTS (SELECT 1 FROM changed c WHERE c.key_id = p.key_id AND c.hash = p.hash) \
        ORDER BY p.n \
        ON CONFLICT (access_key_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at \
        WHERE signature_nonces.expires_at <= $3 \
        RETURNING access_key_id, nonce_hash), \
    kept AS ( \
        SELECT r.value AS v, r.ordinality AS n, \
            row_number() OVER (ORDER BY r.ordinality) AS position \
        FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS r \
        WHERE r.value ->> 11 IS NULL OR EXISTS (SELECT 1 FROM spent s \
            WHERE s.access_key_id = r.value ->> 11 AND s.nonce_hash = r.value ->> 12)), \
    inserted AS ( \
        INSERT INTO audit_events (event_id, account_id, event_time, event_name, event_rw, \
            service_name, user_name, access_key_id, source_ip, error_code, body) \
        SELECT v ->> 0, v ->> 1, (v ->> 2)::bigint, v ->> 3, v ->> 4, v ->> 5, v ->> 6, \
            v ->> 7, v ->> 8, v ->> 9, v ->> 10 FROM kept ORDER BY n \
        RETURNING id), \
    numbered AS ( \
        SELECT id, row_number() OVER (ORDER BY id) AS position FROM inserted), \
    unsealed AS ( \
        INSERT INTO audit_unsealed (event_pk) SELECT id FROM numbered), \
    resources AS ( \
        INSERT INTO audit_resources (event_pk, account_id, resource_type, resource_name) \
        SELECT nb.id, r.value ->> 1, r.value ->> 2, r.value ->> 3 \
        FROM jsonb_array_elements($5::jsonb) AS r \
        JOIN kept k ON k.n = (r.value ->> 0)::bigint + 1 \
        JOIN numbered nb ON nb.position = k.position) \
    SELECT 0::bigint AS kind, access_key_id, nonce_hash FROM spent \
    UNION ALL SELECT 1::bigint, key_id, hash FROM changed";

/// A batch's distinct pairs as `[[AccessKeyId, nonce hash, assumed], …]`, `assumed` being
/// `[authz epoch, user name]` or `null` for a call that read its key itself.
fn pairs_json(prepared: &super::nonces::NonceBatch<'_>, nonces: &[NonceSpend]) -> String {
    let pairs: Vec<serde_json::Value> = prepared
        .rows()
        .into_iter()
        .map(|(key_id, hash, i)| {
            let assumed = nonces[i]
                .assumed
                .as_ref()
                .map(|a| serde_json::json!([a.authz_epoch, a.user_name]));
            serde_json::json!([key_id, hash, assumed])
        })
        .collect();
    serde_json::Value::Array(pairs).to_string()
}

/// Whether the key of pair `p` (a row of [`pairs_json`]) is as its call assumed: it exists,
/// is active, its account's epoch and its owner's name are the assumed ones. A pair without
/// an assumption holds. One primary-key probe per table, as in [`SPEND_AND_INSERT_EVENTS_PG`].
macro_rules! key_holds_sqlite {
    () => {
        "(json_type(p.value, '$[2]') IS NOT 'array' OR COALESCE(( \
            SELECT k.status = 'Active' \
            AND (SELECT a.authz_epoch FROM accounts a WHERE a.account_id = k.account_id) \
                = (p.value ->> '$[2][0]') \
            AND (SELECT u.user_name FROM users u WHERE u.user_id = k.user_id) \
                IS (p.value ->> '$[2][1]') \
            FROM access_keys k WHERE k.access_key_id = p.value ->> 0), 0))"
    };
}

/// SQLite: the pairs of `$1` ([`pairs_json`]) whose key is not as assumed, as
/// `(1, AccessKeyId, hash)`. Run in the writer, just before [`SPEND_CHECKED_SQLITE`].
const CHANGED_KEYS_SQLITE: &str = concat!(
    "SELECT 1, p.value ->> 0, p.value ->> 1 FROM json_each($1) p WHERE NOT ",
    key_holds_sqlite!()
);

/// SQLite: spends the pairs of `$1` whose key is as assumed (`$2`: their expiry, `$3`: now);
/// returns those that were fresh as `(0, AccessKeyId, hash)`. The `WHERE` also keeps the
/// upsert's `ON CONFLICT` from parsing as a join's `ON`.
const SPEND_CHECKED_SQLITE: &str = concat!(
    "INSERT INTO signature_nonces (access_key_id, nonce_hash, expires_at) \
     SELECT p.value ->> 0, p.value ->> 1, $2 FROM json_each($1) p WHERE ",
    key_holds_sqlite!(),
    " ON CONFLICT (access_key_id, nonce_hash) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE signature_nonces.expires_at <= $3 \
     RETURNING 0, access_key_id, nonce_hash"
);

/// The calls' events whose nonce is the first of its pair in the batch (or who have none),
/// each with that pair: an event whose nonce repeats an earlier one of the batch is a
/// replay's, never written.
fn candidates<'a>(
    prepared: &'a super::nonces::NonceBatch<'_>,
    events: &'a [(Option<usize>, AuditRecord)],
) -> Vec<(Option<(&'a str, &'a str)>, &'a AuditRecord)> {
    events
        .iter()
        .filter_map(|(index, record)| match index {
            None => Some((None, record)),
            Some(i) => prepared.first(*i).map(|pair| (Some(pair), record)),
        })
        .collect()
}

/// [`SPEND_AND_INSERT_EVENTS_PG`] for a batch; the answers are in the batch's order.
async fn spend_and_insert_events_pg(
    pool: &sqlx::AnyPool,
    nonces: &[NonceSpend],
    events: &[(Option<usize>, AuditRecord)],
    now: Timestamp,
    ttl: Duration,
) -> Result<Vec<NonceUse>, StoreError> {
    let prepared = super::nonces::NonceBatch::of_spends(nonces);
    let candidates = candidates(&prepared, events);
    let rows: Vec<serde_json::Value> = candidates
        .iter()
        .map(|(pair, record)| {
            let mut row = event_row(record);
            let (key_id, hash) = pair.unzip();
            row.push(key_id.into());
            row.push(hash.into());
            row.into()
        })
        .collect();
    let resources = resource_rows(candidates.iter().map(|(_, record)| *record));
    let found = sqlx::query_as::<_, (i64, String, String)>(SPEND_AND_INSERT_EVENTS_PG)
        .bind(pairs_json(&prepared, nonces))
        .bind(now.saturating_add(ttl).unix_millis())
        .bind(now.unix_millis())
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(resources)
        .fetch_all(pool)
        .await?;
    let (fresh, changed): (Vec<_>, Vec<_>) = found.into_iter().partition(|(kind, _, _)| *kind == 0);
    let pair = |(_, key_id, hash): (i64, String, String)| (key_id, hash);
    Ok(prepared.answers(
        fresh.into_iter().map(pair).collect(),
        changed.into_iter().map(pair).collect(),
    ))
}

const EVENT_COLUMNS: &str = "e.id, e.event_id, e.account_id, e.event_time, e.event_name, \
     e.event_rw, e.service_name, e.user_name, e.access_key_id, e.source_ip, e.error_code, e.body";

/// An event row selected with [`EVENT_COLUMNS`]; its resources are read from the body,
/// which verification checks against the resource rows' source.
fn record(row: &AnyRow) -> Result<(i64, AuditRecord), StoreError> {
    let body: String = row.try_get("body")?;
    let resources = serde_resources(&body);
    Ok((
        row.try_get("id")?,
        AuditRecord {
            event_id: row.try_get("event_id")?,
            account_id: row.try_get("account_id")?,
            event_time: rows::time(row.try_get("event_time")?)?,
            event_name: row.try_get("event_name")?,
            event_rw: row.try_get("event_rw")?,
            service_name: row.try_get("service_name")?,
            user_name: row.try_get("user_name")?,
            access_key_id: row.try_get("access_key_id")?,
            source_ip: row.try_get("source_ip")?,
            error_code: row.try_get("error_code")?,
            resources,
            body,
        },
    ))
}

/// The `(type, name)` pairs of a body's `referencedResources`; none if it does not parse
/// (verification then reports the event).
fn serde_resources(body: &str) -> Vec<(String, String)> {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| rampart_model::referenced_resources(&v))
        .unwrap_or_default()
}

fn head(row: &AnyRow) -> Result<ChainHead, StoreError> {
    Ok(ChainHead {
        account_id: row.try_get("account_id")?,
        base_seq: row.try_get("base_seq")?,
        base_hash: row.try_get("base_hash")?,
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
    })
}

#[async_trait]
impl AuditRepo for SqlStore {
    fn audited(&self, slot: Arc<AuditSlot>) -> Arc<dyn Store> {
        let mut store = self.clone();
        store.audit = Some(slot);
        Arc::new(store)
    }

    async fn append_audit_events(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(writer) = &self.writer {
            return writer.append(records.to_vec()).await;
        }
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        insert_events(&mut tx, records).await?;
        Ok(tx.commit().await?)
    }

    fn read_only(&self) -> Arc<dyn Store> {
        let mut store = self.clone();
        store.read_only = true;
        Arc::new(store)
    }

    async fn spend_nonces_and_append(
        &self,
        nonces: &[NonceSpend],
        events: Vec<(Option<usize>, AuditRecord)>,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<NonceUse>, StoreError> {
        if events
            .iter()
            .any(|(i, _)| i.is_some_and(|i| i >= nonces.len()))
        {
            return Err(StoreError::Internal(
                "an event names a nonce not in its batch".to_owned(),
            ));
        }
        self.purge_if_due(now).await?;
        let Some(writer) = &self.writer else {
            let pool = self.relaxed_pool.as_ref().unwrap_or(&self.pool);
            return spend_and_insert_events_pg(pool, nonces, &events, now, ttl).await;
        };
        let prepared = super::nonces::NonceBatch::of_spends(nonces);
        // No savepoint: the batch's statements are each atomic, and nothing else of this
        // member's is in the group until it commits. In the writer, so no change to a key can
        // commit between its check and its nonce's. The check, the spending and (when it
        // opens the group) the `BEGIN` are one round trip to the writer's thread: under load
        // each round trip costs more than SQLite's work in it.
        let (member, fresh, changed) = if nonces.is_empty() {
            (writer.join(self.read_commit).await?, Vec::new(), Vec::new())
        } else {
            let (mut member, begin) = writer.join_opening(self.read_commit).await?;
            let sql = format!("{begin}{CHANGED_KEYS_SQLITE}; {SPEND_CHECKED_SQLITE}");
            let found = sqlx::query_as::<_, (i64, String, String)>(&sql)
                .bind(pairs_json(&prepared, nonces))
                .bind(now.saturating_add(ttl).unix_millis())
                .bind(now.unix_millis())
                .fetch_all(member.conn())
                .await?;
            let (fresh, changed): (Vec<_>, Vec<_>) =
                found.into_iter().partition(|(kind, _, _)| *kind == 0);
            let pair = |(_, key_id, hash): (i64, String, String)| (key_id, hash);
            (
                member,
                fresh.into_iter().map(pair).collect(),
                changed.into_iter().map(pair).collect(),
            )
        };
        let uses = prepared.answers(fresh, changed);
        let kept = events
            .into_iter()
            .filter(|(i, _)| i.is_none_or(|i| uses.get(i) == Some(&NonceUse::Fresh)))
            .map(|(_, r)| r)
            .collect();
        member.commit(kept).await?;
        Ok(uses)
    }

    fn busy_seal_interval(&self) -> Option<Duration> {
        // SQLite: a run holds the one writer while it writes its links, and every request's
        // commit waits behind it: about 13 µs per event (BENCHMARKS.md). Sealing every 25 ms
        // under load keeps each run, and so each stall, an eighth of what 200 ms of events
        // make. PostgreSQL's sealer blocks no request, and a run costs it about ten
        // statements whatever its size, so it keeps the usual interval.
        self.writer.is_some().then_some(BUSY_SEAL_INTERVAL_SQLITE)
    }

    async fn seal_audit_events(&self, max: u32) -> Result<u64, StoreError> {
        if self.writer.is_some() {
            // This process's sealers take turns here, so they never race each other.
            let _turn = self.seal_turn.lock().await;
            if let Some(sealed) = self.seal_prepared(max).await? {
                return Ok(sealed);
            }
            // Another process sealed some of these meanwhile: seal the locked way.
        }
        self.seal_locked(max).await
    }

    async fn search_audit_events(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEventRow>, StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        // Text parameters first ($1…), then numbers: the two kinds bind differently.
        let mut text = |column: &str, value: &Option<String>, conditions: &mut Vec<String>| {
            if let Some(v) = value {
                texts.push(v.clone());
                conditions.push(format!("{column} = $T{}", texts.len()));
            }
        };
        text("e.account_id", &query.account_id, &mut conditions);
        text("e.event_id", &query.event_id, &mut conditions);
        text("e.event_name", &query.event_name, &mut conditions);
        text("e.event_rw", &query.event_rw, &mut conditions);
        text("e.service_name", &query.service_name, &mut conditions);
        text("e.user_name", &query.user_name, &mut conditions);
        text("e.access_key_id", &query.access_key_id, &mut conditions);
        text("e.source_ip", &query.source_ip, &mut conditions);
        if query.resource_type.is_some() || query.resource_name.is_some() {
            let mut sub = vec!["r.event_pk = e.id".to_owned()];
            text("r.resource_type", &query.resource_type, &mut sub);
            text("r.resource_name", &query.resource_name, &mut sub);
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM audit_resources r WHERE {})",
                sub.join(" AND ")
            ));
        }
        if let Some(start) = query.start {
            numbers.push(start.unix_millis());
            conditions.push(format!("e.event_time >= $N{}", numbers.len()));
        }
        if let Some(end) = query.end {
            numbers.push(end.unix_millis());
            conditions.push(format!("e.event_time <= $N{}", numbers.len()));
        }
        let (cmp, order) = if query.oldest_first {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some(after) = query.after {
            numbers.push(after.event_time_millis);
            let t = numbers.len();
            numbers.push(after.pk);
            let p = numbers.len();
            conditions.push(format!(
                "(e.event_time {cmp} $N{t} OR (e.event_time = $N{t} AND e.id {cmp} $N{p}))"
            ));
        }
        numbers.push(i64::from(query.limit.clamp(1, 1000)));
        let limit = numbers.len();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events e {where_clause} \
             ORDER BY e.event_time {order}, e.id {order} LIMIT $N{limit}"
        );
        // Number the placeholders: texts, then numbers. Replace longest names first so
        // `$T1` does not eat the start of `$T10`.
        let t_count = texts.len();
        for i in (1..=numbers.len()).rev() {
            sql = sql.replace(&format!("$N{i}"), &format!("${}", t_count + i));
        }
        for i in (1..=t_count).rev() {
            sql = sql.replace(&format!("$T{i}"), &format!("${i}"));
        }
        let mut q = sqlx::query(&sql);
        for t in &texts {
            q = q.bind(t.as_str());
        }
        for n in &numbers {
            q = q.bind(*n);
        }
        let found = q.fetch_all(&self.pool).await?;
        found
            .iter()
            .map(|row| {
                let (pk, record) = record(row)?;
                Ok(AuditEventRow {
                    cursor: AuditCursor {
                        event_time_millis: record.event_time.unix_millis(),
                        pk,
                    },
                    record,
                })
            })
            .collect()
    }

    async fn audit_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let found = sqlx::query(
            "SELECT account_id, base_seq, base_hash, seq, hash FROM audit_heads ORDER BY account_id",
        )
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(head).collect()
    }

    async fn audit_chain(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChainRow>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT c.seq, c.event_id AS link_event_id, c.prev_hash, c.hash, \
             {EVENT_COLUMNS} FROM audit_chain c \
             LEFT JOIN audit_events e ON e.id = c.event_pk \
             WHERE c.account_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3"
        ))
        .bind(account_id)
        .bind(after_seq)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|row| {
                let present = row.try_get::<Option<String>, _>("event_id")?.is_some();
                Ok(ChainRow {
                    seq: row.try_get("seq")?,
                    event_id: row.try_get("link_event_id")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                    event: if present { Some(record(row)?.1) } else { None },
                })
            })
            .collect()
    }

    async fn audit_accounts(&self) -> Result<Vec<String>, StoreError> {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT account_id FROM audit_heads UNION SELECT account_id FROM audit_events \
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(found)
    }

    async fn audit_unchained(&self, account_id: &str) -> Result<(Vec<String>, u64), StoreError> {
        let unchained: Vec<String> = sqlx::query_scalar(
            "SELECT e.event_id FROM audit_events e WHERE e.account_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_pk = e.id) \
             AND NOT EXISTS (SELECT 1 FROM audit_unsealed u WHERE u.event_pk = e.id) \
             ORDER BY e.id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_unsealed u JOIN audit_events e ON e.id = u.event_pk \
             WHERE e.account_id = $1",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((unchained, u64::try_from(waiting).unwrap_or(0)))
    }

    async fn purge_audit_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        tx.audit = None;
        sqlx::query("UPDATE audit_sealer SET runs = runs + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let cutoff = before.unix_millis();
        // Per account, the longest run of links from the start that are all older than the
        // cutoff: it goes, and its last link becomes the base verification starts from. The
        // run stops at the first newer link, since an event sealed late (after a crash, say)
        // can be older than links before it, and cutting past a newer event would lose it.
        let old = sqlx::query(
            "SELECT account_id, MAX(seq) AS seq FROM audit_chain WHERE event_time < $1 \
             GROUP BY account_id ORDER BY account_id",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let new = sqlx::query(
            "SELECT account_id, MIN(seq) AS seq FROM audit_chain WHERE event_time >= $1 \
             GROUP BY account_id",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let mut first_new: BTreeMap<String, i64> = BTreeMap::new();
        for row in &new {
            first_new.insert(row.try_get("account_id")?, row.try_get("seq")?);
        }
        let mut cuts: Vec<(String, i64)> = Vec::new();
        for row in &old {
            let account: String = row.try_get("account_id")?;
            let last_old: i64 = row.try_get("seq")?;
            let cut = match first_new.get(&account) {
                Some(first) => last_old.min(first - 1),
                None => last_old,
            };
            cuts.push((account, cut));
        }
        let mut purged = 0u64;
        for (account, seq) in cuts {
            let base_hash: Option<String> = sqlx::query_scalar(
                "SELECT hash FROM audit_chain WHERE account_id = $1 AND seq = $2",
            )
            .bind(account.as_str())
            .bind(seq)
            .fetch_optional(&mut *tx)
            .await?;
            // None: the run is empty (the account's first remaining link is new).
            let Some(base_hash) = base_hash else { continue };
            for (table, key) in [("audit_resources", "event_pk"), ("audit_events", "id")] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE {key} IN (SELECT event_pk FROM audit_chain \
                     WHERE account_id = $1 AND seq <= $2)"
                ))
                .bind(account.as_str())
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            purged += sqlx::query("DELETE FROM audit_chain WHERE account_id = $1 AND seq <= $2")
                .bind(account.as_str())
                .bind(seq)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "UPDATE audit_heads SET base_seq = $2, base_hash = $3 WHERE account_id = $1",
            )
            .bind(account.as_str())
            .bind(seq)
            .bind(base_hash.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(purged)
    }

    async fn access_key_last_used(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(event_time) FROM audit_events WHERE access_key_id = $1")
                .bind(access_key_id)
                .fetch_one(&self.pool)
                .await?;
        last.map(rows::time).transpose()
    }
}

/// An event waiting to be sealed.
struct Unsealed {
    pk: i64,
    event_id: String,
    account_id: String,
    event_time: i64,
    body: String,
}

/// One link of a chain, as `audit_chain` stores it.
struct Link {
    account_id: String,
    seq: i64,
    event_id: String,
    event_time: i64,
    prev_hash: String,
    hash: String,
    event_pk: i64,
}

/// What sealing a batch writes: its links, and per account the head it extends (`None`: a
/// new chain) and the new head.
struct Sealing {
    links: Vec<Link>,
    heads: Vec<(Option<ChainHead>, ChainHead)>,
    pks: Vec<i64>,
}

/// The oldest unsealed events, by looking each one up by its key.
///
/// PostgreSQL's planner, misled by `audit_unsealed`'s statistics (a table that is emptied as
/// fast as it fills, so its row count is always stale), chose a merge join for the plain
/// join. That walks `audit_events` from its very first row on every run, so sealing cost
/// grew with the whole trail (11 ms a run at 19,000 events, five runs a second). The lateral
/// subquery, kept apart by `OFFSET 0`, can only be probed per unsealed row.
pub(crate) fn select_unsealed(engine: Engine) -> &'static str {
    match engine {
        // SQLite plans every join as nested lookups already.
        Engine::Sqlite => {
            "SELECT e.id, e.event_id, e.account_id, e.event_time, e.body \
             FROM audit_unsealed u JOIN audit_events e ON e.id = u.event_pk \
             ORDER BY u.event_pk LIMIT $1"
        }
        Engine::Postgres => {
            "SELECT e.id, e.event_id, e.account_id, e.event_time, e.body \
             FROM (SELECT event_pk FROM audit_unsealed ORDER BY event_pk LIMIT $1) u \
             CROSS JOIN LATERAL (SELECT x.id, x.event_id, x.account_id, x.event_time, x.body \
                 FROM audit_events x WHERE x.id = u.event_pk OFFSET 0) e \
             ORDER BY u.event_pk"
        }
    }
}

fn unsealed(rows: &[AnyRow]) -> Result<Vec<Unsealed>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(Unsealed {
                pk: row.try_get("id")?,
                event_id: row.try_get("event_id")?,
                account_id: row.try_get("account_id")?,
                event_time: row.try_get("event_time")?,
                body: row.try_get("body")?,
            })
        })
        .collect()
}

/// The current heads of `accounts`' chains; an account without one is absent.
async fn read_heads<'c, E>(
    executor: E,
    accounts: &[&str],
) -> Result<HashMap<String, ChainHead>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT account_id, base_seq, base_hash, seq, hash FROM audit_heads \
         WHERE account_id IN ({})",
        (1..=accounts.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query(&sql);
    for account in accounts {
        query = query.bind(*account);
    }
    query
        .fetch_all(executor)
        .await?
        .iter()
        .map(|row| head(row).map(|h| (h.account_id.clone(), h)))
        .collect()
}

/// Each account's events, in insertion order, linked after its current head.
fn link(pending: &[Unsealed], heads: &HashMap<String, ChainHead>) -> Sealing {
    let mut by_account: BTreeMap<&str, Vec<&Unsealed>> = BTreeMap::new();
    for event in pending {
        by_account
            .entry(event.account_id.as_str())
            .or_default()
            .push(event);
    }
    let mut sealing = Sealing {
        links: Vec::with_capacity(pending.len()),
        heads: Vec::with_capacity(by_account.len()),
        pks: pending.iter().map(|e| e.pk).collect(),
    };
    for (account, events) in by_account {
        let current = heads.get(account).cloned();
        let from = current.clone().unwrap_or_else(|| ChainHead {
            account_id: account.to_owned(),
            base_seq: 0,
            base_hash: GENESIS_HASH.to_owned(),
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        });
        let (links, new_head) = seal_chain(
            &from,
            events
                .iter()
                .map(|e| (e.event_id.as_str(), e.body.as_str())),
        );
        for ((seq, event_id, prev_hash, hash), event) in links.into_iter().zip(&events) {
            sealing.links.push(Link {
                account_id: account.to_owned(),
                seq,
                event_id,
                event_time: event.event_time,
                prev_hash,
                hash,
                event_pk: event.pk,
            });
        }
        sealing.heads.push((current, new_head));
    }
    sealing
}

/// Sealing's writes on SQLite, in one round trip: each head moves only from the one the
/// batch was linked after, a new chain is started only if none exists, and a link or an
/// unsealed mark another process already wrote or removed changes nothing. Each statement
/// changes at most its own count of rows, so the total tells whether another process sealed
/// any of it first.
const WRITE_SEALING: &str = "\
    UPDATE audit_heads SET seq = h.value ->> 3, hash = h.value ->> 4 FROM json_each($1) h \
        WHERE audit_heads.account_id = h.value ->> 0 AND audit_heads.seq = h.value ->> 1 \
        AND audit_heads.hash = h.value ->> 2; \
    INSERT INTO audit_heads (account_id, base_seq, base_hash, seq, hash) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 \
        FROM json_each($2) WHERE true ON CONFLICT (account_id) DO NOTHING; \
    INSERT INTO audit_chain (account_id, seq, event_id, event_time, prev_hash, hash, event_pk) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
        value ->> 6 FROM json_each($3) WHERE true ORDER BY key ON CONFLICT DO NOTHING; \
    DELETE FROM audit_unsealed WHERE event_pk IN (SELECT value FROM json_each($4))";

impl SqlStore {
    /// SQLite: reads and links the batch outside the writer, then writes it in one round trip
    /// of the writer's, which every request's write waits behind. `None` if another process
    /// sealed some of it first (nothing is written then).
    async fn seal_prepared(&self, max: u32) -> Result<Option<u64>, StoreError> {
        let rows = sqlx::query(select_unsealed(self.engine))
            .bind(i64::from(max.max(1)))
            .fetch_all(&self.pool)
            .await?;
        let pending = unsealed(&rows)?;
        if pending.is_empty() {
            return Ok(Some(0));
        }
        let mut accounts: Vec<&str> = pending.iter().map(|e| e.account_id.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let heads = read_heads(&self.pool, &accounts).await?;
        let sealing = link(&pending, &heads);
        let mut moved = Vec::new();
        let mut started = Vec::new();
        for (current, new) in &sealing.heads {
            match current {
                Some(old) => moved.push(serde_json::json!([
                    new.account_id,
                    old.seq,
                    old.hash,
                    new.seq,
                    new.hash
                ])),
                None => started.push(serde_json::json!([
                    new.account_id,
                    new.base_seq,
                    new.base_hash,
                    new.seq,
                    new.hash
                ])),
            }
        }
        let links: Vec<serde_json::Value> = sealing
            .links
            .iter()
            .map(|l| {
                serde_json::json!([
                    l.account_id,
                    l.seq,
                    l.event_id,
                    l.event_time,
                    l.prev_hash,
                    l.hash,
                    l.event_pk
                ])
            })
            .collect();
        let expected = sealing.heads.len() + 2 * sealing.links.len();
        let mut tx = self.begin().await?;
        tx.audit = None;
        let changed = sqlx::query(WRITE_SEALING)
            .bind(serde_json::Value::Array(moved).to_string())
            .bind(serde_json::Value::Array(started).to_string())
            .bind(serde_json::Value::Array(links).to_string())
            .bind(serde_json::Value::from(sealing.pks).to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if usize::try_from(changed).ok() != Some(expected) {
            // Dropped: rolled back to its savepoint.
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(pending.len() as u64))
    }

    /// Seals inside one write transaction from first read to last write, holding the sealer
    /// lock row, so sealers on several nodes take turns.
    async fn seal_locked(&self, max: u32) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        tx.audit = None;
        // Sealers on other nodes wait here until this one commits, then see its work.
        sqlx::query("UPDATE audit_sealer SET runs = runs + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(select_unsealed(self.engine))
            .bind(i64::from(max.max(1)))
            .fetch_all(&mut *tx)
            .await?;
        let pending = unsealed(&rows)?;
        if pending.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let mut accounts: Vec<&str> = pending.iter().map(|e| e.account_id.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let heads = read_heads(&mut *tx, &accounts).await?;
        let sealing = link(&pending, &heads);
        for (_, new_head) in &sealing.heads {
            sqlx::query(
                "INSERT INTO audit_heads (account_id, base_seq, base_hash, seq, hash) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) \
                 DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )
            .bind(new_head.account_id.as_str())
            .bind(new_head.base_seq)
            .bind(new_head.base_hash.as_str())
            .bind(new_head.seq)
            .bind(new_head.hash.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for part in fixed_chunks(&sealing.links) {
            let sql = format!(
                "INSERT INTO audit_chain (account_id, seq, event_id, event_time, prev_hash, hash, \
                 event_pk) VALUES {}",
                values(part.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for l in part {
                q = q
                    .bind(l.account_id.as_str())
                    .bind(l.seq)
                    .bind(l.event_id.as_str())
                    .bind(l.event_time)
                    .bind(l.prev_hash.as_str())
                    .bind(l.hash.as_str())
                    .bind(l.event_pk);
            }
            q.execute(&mut *tx).await?;
        }
        for part in fixed_chunks(&sealing.pks) {
            let sql = format!(
                "DELETE FROM audit_unsealed WHERE event_pk IN ({})",
                (1..=part.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut q = sqlx::query(&sql);
            for pk in part {
                q = q.bind(*pk);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(pending.len() as u64)
    }
}
