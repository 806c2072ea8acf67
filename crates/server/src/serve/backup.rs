//! `rampart backup` and `rampart restore`: the embedded SQLite database to a file and back.
//!
//! The snapshot holds the database only. AccessKey secrets and MFA seeds in it are sealed
//! under the master key, which is deliberately not copied: a stolen backup opens nothing, and
//! restoring needs the `master.key` that was in use when the backup was taken.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::Args;
use rampart_store::SqlStore;

use super::bootstrap::open_store;
use super::config::{Settings, StoreArgs};
use super::{runtime, ServeError};

/// `rampart backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The snapshot to write; it must not exist yet
    #[arg(long)]
    pub to: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `rampart restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A snapshot written by `rampart backup`
    #[arg(long)]
    pub from: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists; {1}")]
    Exists(PathBuf, &'static str),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] rampart_store::StoreError),
    #[error("restore is for the embedded SQLite database; restore PostgreSQL with pg_restore")]
    Postgres,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes to `<final>.partial` and renames, so `final` is never a half-written file.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

pub fn backup(args: &BackupArgs, out: &mut dyn std::io::Write) -> Result<(), ServeError> {
    let settings = Settings::resolve_store(&args.store)?;
    if args.to.exists() {
        return Err(BackupError::Exists(args.to.clone(), "backup never overwrites a file").into());
    }
    let temp = partial(&args.to);
    // A leftover from an interrupted backup is ours to replace.
    let _ = fs::remove_file(&temp);
    runtime()?.block_on(async {
        let store = open_store(&settings).await?;
        let written = store.backup_to(&temp).await;
        store.close().await;
        written.map_err(BackupError::from)?;
        Ok::<(), ServeError>(())
    })?;
    fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(io(&temp))?;
    fs::rename(&temp, &args.to).map_err(io(&args.to))?;
    sync_parent(&args.to)?;
    let bytes = fs::metadata(&args.to).map_err(io(&args.to))?.len();
    let _ = writeln!(
        out,
        "{}",
        serde_json::json!({ "Backup": args.to.display().to_string(), "Bytes": bytes })
    );
    eprintln!(
        "rampart: the snapshot does not contain the master key; keep a copy of {} with it",
        settings.master_key_file.display()
    );
    Ok(())
}

pub fn restore(args: &RestoreArgs, out: &mut dyn std::io::Write) -> Result<(), ServeError> {
    let settings = Settings::resolve_store(&args.store)?;
    if settings.database_url.is_some() {
        return Err(BackupError::Postgres.into());
    }
    let target = settings.data_dir.join("rampart.db");
    if target.exists() {
        return Err(BackupError::Exists(
            target,
            "restore never overwrites a database: stop the server and move it (and its -wal and -shm files) aside first",
        )
        .into());
    }
    runtime()?
        .block_on(SqlStore::verify_snapshot(&args.from))
        .map_err(BackupError::from)?;
    if !settings.data_dir.exists() {
        fs::create_dir_all(&settings.data_dir).map_err(io(&settings.data_dir))?;
        fs::set_permissions(
            &settings.data_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(io(&settings.data_dir))?;
    }
    // Journal files of an earlier database would be replayed into the restored one.
    for suffix in ["-wal", "-shm"] {
        let mut name = target.as_os_str().to_owned();
        name.push(suffix);
        let stale = PathBuf::from(name);
        if stale.exists() {
            return Err(BackupError::Exists(
                stale,
                "a journal of an earlier database is still there; move it aside first",
            )
            .into());
        }
    }
    let temp = partial(&target);
    let _ = fs::remove_file(&temp);
    {
        let mut source = fs::File::open(&args.from).map_err(io(&args.from))?;
        let mut copy = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(io(&temp))?;
        std::io::copy(&mut source, &mut copy).map_err(io(&temp))?;
        copy.sync_all().map_err(io(&temp))?;
    }
    fs::rename(&temp, &target).map_err(io(&target))?;
    sync_parent(&target)?;
    let _ = writeln!(
        out,
        "{}",
        serde_json::json!({ "Restored": target.display().to_string() })
    );
    if !settings.master_key_file.exists() {
        eprintln!(
            "rampart: put the master key in use when the backup was taken at {} before starting the server",
            settings.master_key_file.display()
        );
    }
    Ok(())
}
