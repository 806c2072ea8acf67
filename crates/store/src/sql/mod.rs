//! [`SqlStore`]: the repositories on SQLite or PostgreSQL.
//!
//! One implementation for both engines: portable SQL through sqlx's `Any` driver, with the
//! few differences confined to [`engine`]. Invariants live in the schema (keys, unique and
//! foreign-key constraints) and in transactions, never in locks held by this process, so
//! several server processes may share one PostgreSQL database.

mod access_keys;
mod accounts;
mod audit;
mod console;
mod engine;
mod errors;
mod federation;
mod group;
mod groups;
mod nonces;
mod people;
mod policies;
mod roles;
mod rows;
mod users;

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};

use crate::error::StoreError;
use engine::Engine;

/// Per-entity limits (RAM's quotas, spec §4.2). Configurable because operators raise them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// RAM: 2.
    pub access_keys_per_user: u32,
    /// RAM documents none for this API; Alibaba's console allows 5 per account.
    pub access_keys_per_root: u32,
    /// RAM: 300.
    pub groups_per_account: u32,
    /// RAM: 10.
    pub groups_per_user: u32,
    /// RAM: 1000.
    pub roles_per_account: u32,
    /// RAM: 1500.
    pub custom_policies_per_account: u32,
    /// RAM: 5.
    pub versions_per_policy: u32,
    /// RAM: 10 custom policies attached to one user, group or role.
    pub custom_policies_per_principal: u32,
    /// RAM: 20 system policies attached to one user, group or role.
    pub system_policies_per_principal: u32,
    /// RAM: 20 tags per resource.
    pub tags_per_resource: u32,
    /// RAM: 5000.
    pub mfa_devices_per_account: u32,
    /// IMS: 100 OIDC identity providers per account.
    pub oidc_providers_per_account: u32,
    /// IMS: 100 SAML identity providers per account.
    pub saml_providers_per_account: u32,
    /// IMS: 50 client ids per OIDC provider.
    pub client_ids_per_oidc_provider: u32,
    /// IMS: 5 fingerprints per OIDC provider.
    pub fingerprints_per_oidc_provider: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            access_keys_per_user: 2,
            access_keys_per_root: 5,
            groups_per_account: 300,
            groups_per_user: 10,
            roles_per_account: 1000,
            custom_policies_per_account: 1500,
            versions_per_policy: 5,
            custom_policies_per_principal: 10,
            system_policies_per_principal: 20,
            tags_per_resource: 20,
            mfa_devices_per_account: 5000,
            oidc_providers_per_account: 100,
            saml_providers_per_account: 100,
            client_ids_per_oidc_provider: rampart_model::MAX_CLIENT_IDS as u32,
            fingerprints_per_oidc_provider: rampart_model::MAX_FINGERPRINTS as u32,
        }
    }
}

/// How to open a [`SqlStore`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub quotas: Quotas,
    /// Pooled connections (both engines).
    pub max_connections: u32,
    /// How long an operation waits for a pooled connection before `Unavailable`. While the
    /// database is unreachable this is how long each request waits before its 503, since the
    /// pool keeps trying to connect until then: short, so clients hear about an outage
    /// quickly and retry.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock before `Unavailable`.
    pub busy_timeout: Duration,
    /// PostgreSQL: the schema holding Rampart's tables (it must exist; default: the
    /// database's `search_path`). Lets several installations, or tests, share a database.
    pub postgres_schema: Option<String>,
    /// A pooled connection idle at least this long is pinged before it is used, so one the
    /// database dropped while it sat idle (a restart, an idle-session timeout) is replaced
    /// instead of failing a request. A connection in steady use is not pinged: sqlx's
    /// default pings on every checkout, one more round trip per statement (on SQLite one
    /// more hand-off to the connection's thread and back).
    pub ping_idle_after: Duration,
    /// Whether a call that changed nothing waits for its nonce and event to be synced to
    /// disk before it is answered. Off (the default): they are committed before the answer
    /// (so every node sees the nonce, and a crash of this process loses neither), and synced
    /// shortly after: SQLite with the next checkpoint (every 20 ms under load), PostgreSQL
    /// with its WAL writer (`synchronous_commit = off`). Only a crash of the machine or of
    /// PostgreSQL in that window loses them. Changes are always synced before the answer.
    pub durable_reads: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            quotas: Quotas::default(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(10),
            postgres_schema: None,
            ping_idle_after: Duration::from_secs(1),
            durable_reads: false,
        }
    }
}

