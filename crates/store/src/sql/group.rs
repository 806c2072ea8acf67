//! Group commit for SQLite writes.
//!
//! SQLite admits one writer at a time and, with `synchronous=FULL`, every commit waits for an
//! fsync of the WAL. One transaction per request therefore caps writes at the disk's fsync
//! rate, whatever the CPU could do. Here every write transaction of this process runs on one
//! dedicated connection, inside a shared *group* transaction, as a `SAVEPOINT` of its own:
//!
//! - a member runs its statements while it holds the writer (so members are serialised, in
//!   arrival order, exactly as they were under a plain write lock);
//! - a member that fails or is dropped is rolled back to its savepoint, so it leaves nothing
//!   behind and does not disturb the others;
//! - a member that commits hands the writer on and waits for the group's `COMMIT`; it hears
//!   "committed" only once the group is durable, so a success answer still means "on disk";
//! - a member's audit event is handed to the group with it, and the group writes all its
//!   members' events just before its `COMMIT`: same transaction as the changes they record;
//! - the group commits when nobody is queued for the writer, or when it is full. Under light
//!   load a group is one member and nothing waits; under heavy load the writers that queue
//!   during one fsync share the next.
//!
//! The writer is the one serial stage of every write in the process, and each statement a
//! member runs while holding it is a round trip to SQLite's connection thread and back
//! through the async scheduler: 100-400 µs each under load on a 2-vCPU VM, against a few µs
//! of SQLite's own work. So the writer runs as few of them as it can:
//!
//! - a member runs its `SAVEPOINT` and its own statements, nothing more. Its savepoint is
//!   never released: the group's `COMMIT` ends them all, and each has its own name (`w<n>`),
//!   so rolling one back can never reach another member's changes;
//! - the group's first member opens its savepoint with the `BEGIN`;
//! - the events of the whole group, and the `COMMIT`, go in one round trip;
//! - other calls' events, batched ([`GroupWriter::append`]), join a group without a statement;
//!   reads' nonces join with them in one round trip that checks their keys, spends them and,
//!   when it opens the group, runs its `BEGIN` ([`GroupWriter::join_opening`]);
//! - the audit sealer reads and links its batch outside the writer, and writes it in one
//!   round trip (`seal_prepared` in `audit.rs`): it used to hold the writer for ten statements,
//!   and every request behind it waited.
//!
//! An event the database refuses (a bug: the schema checks only what the code guarantees)
//! therefore fails its whole group, not only its own change: every member hears the error and
//! nothing of the group is written.
//!
//! A group is durable or relaxed ([`Commit`]). Calls that changed nothing (their nonces and
//! events) may commit relaxed, with `synchronous=NORMAL`: their answer then waits for the
//! commit but not for the fsync, which was most of their time, and the checkpointer syncs
//! within [`CHECKPOINT_INTERVAL`]. Every change commits durable. A relaxed member joins any
//! open group; a durable member that finds a relaxed group open has it committed first and
//! opens its own, since SQLite refuses to change `synchronous` inside a transaction.
//!
//! The `COMMIT` itself is issued by a background task, never by a request's future, so a
//! request cancelled by its client cannot interrupt a commit other requests depend on.
//!
//! If the group transaction fails as a whole (a failed `COMMIT`, a disk-full error that made
//! SQLite roll back), every member still waiting is told the error: nothing is half-written,
//! and no one hears "committed" for a change that is not there.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rampart_model::AuditRecord;
use sqlx::{AnyConnection, AnyPool, Executor};
use tokio::sync::{watch, Mutex, Notify, OwnedMutexGuard};

use crate::error::StoreError;

/// The most members one group transaction holds before it is committed.
const MAX_MEMBERS: usize = 128;

/// How often the background checkpointer copies the WAL back into the database file. Small
/// and frequent: a checkpoint's writes and fsync of the database file share the disk with
/// the WAL fsyncs that commits wait for, so the more pages one checkpoint copies, the longer
/// the commits behind it wait. Measured p99 of GetUser at 1,000 req/s: 4.8 ms at 250 ms, 2.7 ms at
/// 50 ms, 1.9 ms at 20 ms (BENCHMARKS.md).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(20);

/// The writer's own automatic checkpoint, in WAL pages: only a safety net for when the
/// background checkpointer cannot keep up. SQLite's default (1000 pages) runs the checkpoint
/// inside a `COMMIT`, about every second under load, and every request waiting on that commit
/// then waits for the database file's writes and fsync as well: that was most of the p99.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// WAL length (frames, one page each) at which the writer restarts the WAL from its start.
/// Passive checkpoints copy frames back but cannot rewind the WAL while readers are inside it,
/// which under steady load is always, so it only grows; a long WAL makes every read search a
/// bigger index and ends in the writer's own large checkpoint.
const RESTART_FRAMES: i64 = 4_096;

/// How long the writer waits for readers to leave the WAL when restarting it; if they do not,
/// it tries again later rather than holding up writes.
const RESTART_BUSY_MS: u64 = 20;

type Outcome = Option<Result<(), StoreError>>;

/// How a group's `COMMIT` reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    /// `synchronous=FULL`: the WAL is synced before the `COMMIT` returns. Every change.
    Durable,
    /// `synchronous=NORMAL`: the `COMMIT` returns once its frames are written to the WAL
    /// (so they survive a crash of this process and every connection sees them), and they
    /// reach the disk with the next durable commit or checkpoint sync, within
    /// [`CHECKPOINT_INTERVAL`] under load. Only for what a call that changed nothing writes:
    /// its nonce and its event.
    Relaxed,
}

