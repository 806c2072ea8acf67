//! Opening the store and the master key, and the first start: the management account and
//! `bootstrap.json`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rampart_model::{
    check_access_key_secret, AccessKeyId, Account, Clock, MasterKey, NewAccessKey, SecretString,
};
use rampart_store::{AccountRepo, NewAccount, Page, SqlStore, StoreError, StoreOptions};
use serde::Serialize;

use super::config::Settings;

pub const MANAGEMENT_ACCOUNT: &str = "management";
const MASTER_KEY_LEN: usize = 32;
const MASTER_KEY_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("master key {path} is readable by group or others (mode {mode:o}); run chmod 600")]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("master key {path} must hold {MASTER_KEY_LEN} bytes as 64 hex digits")]
    KeyFormat { path: PathBuf },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("RAMPART_BOOTSTRAP_ACCESS_KEY_ID and RAMPART_BOOTSTRAP_ACCESS_KEY_SECRET must be set together")]
    PresetPair,
    #[error("RAMPART_BOOTSTRAP_ACCESS_KEY_ID must be LTAI followed by 20 letters or digits")]
    PresetId,
    #[error("RAMPART_BOOTSTRAP_ACCESS_KEY_SECRET must be 30 letters or digits")]
    PresetSecret,
    #[error("{0} exists but the store has no accounts: move it away (it is never overwritten)")]
    StaleBootstrap(PathBuf),
    #[error("cryptography: {0}")]
    Crypto(String),
    #[error("cannot encode credentials: {0}")]
    Json(#[from] serde_json::Error),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The database URL: `--database-url`, else SQLite in the data directory.
pub fn database_url(settings: &Settings) -> Result<String, BootstrapError> {
    if let Some(url) = &settings.database_url {
        return Ok(url.clone());
    }
    create_private_dir(&settings.data_dir)?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        settings.data_dir.join("rampart.db").display()
    ))
}

fn create_private_dir(dir: &Path) -> Result<(), BootstrapError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    }
    Ok(())
}

pub async fn open_store(settings: &Settings) -> Result<SqlStore, BootstrapError> {
    let url = database_url(settings)?;
    let options = StoreOptions {
        max_connections: settings.database_max_connections,
        durable_reads: settings.durable_reads,
        postgres_schema: settings.database_schema.clone(),
        ..StoreOptions::default()
    };
    Ok(SqlStore::open_with(&url, options).await?)
}

/// Reads the master key, or creates it (0600) when `create` and it does not exist. A key
/// file others can read is refused: it unseals every secret.
pub fn master_key(path: &Path, create: bool) -> Result<MasterKey, BootstrapError> {
    if !path.exists() && create {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                create_private_dir(dir)?;
            }
        }
        let mut bytes = [0u8; MASTER_KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| BootstrapError::Crypto(e.to_string()))?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path))?;
        file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_err(path))?;
    }
    let mode = fs::metadata(path)
        .map_err(io_err(path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(BootstrapError::KeyPermissions {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
    let bytes = zeroize::Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
        BootstrapError::KeyFormat {
            path: path.to_owned(),
        }
    })?);
    if bytes.len() != MASTER_KEY_LEN {
        return Err(BootstrapError::KeyFormat {
            path: path.to_owned(),
        });
    }
    MasterKey::from_slice(MASTER_KEY_VERSION, &bytes)
        .map_err(|e| BootstrapError::Crypto(e.to_string()))
}

/// What `bootstrap.json` and `rampart account create` print.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials<'a> {
    pub account_id: &'a str,
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
}

/// Creates an account with a root AccessKey: generated, or `preset` (id, secret).
pub async fn create_account(
    store: &SqlStore,
    master: &MasterKey,
    clock: &dyn Clock,
    name: &str,
    preset: Option<(String, SecretString)>,
) -> Result<(Account, AccessKeyId, SecretString), BootstrapError> {
    let (key, secret) = match preset {
        Some((id, secret)) => {
            let id = AccessKeyId::parse(&id).map_err(|_| BootstrapError::PresetId)?;
            check_access_key_secret(&secret).map_err(|_| BootstrapError::PresetSecret)?;
            let key = NewAccessKey::seal(master, id, &secret)
                .map_err(|e| BootstrapError::Crypto(e.to_string()))?;
            (key, secret)
        }
        None => {
            NewAccessKey::generate(master).map_err(|e| BootstrapError::Crypto(e.to_string()))?
        }
    };
    let (account, key) = store
        .create_account(
            NewAccount {
                name: name.to_owned(),
            },
            key,
            clock.now(),
        )
        .await?;
    Ok((account, key.id, secret))
}

fn preset_from_env() -> Result<Option<(String, SecretString)>, BootstrapError> {
    let id = std::env::var("RAMPART_BOOTSTRAP_ACCESS_KEY_ID").ok();
    let secret = std::env::var("RAMPART_BOOTSTRAP_ACCESS_KEY_SECRET").ok();
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, SecretString::new(secret)))),
        (None, None) => Ok(None),
        _ => Err(BootstrapError::PresetPair),
    }
}

/// First start: creates the management account and writes `bootstrap.json` (0600, never
/// overwritten). Returns the account id when it did. Several nodes starting together on
/// one database race safely: the account name is unique, so one wins and the others see it.
pub async fn bootstrap(
    store: &SqlStore,
    master: &MasterKey,
    clock: &dyn Clock,
    data_dir: &Path,
) -> Result<Option<String>, BootstrapError> {
    let existing = store.list_accounts(&Page::first(1)).await?;
    if !existing.items.is_empty() {
        return Ok(None);
    }
    let path = data_dir.join("bootstrap.json");
    if path.exists() {
        return Err(BootstrapError::StaleBootstrap(path));
    }
    create_private_dir(data_dir)?;
    let preset = preset_from_env()?;
    let (account, key_id, secret) =
        match create_account(store, master, clock, MANAGEMENT_ACCOUNT, preset).await {
            Ok(created) => created,
            Err(BootstrapError::Store(StoreError::AlreadyExists(_))) => return Ok(None),
            Err(e) => return Err(e),
        };
    let json = serde_json::to_string_pretty(&Credentials {
        account_id: account.id.as_str(),
        access_key_id: key_id.as_str(),
        access_key_secret: secret.expose(),
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io_err(&path))?;
    Ok(Some(account.id.to_string()))
}