/// A pool of up to `max` connections, each set up with `setup` when it connects.
fn pool_options(options: &StoreOptions, max: u32, setup: Arc<str>) -> AnyPoolOptions {
    let ping_idle_after = options.ping_idle_after;
    AnyPoolOptions::new()
        .max_connections(max.max(1))
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= ping_idle_after {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| Box::pin(set_up_connection(conn, Arc::clone(&setup))))
}

/// Runs the engine's per-connection statements. A named function rather than an async
/// block: the closure's higher-ranked connection lifetime defeats inference otherwise.
async fn set_up_connection(conn: &mut AnyConnection, batch: Arc<str>) -> Result<(), sqlx::Error> {
    if !batch.is_empty() {
        conn.execute(&*batch).await?;
    }
    Ok(())
}

/// The SQL store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    quotas: Quotas,
    /// Unix millis of the last opportunistic nonce purge by this process.
    last_nonce_purge: Arc<AtomicI64>,
    /// SQLite: every write transaction of this process, one at a time in arrival order, as a
    /// savepoint in a shared group transaction on one connection ([`group`]). SQLite admits
    /// one writer anyway; queueing here instead of in its busy handler (which sleeps up to
    /// 100 ms between tries) avoids second-long stalls, and sharing commits lifts the fsync
    /// ceiling. `None` on PostgreSQL, whose row locks queue writers themselves and whose
    /// transactions run concurrently.
    writer: Option<group::GroupWriter>,
    /// How the nonces and events of calls that changed nothing commit
    /// ([`StoreOptions::durable_reads`]); on SQLite this picks their group's kind.
    read_commit: group::Commit,
    /// PostgreSQL, reads not durable: connections with `synchronous_commit = off`, which
    /// spend those nonces. A separate pool rather than a `SET LOCAL` per batch: that would
    /// cost the batch a transaction of three more round trips.
    relaxed_pool: Option<AnyPool>,
    /// Set on the per-call clones [`crate::AuditRepo::audited`] makes.
    audit: Option<Arc<crate::repo_audit::AuditSlot>>,
    /// Set on the clones [`crate::AuditRepo::read_only`] makes: [`SqlStore::begin`] refuses.
    read_only: bool,
    /// SQLite: this process's sealers take turns, so they never race each other for the
    /// same events.
    seal_turn: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls it back.
pub(crate) struct WriteTx {
    inner: TxInner,
    /// The event of the call this transaction serves, written at commit if no earlier
    /// transaction of the call carried it.
    audit: Option<Arc<crate::repo_audit::AuditSlot>>,
}