impl Commit {
    /// What opens a group of this kind on a connection whose setting is `current`: SQLite
    /// refuses to change `synchronous` inside a transaction, so it goes before the `BEGIN`.
    fn opening(self, current: Option<Commit>) -> &'static str {
        match (self, current == Some(self)) {
            (_, true) => "BEGIN IMMEDIATE; ",
            (Commit::Durable, false) => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE; ",
            (Commit::Relaxed, false) => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE; ",
        }
    }
}

/// The open group transaction.
struct Group {
    /// How its `COMMIT` syncs: a durable member never joins a relaxed group.
    commit: Commit,
    /// Members that handed their changes to the group and wait for the commit.
    released: usize,
    /// Savepoints opened in this group: the next one's number, so each has its own name.
    opened: u32,
    /// The committed members' audit events, in the order the members committed.
    events: Vec<AuditRecord>,
    outcome: watch::Sender<Outcome>,
}

/// The dedicated write connection and the group open on it, if any.
pub(crate) struct Writer {
    conn: AnyConnection,
    group: Option<Group>,
    /// A member was dropped inside this savepoint: roll it back before anything else runs.
    pending_rollback: Option<u32>,
    /// A member without a savepoint was dropped: what it ran cannot be undone alone, so the
    /// group is abandoned before anything else runs.
    pending_abort: bool,
    /// A member asked for the group to be committed.
    commit_requested: bool,
    /// A `BEGIN` or `ROLLBACK` was interrupted (its caller cancelled), so the connection may
    /// be inside a transaction that no group owns: roll it back before opening a group.
    /// Every step that a cancellation can cut short sets its flag before the statement and
    /// clears it after, and every recovery can safely run twice.
    stray_tx: bool,
    closed: bool,
    /// The connection's configured busy timeout, restored after a WAL restart.
    busy_timeout: Duration,
    /// The connection's `synchronous` setting, `None` when a statement that changes it may
    /// have failed or been cut short: the next group then sets it again.
    sync: Option<Commit>,
}

impl Writer {
    /// Brings the connection back to a known state: rolls back a dropped member's savepoint
    /// (if that fails the group is lost as a whole), and a transaction no group owns.
    async fn settle(&mut self) {
        if std::mem::take(&mut self.pending_abort) {
            self.abort(StoreError::Unavailable(
                "a write of the group failed; nothing of the group was written".to_owned(),
            ))
            .await;
        }
        if let Some(n) = self.pending_rollback {
            // Cleared only once done: if this is cut short, the next caller does it again
            // (and if the savepoint turns out to be gone, or was never opened, the group is
            // abandoned, which is safe). Its own name: never an earlier member's savepoint.
            let sql = format!("ROLLBACK TO w{n}; RELEASE w{n}");
            let undone = self.conn.execute(&*sql).await;
            self.pending_rollback = None;
            if let Err(e) = undone {
                self.abort(StoreError::from(e)).await;
            }
        }
        if self.stray_tx && self.group.is_none() {
            // "No transaction is active" is the good case.
            let _ = self.conn.execute("ROLLBACK").await;
            self.stray_tx = false;
            self.sync = None;
        }
    }

    /// Ends the group with `ROLLBACK` and tells its waiting members `error`.
    async fn abort(&mut self, error: StoreError) {
        if let Some(group) = self.group.take() {
            // Told first: whatever happens to the ROLLBACK, nothing of the group commits.
            group.outcome.send_replace(Some(Err(error)));
            // The group may have been opened by a caller's batch that failed before its
            // `PRAGMA synchronous` ran.
            self.sync = None;
            self.stray_tx = true;
            // SQLite may already have rolled back (disk full, I/O error); an error here
            // only says so.
            let _ = self.conn.execute("ROLLBACK").await;
            self.stray_tx = false;
        }
    }

    /// Checkpoints the whole WAL and rewinds it, waiting only briefly for readers. Runs
    /// between groups, with the writer held, so no write of this process is in the way.
    async fn restart_wal(&mut self) {
        let short = format!("PRAGMA busy_timeout = {RESTART_BUSY_MS}");
        let usual = format!("PRAGMA busy_timeout = {}", self.busy_timeout.as_millis());
        // Busy or failed only means the WAL stays long until the next try; the usual
        // timeout is restored whatever happened, or writes would give up after 20 ms.
        if self.conn.execute(&*short).await.is_ok() {
            let _ = self.conn.execute("PRAGMA wal_checkpoint(RESTART)").await;
        }
        let _ = self.conn.execute(&*usual).await;
    }

    async fn commit_group(&mut self, stats: &Stats) {
        self.commit_requested = false;
        let Some(group) = self.group.take() else {
            return;
        };
        // The events and the COMMIT in one round trip. SQLite stops at the first failing
        // statement, so the group never commits without its events.
        let committed = if group.events.is_empty() {
            self.conn
                .execute("COMMIT")
                .await
                .map(|_| ())
                .map_err(StoreError::from)
        } else {
            super::audit::insert_events_and_commit(&mut self.conn, &group.events).await
        };
        match committed {
            Ok(_) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .members
                    .fetch_add(group.released as u64, Ordering::Relaxed);
                group.outcome.send_replace(Some(Ok(())));
            }
            Err(e) => {
                group.outcome.send_replace(Some(Err(e)));
                self.stray_tx = true;
                let _ = self.conn.execute("ROLLBACK").await;
                self.stray_tx = false;
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    members: AtomicU64,
    /// Set by the checkpointer when the WAL is long: the committer rewinds it between groups.
    restart_wanted: AtomicBool,
}

/// Handle to the writer; cheap to clone.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    writer: Arc<Mutex<Writer>>,
    /// Tasks queued for `writer` (they count themselves before locking).
    waiting: Arc<AtomicUsize>,
    /// Durable members waiting for a relaxed group to end. While there are any, relaxed
    /// members open durable groups, so a steady stream of reads cannot keep a change out.
    durable_waiting: Arc<AtomicUsize>,
    wake_committer: Arc<Notify>,
    stats: Arc<Stats>,
}

impl GroupWriter {
    /// Takes over `conn` (already set up: WAL, `synchronous=FULL`, foreign keys) and starts
    /// the committer task on the current runtime, and, when `checkpoints` is given, the
    /// checkpointer on that pool.
    pub(crate) fn start(
        conn: AnyConnection,
        busy_timeout: Duration,
        checkpoints: Option<AnyPool>,
    ) -> Self {
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            group: None,
            pending_rollback: None,
            pending_abort: false,
            commit_requested: false,
            stray_tx: false,
            closed: false,
            busy_timeout,
            sync: Some(Commit::Durable),
        }));
        let this = Self {
            writer,
            waiting: Arc::new(AtomicUsize::new(0)),
            durable_waiting: Arc::new(AtomicUsize::new(0)),
            wake_committer: Arc::new(Notify::new()),
            stats: Arc::new(Stats::default()),
        };
        tokio::spawn(committer(
            Arc::downgrade(&this.writer),
            Arc::clone(&this.waiting),
            Arc::clone(&this.wake_committer),
            Arc::clone(&this.stats),
        ));
        if let Some(pool) = checkpoints {
            tokio::spawn(checkpointer(
                Arc::downgrade(&this.writer),
                pool,
                Arc::clone(&this.stats),
                Arc::clone(&this.wake_committer),
            ));
        }
        this
    }

    /// Joins (or opens) the group and opens the caller's savepoint.
    pub(crate) async fn begin(&self) -> Result<Member, StoreError> {
        let (mut member, _) = self.admit(Opening::WithSavepoint, Commit::Durable).await?;
        if member.stage != Stage::Outside {
            // Opened with the group.
            return Ok(member);
        }
        let writer = &mut *member.guard;
        let Some(group) = writer.group.as_mut() else {
            return Err(StoreError::Internal("admitted without a group".to_owned()));
        };
        let n = group.opened;
        group.opened += 1;
        // Set before the statement: a cancelled SAVEPOINT may or may not have run, and
        // rolling back to a name that was never opened only abandons the group (safe),
        // while the names are unique within the group, so it can never reach an earlier
        // member's changes.
        member.stage = Stage::Savepoint(n);
        // No arguments, so not kept prepared: the names vary.
        let sql = format!("SAVEPOINT w{n}");
        if let Err(e) = writer.conn.execute(&*sql).await {
            member.stage = Stage::Outside;
            let e = StoreError::from(e);
            writer.abort(e.clone()).await;
            return Err(e);
        }
        Ok(member)
    }

    /// Adds events to the group without a transaction of their own (other calls' events,
    /// batched), and returns once they are committed.
    pub(crate) async fn append(&self, events: Vec<AuditRecord>) -> Result<(), StoreError> {
        // Runs no statement, so it needs neither a savepoint nor `join`'s guard.
        self.admit(Opening::Now, Commit::Durable)
            .await?
            .0
            .commit(events)
            .await
    }

    /// Joins (or opens) the group without a savepoint, for a member whose statements are
    /// each atomic and harmless to keep should it be dropped before it commits.
    ///
    /// Dropping it without [`Member::commit`] abandons the whole group: a failed statement
    /// may have been one (disk full, I/O error) after which SQLite rolled the transaction
    /// back, and a later member's `SAVEPOINT` would then open a new transaction that commits
    /// without the earlier members' changes while they hear "committed".
    pub(crate) async fn join(&self, commit: Commit) -> Result<Member, StoreError> {
        let (mut member, _) = self.admit(Opening::Now, commit).await?;
        member.stage = Stage::Bare;
        Ok(member)
    }

    /// [`GroupWriter::join`], except that a group it has to open is opened by the caller's
    /// first statement, saving the `BEGIN`'s round trip: the caller runs the returned
    /// prefix (`BEGIN IMMEDIATE; `, after the `PRAGMA synchronous` that `commit` needs if the
    /// connection is not set so, or nothing when it joins an open group) in the same batch as
    /// that statement.
    ///
    /// The group exists from here on, whether or not its `BEGIN` ends up running: should
    /// the batch fail or be cut short, dropping the member abandons the group, and its
    /// `ROLLBACK` then either ends the transaction the `BEGIN` opened or finds none.
    pub(crate) async fn join_opening(
        &self,
        commit: Commit,
    ) -> Result<(Member, &'static str), StoreError> {
        let (mut member, begin) = self.admit(Opening::ByCaller, commit).await?;
        member.stage = Stage::Bare;
        Ok((member, begin))
    }

    /// Takes the writer and joins the open group, opening one if there is none (see
    /// [`Opening`]); returns what the caller must run first to open it.
    async fn admit(
        &self,
        opening: Opening,
        commit: Commit,
    ) -> Result<(Member, &'static str), StoreError> {
        let mut backing_off: Option<BackingOff<'_>> = None;
        let mut member = loop {
            let queued = Queued::new(self);
            let guard = Arc::clone(&self.writer).lock_owned().await;
            queued.admitted();
            drop(backing_off.take());
            // From here a cancelled or failed begin leaves through Member's Drop, which makes
            // sure the group is still committed by someone.
            let mut member = Member {
                guard,
                outcome: None,
                stage: Stage::Outside,
                handle: self.clone(),
            };
            let writer = &mut *member.guard;
            writer.settle().await;
            if writer.closed {
                return Err(StoreError::Unavailable("the store is closed".to_owned()));
            }
            let relaxed = writer
                .group
                .as_ref()
                .filter(|g| g.commit == Commit::Relaxed && commit == Commit::Durable);
            let Some(group) = relaxed else {
                break member;
            };
            // Its COMMIT would not sync this member's changes. Relaxed members commit as soon
            // as they have run, so it is about to end: have it committed now, and open a
            // durable group after it.
            let mut ended = group.outcome.subscribe();
            writer.commit_requested = true;
            backing_off = Some(BackingOff::new(&self.durable_waiting));
            // Hands the writer back; dropped `Outside`, it wakes the committer.
            drop(member);
            // Committed or failed, it has ended either way (and a closed channel means the
            // same): the next turn finds no group or another one.
            let _ = ended.wait_for(Option::is_some).await;
        };
        let writer = &mut *member.guard;
        let commit = if self.durable_waiting.load(Ordering::Acquire) > 0 {
            // A relaxed member only gets more than it needs.
            Commit::Durable
        } else {
            commit
        };
        let mut begin = "";
        if writer.group.is_none() {
            // IMMEDIATE: take SQLite's write lock now (waiting up to the busy timeout for
            // another process), not at the first write, where it could fail without waiting.
            let savepoint = opening == Opening::WithSavepoint;
            let opening_sql = commit.opening(writer.sync);
            if opening == Opening::ByCaller {
                begin = opening_sql;
                // Should the caller's batch fail before its PRAGMA ran, the group is
                // abandoned, and that forgets this.
                writer.sync = Some(commit);
            } else {
                // If this fails half-way, or is cut short, `stray_tx` stays set and the next
                // caller rolls the whole transaction back.
                writer.stray_tx = true;
                writer.sync = None;
                let sql: std::borrow::Cow<'static, str> = if savepoint {
                    format!("{opening_sql}SAVEPOINT w0").into()
                } else {
                    opening_sql.into()
                };
                writer.conn.execute(&*sql).await?;
                writer.sync = Some(commit);
                writer.stray_tx = false;
            }
            writer.group = Some(Group {
                commit,
                released: 0,
                opened: u32::from(savepoint),
                events: Vec::new(),
                outcome: watch::Sender::new(None),
            });
            if savepoint {
                member.stage = Stage::Savepoint(0);
            }
        }
        member.outcome = writer.group.as_ref().map(|g| g.outcome.subscribe());
        Ok((member, begin))
    }

    /// Marks the store closed: later writes fail with `Unavailable`, and the committer ends.
    pub(crate) async fn close(&self) {
        let mut writer = self.writer.lock().await;
        writer.settle().await;
        writer.commit_group(&self.stats).await;
        writer.closed = true;
        drop(writer);
        self.wake_committer.notify_one();
    }

    /// (group commits, members committed) since the store opened.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.members.load(Ordering::Relaxed),
        )
    }
}