enum TxInner {
    /// PostgreSQL: a transaction of its own on a pooled connection.
    Own(Transaction<'static, Any>),
    /// SQLite: a member of the group transaction.
    Grouped(group::Member),
}

impl WriteTx {
    /// Returns once the change is durable: on SQLite, once the group holding it committed.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let slot = self.audit.take();
        let record = slot.as_ref().and_then(|s| s.take());
        let outcome = match self.inner {
            TxInner::Own(mut tx) => {
                let inserted = match &record {
                    Some(record) => {
                        audit::insert_events(&mut tx, std::slice::from_ref(record)).await
                    }
                    None => Ok(()),
                };
                match inserted {
                    Ok(()) => tx.commit().await.map_err(StoreError::from),
                    Err(e) => Err(e),
                }
            }
            // The group writes its members' events with its COMMIT.
            TxInner::Grouped(member) => member.commit(record.iter().cloned().collect()).await,
        };
        if let (Some(slot), Some(record)) = (slot, record) {
            slot.settle(record, outcome.is_ok());
        }
        outcome
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.inner {
            TxInner::Own(tx) => tx,
            TxInner::Grouped(member) => member.conn_ref(),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            TxInner::Own(tx) => tx,
            TxInner::Grouped(member) => member.conn(),
        }
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the pool: its options could include the connection URL and its password.
        f.debug_struct("SqlStore")
            .field("engine", &self.engine)
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// The statement sealing reads its batch with on PostgreSQL (`$1`: the batch size). Public
/// only so a test can check its plan against stale statistics.
#[doc(hidden)]
pub fn postgres_unsealed_events_query() -> &'static str {
    audit::select_unsealed(Engine::Postgres)
}

impl SqlStore {
    /// Opens `sqlite://PATH?mode=rwc` or `postgres://…` with default options.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// Opens the database, sets it up (SQLite: WAL, `synchronous=FULL`, foreign keys, busy
    /// timeout) and applies any migrations not yet applied. Safe to call from several
    /// processes at once on PostgreSQL (migrations take an advisory lock).
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        if engine == Engine::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            // Each pooled connection would get its own empty database.
            return Err(StoreError::InvalidConfig(
                "in-memory SQLite is not supported: use a file (sqlite://PATH?mode=rwc)".to_owned(),
            ));
        }
        let connect: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::InvalidConfig(e.to_string()))?;
        let per_connection =
            engine.connection_setup(options.busy_timeout, options.postgres_schema.as_deref())?;

        let database_setup = engine.database_setup(options.busy_timeout);
        if !database_setup.is_empty() {
            let mut conn = connect.connect().await?;
            for statement in &database_setup {
                sqlx::raw_sql(statement).execute(&mut conn).await?;
            }
            conn.close().await?;
        }

        // One batch, run unprepared: SET and PRAGMA take no parameters.
        let per_connection: Arc<str> = per_connection.join(";\n").into();
        // Also for the writer (SQLite) or the relaxed pool (PostgreSQL).
        let setup_again = Arc::clone(&per_connection);
        let pool = pool_options(&options, options.max_connections, per_connection)
            .connect_with(connect.clone())
            .await?;

        engine.migrator().await?.run(&pool).await?;

        // One batch is spent at a time per process ([`crate::AuditRepo::spend_nonces_and_append`]'s
        // caller); the second connection covers a batch still finishing as the next starts.
        // Lazy: a handle that never spends a read's nonce (the CLI, most tests) opens none.
        let relaxed_pool = match engine {
            Engine::Postgres if !options.durable_reads => {
                let setup = if setup_again.is_empty() {
                    "SET synchronous_commit = off".into()
                } else {
                    format!("{setup_again};\nSET synchronous_commit = off").into()
                };
                Some(pool_options(&options, 2, setup).connect_lazy_with(connect.clone()))
            }
            _ => None,
        };

        let writer = match engine {
            Engine::Sqlite => {
                let mut conn = connect.connect().await?;
                set_up_connection(&mut conn, setup_again).await?;
                conn.execute(&*format!(
                    "PRAGMA wal_autocheckpoint = {}",
                    group::WRITER_AUTOCHECKPOINT_PAGES
                ))
                .await?;
                // Every write transaction is a savepoint here, so each page it changes is
                // first copied to the statement sub-journal: in memory, not a temporary file
                // written with a system call per page.
                conn.execute("PRAGMA temp_store = MEMORY").await?;
                Some(group::GroupWriter::start(
                    conn,
                    options.busy_timeout,
                    Some(pool.clone()),
                ))
            }
            Engine::Postgres => None,
        };

        Ok(Self {
            pool,
            engine,
            quotas: options.quotas,
            last_nonce_purge: Arc::new(AtomicI64::new(0)),
            writer,
            read_commit: if options.durable_reads {
                group::Commit::Durable
            } else {
                group::Commit::Relaxed
            },
            relaxed_pool,
            audit: None,
            read_only: false,
            seal_turn: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Commits any open write group and closes every connection; operations after this
    /// fail with `Unavailable`.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        if let Some(relaxed) = &self.relaxed_pool {
            relaxed.close().await;
        }
        self.pool.close().await;
    }

    /// SQLite: writes a consistent snapshot of the whole database to `path` (which must not
    /// exist) while the store keeps serving, then syncs it to disk. PostgreSQL's backups are
    /// `pg_dump`'s job: `InvalidConfig`.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.engine != Engine::Sqlite {
            return Err(StoreError::InvalidConfig(
                "online backup is for the embedded SQLite database; back PostgreSQL up with pg_dump"
                    .to_owned(),
            ));
        }
        let text = path.to_str().ok_or_else(|| {
            StoreError::InvalidConfig(format!("backup path {path:?} is not UTF-8"))
        })?;
        // One read transaction sees one committed state, whatever writers do meanwhile.
        sqlx::query("VACUUM INTO $1")
            .bind(text)
            .execute(&self.pool)
            .await?;
        // VACUUM INTO does not sync its output.
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Internal(format!("cannot sync {path:?}: {e}")))?;
        Ok(())
    }

    /// Checks, read-only, that `path` is an intact SQLite database carrying Rampart's
    /// migrations (a snapshot [`SqlStore::backup_to`] wrote); `InvalidConfig` says why not.
    pub async fn verify_snapshot(path: &std::path::Path) -> Result<(), StoreError> {
        let not = |why: String| StoreError::InvalidConfig(format!("{}: {why}", path.display()));
        if !path.is_file() {
            return Err(not("no such file".to_owned()));
        }
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=ro", path.display());
        let options: AnyConnectOptions =
            url.parse().map_err(|e: sqlx::Error| not(e.to_string()))?;
        let mut conn = options.connect().await.map_err(|e| not(e.to_string()))?;
        let verdict: Result<(String, i64), sqlx::Error> = async {
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await?;
            let migrations: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&mut conn)
                    .await?;
            Ok((integrity, migrations))
        }
        .await;
        let _ = conn.close().await;
        match verdict {
            Ok((integrity, migrations)) if integrity == "ok" && migrations > 0 => Ok(()),
            Ok((integrity, _)) if integrity != "ok" => {
                Err(not(format!("integrity check: {integrity}")))
            }
            Ok(_) => Err(not("no Rampart migrations in it".to_owned())),
            Err(e) => Err(not(format!("not a Rampart database ({e})"))),
        }
    }

    /// SQLite: (group commits, write transactions committed in them) since the store opened;
    /// `None` on PostgreSQL. Their ratio is the mean group size.
    pub fn group_commit_stats(&self) -> Option<(u64, u64)> {
        self.writer.as_ref().map(group::GroupWriter::stats)
    }

    /// Starts a transaction that may write (see [`Engine::begin_write`]). Dropping it
    /// without commit rolls back, so an early `?` never leaves half a change.
    async fn begin(&self) -> Result<WriteTx, StoreError> {
        if self.read_only {
            return Err(StoreError::Internal(
                "a call that changes nothing tried to write".to_owned(),
            ));
        }
        let inner = match &self.writer {
            Some(writer) => TxInner::Grouped(writer.begin().await?),
            None => TxInner::Own(self.pool.begin_with(self.engine.begin_write()).await?),
        };
        Ok(WriteTx {
            inner,
            audit: self.audit.clone(),
        })
    }
}