/// Commits groups on request. Holds the writer weakly, so it ends with the store.
async fn committer(
    writer: Weak<Mutex<Writer>>,
    waiting: Arc<AtomicUsize>,
    wake: Arc<Notify>,
    stats: Arc<Stats>,
) {
    loop {
        wake.notified().await;
        let Some(writer) = writer.upgrade() else {
            return;
        };
        let mut w = writer.lock().await;
        w.settle().await;
        // Someone who queued behind the request will join the group and ask again; a full
        // group or an empty queue commits now.
        let full = w.group.as_ref().is_some_and(|g| g.released >= MAX_MEMBERS);
        if w.group.is_some() && (full || w.commit_requested || waiting.load(Ordering::Acquire) == 0)
        {
            w.commit_group(&stats).await;
        }
        if w.group.is_none() && !w.closed && stats.restart_wanted.swap(false, Ordering::AcqRel) {
            w.restart_wal().await;
        }
        if w.closed {
            return;
        }
    }
}

/// Copies committed WAL frames into the database file off the commit path. A passive
/// checkpoint neither waits for nor blocks the writer; once it has caught up, the next
/// writer starts the WAL from its beginning, so the file stays small.
///
/// After each checkpoint it also syncs the database file and the WAL itself, on a blocking
/// thread. A passive checkpoint that readers keep from finishing leaves the pages it copied
/// unsynced, and the WAL restart's checkpoint, which holds the writer, then waited for all of
/// them at once (14 ms after 1.4 s of load, measured). And relaxed commits
/// ([`Commit::Relaxed`]) reach the disk here at the latest.
async fn checkpointer(
    writer: Weak<Mutex<Writer>>,
    pool: AnyPool,
    stats: Arc<Stats>,
    wake_committer: Arc<Notify>,
) {
    let files = database_files(&pool).await;
    let mut checkpointed_at = 0;
    loop {
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
        match writer.upgrade() {
            Some(w) if !pool.is_closed() => drop(w),
            _ => return,
        }
        // An idle server has nothing to copy back.
        let commits = stats.commits.load(Ordering::Relaxed);
        if commits == checkpointed_at {
            continue;
        }
        checkpointed_at = commits;
        // (busy, frames in the WAL, frames copied back). A failure only leaves the WAL
        // longer; the writer's own checkpoint is the backstop.
        let done: Result<Option<(i64, i64, i64)>, _> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_optional(&pool)
                .await;
        if let Some(files) = &files {
            let files = Arc::clone(files);
            // A failure leaves the syncing to SQLite's own checkpoints and commits.
            let _ = tokio::task::spawn_blocking(move || sync_files(&files)).await;
        }
        if let Ok(Some((_, frames, _))) = done {
            if frames >= RESTART_FRAMES {
                stats.restart_wanted.store(true, Ordering::Release);
                wake_committer.notify_one();
            }
        }
    }
}