/// Increments the account's authorization epoch: call in the same transaction as any change
/// that can alter effective permissions.
pub(crate) async fn bump_epoch(
    tx: &mut WriteTx,
    account: &rampart_model::AccountId,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET authz_epoch = authz_epoch + 1 WHERE account_id = $1")
        .bind(account.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Locks the account's row until the transaction ends, so per-account quota counts taken
/// after it are exact under concurrency. `NotFound(Account)`.
pub(crate) async fn lock_account(
    tx: &mut WriteTx,
    account: &rampart_model::AccountId,
) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar(
        "UPDATE accounts SET account_id = account_id WHERE account_id = $1 RETURNING account_id",
    )
    .bind(account.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    found
        .map(|_| ())
        .ok_or(StoreError::NotFound(crate::error::Entity::Account))
}

/// `SELECT COUNT(*) …` with text parameters.
pub(crate) async fn count(tx: &mut WriteTx, sql: &str, binds: &[&str]) -> Result<i64, StoreError> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The per-connection settings reach every pooled connection, not just the first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_connections_are_durable_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        // Hold several connections at once so the pool has to open new ones.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            assert_eq!(synchronous, 2, "FULL");
            assert_eq!(foreign_keys, 1);
            assert_eq!(busy, 10_000);
        }
        drop(held);
        store.close().await;
    }

    /// PostgreSQL (when reachable): reads' nonces are spent on connections that do not wait
    /// for the WAL flush, unless reads are durable; everything else waits as before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_relaxed_reads_have_their_own_connections() {
        sqlx::any::install_default_drivers();
        let url = "postgres://postgres@127.0.0.1:5432/test";
        let admin = tokio::time::timeout(Duration::from_secs(5), AnyPool::connect(url)).await;
        let Ok(Ok(admin)) = admin else {
            assert_ne!(
                std::env::var("RAMPART_REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "PostgreSQL required but not reachable"
            );
            eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is not reachable");
            return;
        };
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix).unwrap();
        let schema = format!("rampart_u_{}", hex::encode(suffix));
        admin
            .execute(&*format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let setting = |pool: AnyPool| async move {
            sqlx::query_scalar::<_, String>("SHOW synchronous_commit")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        for durable_reads in [false, true] {
            let options = StoreOptions {
                postgres_schema: Some(schema.clone()),
                durable_reads,
                ..StoreOptions::default()
            };
            let store = SqlStore::open_with(url, options).await.unwrap();
            assert_eq!(setting(store.pool.clone()).await, "on");
            match &store.relaxed_pool {
                Some(relaxed) => {
                    assert!(!durable_reads);
                    assert_eq!(setting(relaxed.clone()).await, "off");
                }
                None => assert!(durable_reads, "reads are relaxed by default"),
            }
            store.close().await;
        }
        admin
            .execute(&*format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        admin.close().await;
    }

    #[tokio::test]
    async fn in_memory_sqlite_is_refused() {
        for url in ["sqlite::memory:", "sqlite://x.db?mode=memory"] {
            assert!(matches!(
                SqlStore::open(url).await,
                Err(StoreError::InvalidConfig(_))
            ));
        }
    }
}