/// The database file and its WAL, as SQLite names them; `None` if it cannot say.
async fn database_files(pool: &AnyPool) -> Option<Arc<[PathBuf; 2]>> {
    let databases: Vec<(i64, String, String)> = sqlx::query_as("PRAGMA database_list")
        .fetch_all(pool)
        .await
        .ok()?;
    let (_, _, main) = databases.into_iter().find(|(_, name, _)| name == "main")?;
    if main.is_empty() {
        return None;
    }
    let wal = PathBuf::from(format!("{main}-wal"));
    Some(Arc::new([PathBuf::from(main), wal]))
}

/// Flushes what any connection wrote to the database file and the WAL (`files`): a sync
/// through one descriptor covers the file's pages whoever wrote them. Only flushes: both are
/// opened read-only.
fn sync_files(files: &[PathBuf; 2]) -> std::io::Result<()> {
    let [database, wal] = files;
    kept_open(database)?.sync_data()?;
    // SQLite holds no lock on the WAL (its locks are on the database file and the `-shm`),
    // so a descriptor of its own can be closed again.
    std::fs::File::open(wal)?.sync_data()
}

/// A read-only descriptor of the file at `path` that this process never closes. Closing any
/// descriptor of a file drops every POSIX lock the process holds on it, SQLite's included
/// (sqlite.org/howtocorrupt.html, 2.2): another process would then take this one's
/// connections for gone, and delete the WAL they still use. So a database file is opened
/// here once per process, and kept.
fn kept_open(path: &std::path::Path) -> std::io::Result<Arc<std::fs::File>> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Mutex as StdMutex, OnceLock, PoisonError};
    /// Descriptors by (device, inode).
    type Kept = HashMap<(u64, u64), Arc<std::fs::File>>;
    static KEPT: OnceLock<StdMutex<Kept>> = OnceLock::new();
    // By inode, looked up without opening anything: a descriptor opened only to be closed
    // again would be exactly the mistake this avoids.
    let meta = std::fs::metadata(path)?;
    let mut kept = KEPT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(file) = kept.get(&(meta.dev(), meta.ino())) {
        return Ok(Arc::clone(file));
    }
    let file = Arc::new(std::fs::File::open(path)?);
    kept.insert((meta.dev(), meta.ino()), Arc::clone(&file));
    Ok(file)
}

/// Counts a task as queued for the writer until it gets it. A task cancelled while queued
/// may have been the one a released member left the group open for, so the committer is
/// woken to check.
struct Queued<'a> {
    handle: &'a GroupWriter,
    admitted: bool,
}

impl<'a> Queued<'a> {
    fn new(handle: &'a GroupWriter) -> Self {
        handle.waiting.fetch_add(1, Ordering::AcqRel);
        Self {
            handle,
            admitted: false,
        }
    }

    fn admitted(mut self) {
        self.admitted = true;
        self.handle.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.handle.waiting.fetch_sub(1, Ordering::AcqRel);
            self.handle.wake_committer.notify_one();
        }
    }
}

/// Counts a durable member as waiting for a relaxed group to end, until it holds the writer
/// again or is cancelled.
struct BackingOff<'a>(&'a AtomicUsize);

impl<'a> BackingOff<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for BackingOff<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a member that finds no group open opens one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// `BEGIN` now.
    Now,
    /// `BEGIN` and the member's savepoint now, in one round trip.
    WithSavepoint,
    /// The member's own first statement begins it ([`GroupWriter::join_opening`]).
    ByCaller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Holding the writer, no savepoint of ours open.
    Outside,
    /// Our savepoint `w<n>` is open: dropping now must undo it.
    Savepoint(u32),
    /// Joined without a savepoint ([`GroupWriter::join`]): dropping now abandons the group.
    Bare,
    /// Our changes belong to the group, and its commit is arranged: nothing left to do.
    Done,
}

/// One write transaction: a savepoint inside the group, holding the writer until it
/// commits or is dropped. Dropping it without [`Member::commit`] rolls it back.
pub(crate) struct Member {
    guard: OwnedMutexGuard<Writer>,
    outcome: Option<watch::Receiver<Outcome>>,
    stage: Stage,
    handle: GroupWriter,
}

impl Member {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.guard.conn
    }

    pub(crate) fn conn_ref(&self) -> &AnyConnection {
        &self.guard.conn
    }

    /// Hands this member's changes and `events` to the group, hands the writer on, and
    /// returns once the group holding them is committed (or has failed).
    ///
    /// Nothing here awaits while holding the writer, so a cancelled commit either never
    /// started (and the member is rolled back on drop) or has handed everything over.
    pub(crate) async fn commit(mut self, events: Vec<AuditRecord>) -> Result<(), StoreError> {
        let writer = &mut *self.guard;
        let Some(group) = writer.group.as_mut() else {
            // Not expected: since `admit` the writer has been ours, and nothing of ours ends
            // a group. Refused rather than counted into a group that is not there.
            self.stage = Stage::Done;
            return Err(StoreError::Unavailable(
                "the write group ended without committing".to_owned(),
            ));
        };
        group.events.extend(events);
        group.released += 1;
        let full = group.released >= MAX_MEMBERS;
        if full || self.handle.waiting.load(Ordering::Acquire) == 0 {
            writer.commit_requested = true;
            self.handle.wake_committer.notify_one();
        }
        let outcome = self.outcome.take();
        self.stage = Stage::Done;
        // Hands the writer to the next member, who will commit or hand on, or to the committer.
        drop(self);
        let Some(mut outcome) = outcome else {
            return Err(StoreError::Internal(
                "write group has no outcome".to_owned(),
            ));
        };
        let result = outcome.wait_for(Option::is_some).await.map_err(|_| {
            StoreError::Unavailable("the write group ended without committing".to_owned())
        })?;
        match &*result {
            Some(r) => r.clone(),
            None => Err(StoreError::Internal(
                "write group has no outcome".to_owned(),
            )),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        match self.stage {
            Stage::Savepoint(n) => {
                self.guard.pending_rollback = Some(n);
                self.handle.wake_committer.notify_one();
            }
            Stage::Bare => {
                self.guard.pending_abort = true;
                self.handle.wake_committer.notify_one();
            }
            Stage::Outside => {
                // Cancelled in begin: the group may be open with members waiting on it, and
                // no one else may come to commit it.
                self.handle.wake_committer.notify_one();
            }
            Stage::Done => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use sqlx::{ConnectOptions, Connection};

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
        url: String,
        writer: GroupWriter,
    }

    async fn fixture() -> Fixture {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let options: sqlx::any::AnyConnectOptions = url.parse().unwrap();
        let mut conn = options.connect().await.unwrap();
        conn.execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             CREATE TABLE parent (id TEXT PRIMARY KEY); \
             CREATE TABLE t (v TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) \
             DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .unwrap();
        Fixture {
            dir,
            url,
            writer: GroupWriter::start(conn, Duration::from_secs(10), None),
        }
    }

    impl Fixture {
        /// What another connection sees: only committed rows.
        async fn committed(&self) -> Vec<String> {
            let options: sqlx::any::AnyConnectOptions = self.url.parse().unwrap();
            let mut conn = options.connect().await.unwrap();
            let rows: Vec<String> = sqlx::query_scalar("SELECT v FROM t ORDER BY v")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            rows
        }

        async fn queued(&self, n: usize) {
            for _ in 0..1000 {
                if self.writer.waiting.load(Ordering::Acquire) == n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("never {n} queued");
        }
    }

    async fn insert(member: &mut Member, v: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind(v)
            .execute(member.conn())
            .await
            .map(|_| ())
    }

    fn within<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
        tokio::time::timeout(Duration::from_secs(10), f)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_member_is_undone_and_its_group_commits_without_it() {
        let fx = fixture().await;
        let mut first = fx.writer.begin().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        let writer = fx.writer.clone();
        let second = tokio::spawn(async move {
            let mut m = writer.begin().await.unwrap();
            insert(&mut m, "b").await.unwrap();
            // Dropped without commit: an early `?` in a repository method.
        });
        fx.queued(1).await;
        // Someone is queued, so `first` leaves the group open for them.
        let committed = tokio::spawn(first.commit(Vec::new()));
        second.await.unwrap();
        within(committed).await.unwrap().unwrap().unwrap();
        assert_eq!(fx.committed().await, ["a"]);
        assert_eq!(fx.writer.stats(), (1, 1), "one group, one member kept");
        // The writer is usable afterwards.
        let mut third = fx.writer.begin().await.unwrap();
        insert(&mut third, "c").await.unwrap();
        third.commit(Vec::new()).await.unwrap();
        assert_eq!(fx.committed().await, ["a", "c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_member_without_a_savepoint_abandons_its_group() {
        let fx = fixture().await;
        let mut first = fx.writer.begin().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        let writer = fx.writer.clone();
        let second = tokio::spawn(async move {
            let mut m = writer.join(Commit::Durable).await.unwrap();
            insert(&mut m, "b").await.unwrap();
            // Dropped: what it ran cannot be undone alone.
        });
        fx.queued(1).await;
        let committed = tokio::spawn(first.commit(Vec::new()));
        second.await.unwrap();
        let outcome = within(committed).await.unwrap().unwrap();
        assert!(outcome.is_err(), "the group must not commit: {outcome:?}");
        assert!(fx.committed().await.is_empty());
        // The next group starts clean.
        let mut third = fx.writer.join(Commit::Durable).await.unwrap();
        insert(&mut third, "c").await.unwrap();
        third.commit(Vec::new()).await.unwrap();
        assert_eq!(fx.committed().await, ["c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_opens_its_group_itself_commits_or_leaves_nothing() {
        let fx = fixture().await;
        // Its batch fails after its BEGIN and a first write: the group is abandoned.
        let (mut m, begin) = fx.writer.join_opening(Commit::Durable).await.unwrap();
        assert_eq!(begin, "BEGIN IMMEDIATE; ");
        let sql =
            format!("{begin}INSERT INTO t (v) VALUES ('lost'); INSERT INTO nowhere VALUES (1)");
        assert!(m.conn().execute(&*sql).await.is_err());
        drop(m);
        // The next member finds no transaction left open: its own BEGIN works.
        let mut next = within(fx.writer.begin()).await.unwrap().unwrap();
        insert(&mut next, "kept").await.unwrap();
        // A member that joins the open group runs no BEGIN of its own.
        let writer = fx.writer.clone();
        let joined = tokio::spawn(async move {
            let (mut m, begin) = writer.join_opening(Commit::Durable).await.unwrap();
            assert_eq!(begin, "", "the group is open");
            insert(&mut m, "joined").await.unwrap();
            m.commit(Vec::new()).await
        });
        fx.queued(1).await;
        let first = tokio::spawn(next.commit(Vec::new()));
        within(joined).await.unwrap().unwrap().unwrap();
        within(first).await.unwrap().unwrap().unwrap();
        assert_eq!(fx.committed().await, ["joined", "kept"]);
        // Opening its group itself, on its own.
        let (mut m, begin) = fx.writer.join_opening(Commit::Durable).await.unwrap();
        let sql = format!("{begin}INSERT INTO t (v) VALUES ('alone')");
        m.conn().execute(&*sql).await.unwrap();
        within(m.commit(Vec::new())).await.unwrap().unwrap();
        assert_eq!(fx.committed().await, ["alone", "joined", "kept"]);
        assert_eq!(fx.writer.stats(), (2, 3));
    }

    /// The writer connection's `synchronous` setting, as a member sees it: 2 FULL, 1 NORMAL.
    async fn synchronous(member: &mut Member) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(member.conn())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_never_commits_in_a_relaxed_group() {
        let fx = fixture().await;
        // A read's batch opens a relaxed group itself.
        let (mut read, begin) = fx.writer.join_opening(Commit::Relaxed).await.unwrap();
        assert_eq!(begin, "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE; ");
        let sql = format!("{begin}INSERT INTO t (v) VALUES ('read')");
        read.conn().execute(&*sql).await.unwrap();
        assert_eq!(synchronous(&mut read).await, 1, "NORMAL");
        // A change queues behind it, and another read's batch behind that.
        let writer = fx.writer.clone();
        let change = tokio::spawn(async move {
            let mut m = writer.begin().await.unwrap();
            let sync = synchronous(&mut m).await;
            insert(&mut m, "change").await.unwrap();
            m.commit(Vec::new()).await.map(|()| sync)
        });
        fx.queued(1).await;
        // Released with a change queued, the group stays open for it; the change has it
        // committed instead, and opens a durable group of its own.
        within(read.commit(Vec::new())).await.unwrap().unwrap();
        let sync = within(change).await.unwrap().unwrap().unwrap();
        assert_eq!(sync, 2, "the change ran under FULL");
        assert_eq!(fx.committed().await, ["change", "read"]);
        assert_eq!(fx.writer.stats(), (2, 2), "two groups");
        // A read's batch joins an open durable group: it only gets more than it needs.
        let mut change = fx.writer.begin().await.unwrap();
        insert(&mut change, "change2").await.unwrap();
        let writer = fx.writer.clone();
        let read = tokio::spawn(async move {
            let (mut m, begin) = writer.join_opening(Commit::Relaxed).await.unwrap();
            assert_eq!(begin, "", "joined the open group");
            insert(&mut m, "read2").await.unwrap();
            m.commit(Vec::new()).await
        });
        fx.queued(1).await;
        let first = tokio::spawn(change.commit(Vec::new()));
        within(read).await.unwrap().unwrap().unwrap();
        within(first).await.unwrap().unwrap().unwrap();
        assert_eq!(fx.writer.stats(), (3, 4), "one more group, for both");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_among_a_stream_of_reads_all_run_durable() {
        let fx = fixture().await;
        let mut tasks = Vec::new();
        // Two streams of read batches, back to back, as the audit writer sends them.
        for stream in 0..2 {
            let writer = fx.writer.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..150 {
                    let (mut m, begin) = writer.join_opening(Commit::Relaxed).await.unwrap();
                    let sql = format!("{begin}INSERT INTO t (v) VALUES ('r{stream}-{i:03}')");
                    m.conn().execute(&*sql).await.unwrap();
                    m.commit(Vec::new()).await.unwrap();
                }
                Vec::new()
            }));
        }
        // Changes arriving among them: each must run under FULL, and get in.
        for c in 0..2 {
            let writer = fx.writer.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                for i in 0..20 {
                    let mut m = writer.begin().await.unwrap();
                    seen.push(synchronous(&mut m).await);
                    insert(&mut m, &format!("c{c}-{i:02}")).await.unwrap();
                    m.commit(Vec::new()).await.unwrap();
                }
                seen
            }));
        }
        for t in tasks {
            let seen = within(t).await.unwrap().unwrap();
            assert!(seen.iter().all(|&s| s == 2), "a change ran under {seen:?}");
        }
        assert_eq!(fx.committed().await.len(), 2 * 150 + 2 * 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_opening_leaves_no_doubt_about_synchronous() {
        let fx = fixture().await;
        let (mut read, begin) = fx.writer.join_opening(Commit::Relaxed).await.unwrap();
        read.conn()
            .execute(&*format!("{begin}SELECT 1"))
            .await
            .unwrap();
        within(read.commit(Vec::new())).await.unwrap().unwrap();
        // A change's batch that would switch back to FULL is cut short before it runs: the
        // connection is still NORMAL, so the next group must set FULL again.
        let (switch, begin) = fx.writer.join_opening(Commit::Durable).await.unwrap();
        assert_eq!(begin, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE; ");
        drop(switch);
        let mut change = within(fx.writer.begin()).await.unwrap().unwrap();
        assert_eq!(synchronous(&mut change).await, 2, "FULL");
        insert(&mut change, "change").await.unwrap();
        within(change.commit(Vec::new())).await.unwrap().unwrap();
        assert_eq!(fx.committed().await, ["change"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_finds_the_files_it_syncs() {
        let fx = fixture().await;
        let mut m = fx.writer.begin().await.unwrap();
        insert(&mut m, "a").await.unwrap();
        m.commit(Vec::new()).await.unwrap();
        let pool = sqlx::AnyPool::connect(&fx.url).await.unwrap();
        let files = database_files(&pool).await.expect("SQLite names its file");
        let db = fx.dir.path().join("g.db").canonicalize().unwrap();
        assert_eq!(files[0].canonicalize().unwrap(), db);
        assert_eq!(
            files[1].canonicalize().unwrap(),
            fx.dir.path().join("g.db-wal").canonicalize().unwrap()
        );
        sync_files(&files).unwrap();
        pool.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_queued_during_a_member_share_one_commit() {
        let fx = fixture().await;
        let first = fx.writer.begin().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let writer = fx.writer.clone();
            tasks.push(tokio::spawn(async move {
                let mut m = writer.begin().await.unwrap();
                insert(&mut m, &format!("v{i:02}")).await.unwrap();
                m.commit(Vec::new()).await
            }));
        }
        fx.queued(20).await;
        // Nothing is visible before the group commits.
        assert!(fx.committed().await.is_empty());
        let first = tokio::spawn(first.commit(Vec::new()));
        for t in tasks {
            within(t).await.unwrap().unwrap().unwrap();
        }
        within(first).await.unwrap().unwrap().unwrap();
        assert_eq!(fx.committed().await.len(), 20);
        assert_eq!(fx.writer.stats(), (1, 21), "21 transactions, one commit");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_is_reported_to_every_member_of_the_group() {
        let fx = fixture().await;
        let mut first = fx.writer.begin().await.unwrap();
        insert(&mut first, "fine").await.unwrap();
        let writer = fx.writer.clone();
        let second = tokio::spawn(async move {
            let mut m = writer.begin().await.unwrap();
            // Checked only at COMMIT: the group's commit fails as a whole.
            sqlx::query("INSERT INTO t (v, parent) VALUES ('orphan', 'missing')")
                .execute(m.conn())
                .await
                .unwrap();
            m.commit(Vec::new()).await
        });
        fx.queued(1).await;
        let first = within(first.commit(Vec::new())).await.unwrap();
        let second = within(second).await.unwrap().unwrap();
        assert!(first.is_err(), "{first:?}");
        assert!(second.is_err(), "{second:?}");
        assert!(
            fx.committed().await.is_empty(),
            "nothing of the group remains"
        );
        // The next group starts clean.
        let mut next = fx.writer.begin().await.unwrap();
        insert(&mut next, "later").await.unwrap();
        next.commit(Vec::new()).await.unwrap();
        assert_eq!(fx.committed().await, ["later"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_cancelled_in_the_queue_does_not_strand_the_group() {
        let fx = fixture().await;
        let mut first = fx.writer.begin().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        // Polled once: queued for the writer, then never polled again.
        let mut queued = Box::pin(fx.writer.begin());
        tokio::select! {
            biased;
            _ = &mut queued => panic!("admitted before the holder let go"),
            () = std::future::ready(()) => {}
        }
        assert_eq!(fx.writer.waiting.load(Ordering::Acquire), 1);
        // The holder sees someone queued and leaves the group open for them...
        let committed = tokio::spawn(first.commit(Vec::new()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!committed.is_finished(), "left open for the queued task");
        // ...who is then cancelled before getting the writer.
        drop(queued);
        within(committed).await.unwrap().unwrap().unwrap();
        assert_eq!(fx.committed().await, ["a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_cancelled_inside_its_savepoint_is_undone() {
        let fx = fixture().await;
        for round in 0..50u64 {
            let writer = fx.writer.clone();
            let task = tokio::spawn(async move {
                let mut m = writer.begin().await.unwrap();
                insert(&mut m, &format!("x{round}")).await.unwrap();
                insert(&mut m, &format!("y{round}")).await.unwrap();
                m.commit(Vec::new()).await
            });
            // Cancel at varying points: before, during or after the member's work.
            tokio::time::sleep(Duration::from_micros(round * 20)).await;
            task.abort();
            let _ = task.await;
        }
        let mut last = within(fx.writer.begin()).await.unwrap().unwrap();
        insert(&mut last, "z").await.unwrap();
        within(last.commit(Vec::new())).await.unwrap().unwrap();
        let rows = fx.committed().await;
        // Whole members or nothing: every x has its y.
        for row in rows.iter().filter(|r| r.starts_with('x')) {
            let y = format!("y{}", &row[1..]);
            assert!(rows.contains(&y), "{row} without {y}: {rows:?}");
        }
        assert!(rows.contains(&"z".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wal_restart_rewinds_the_wal_and_keeps_the_busy_timeout() {
        let fx = fixture().await;
        for i in 0..50 {
            let mut m = fx.writer.begin().await.unwrap();
            insert(&mut m, &format!("r{i}")).await.unwrap();
            m.commit(Vec::new()).await.unwrap();
        }
        let mut w = fx.writer.writer.lock().await;
        w.restart_wal().await;
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut w.conn)
            .await
            .unwrap();
        assert_eq!(busy, 10_000, "the usual timeout is back");
        drop(w);
        // The next write starts the WAL from its beginning: it holds only that write.
        let mut m = fx.writer.begin().await.unwrap();
        insert(&mut m, "after").await.unwrap();
        m.commit(Vec::new()).await.unwrap();
        let mut w = fx.writer.writer.lock().await;
        let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut w.conn)
            .await
            .unwrap();
        assert!(frames < 10, "{frames} frames after a rewind and one write");
        drop(w);
        assert_eq!(fx.committed().await.len(), 51);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_writer_refuses_new_members() {
        let fx = fixture().await;
        let mut m = fx.writer.begin().await.unwrap();
        insert(&mut m, "a").await.unwrap();
        m.commit(Vec::new()).await.unwrap();
        fx.writer.close().await;
        assert!(matches!(
            fx.writer.begin().await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(fx.committed().await, ["a"]);
    }
}
