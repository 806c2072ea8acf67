//! `rampart serve`, `rampart account create`, `rampart backup` and `rampart restore`.

mod audit_cli;
mod backup;
mod bootstrap;
mod config;
mod http;

use std::sync::Arc;

use clap::Args;
use rampart_api::{Api, ApiOptions};
use rampart_model::{Clock, SystemClock};
use rampart_store::Store;
use tokio::net::TcpListener;

pub use audit_cli::{run as audit, AuditCommand};
pub use backup::{backup, restore, BackupArgs, RestoreArgs};
pub use config::{ServeArgs, StoreArgs};

use bootstrap::{bootstrap, create_account, master_key, open_store, Credentials};
use config::{LogFormat, Settings};

/// `rampart account create`.
#[derive(Debug, Args)]
pub struct AccountCreateArgs {
    /// Unique name of the new account
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct SetRootPasswordArgs {
    /// The account (16 digits) whose root identity gets the password
    #[arg(long)]
    pub account: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error(transparent)]
    Tls(#[from] http::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error("{0}")]
    Store(#[from] rampart_store::StoreError),
    #[error("cannot write output: {0}")]
    Output(String),
    #[error("{0}")]
    Usage(String),
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
}

/// SIGHUP re-reads the certificate and key files, so a renewed certificate is served without
/// a restart. A bad pair is reported and the old one kept.
async fn reload_on_sighup(
    mut hangups: tokio::signal::unix::Signal,
    tls: http::SharedTls,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) {
    while hangups.recv().await.is_some() {
        match http::reload_tls(&tls, &cert, &key) {
            Ok(()) => tracing::info!(
                cert = %cert.display(),
                "reloaded the TLS certificate from {}",
                cert.display()
            ),
            Err(e) => tracing::error!(error = %e, "kept the current TLS certificate: {e}"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Logs go to stderr, one line per event: readable text, or JSON objects for collectors.
fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    // A second initialisation (tests calling serve twice in one process) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub fn serve(args: &ServeArgs) -> Result<(), ServeError> {
    let settings = Settings::resolve(args)?;
    init_logging(settings.log_format);
    runtime()?.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let master = master_key(&settings.master_key_file, true)?;
        let store = open_store(&settings).await?;
        if let Some(account) =
            bootstrap(&store, &master, clock.as_ref(), &settings.data_dir).await?
        {
            tracing::info!(
                account = %account,
                "created the management account {account}; its root AccessKey is in {}",
                settings.data_dir.join("bootstrap.json").display()
            );
        }
        rampart_api::ram::install_system_policies(&store, clock.now())
            .await
            .map_err(bootstrap::BootstrapError::from)?;
        let tls = match &settings.tls {
            Some((cert, key)) => {
                let shared: http::SharedTls =
                    Arc::new(std::sync::RwLock::new(http::tls_acceptor(cert, key)?));
                // Registered before the listener opens: SIGHUP's default action would end
                // the process.
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(hangups) => {
                        tokio::spawn(reload_on_sighup(
                            hangups,
                            Arc::clone(&shared),
                            cert.clone(),
                            key.clone(),
                        ));
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "cannot listen for SIGHUP; TLS certificates reload only on restart"
                    ),
                }
                Some(shared)
            }
            None => None,
        };
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: settings.listen,
                    source,
                })?;
        let local = listener.local_addr().unwrap_or(settings.listen);
        let store: Arc<dyn Store> = Arc::new(store);
        let mut options = ApiOptions::default();
        if let Some(r) = &settings.saml_recipients {
            options.sts.saml_recipients = r.clone();
        }
        if let Some(a) = &settings.saml_audiences {
            options.sts.saml_audiences = a.clone();
        }
        options.rate_limits = settings.rate_limits;
        options.audit.retention = settings.audit_retention;
        let api = Api::new(store, Arc::new(master), clock, options);
        let scheme = if tls.is_some() { "https" } else { "http" };
        // The address ends the line: scripts (and the tests) read it from there.
        tracing::info!("listening on {scheme}://{local}");
        http::run(
            listener,
            api,
            tls,
            settings.client_timeout,
            shutdown_signal(),
        )
        .await;
        tracing::info!("stopped");
        Ok(())
    })
}

pub fn account_create(
    args: &AccountCreateArgs,
    out: &mut dyn std::io::Write,
) -> Result<(), ServeError> {
    let settings = Settings::resolve_store(&args.store)?;
    runtime()?.block_on(async move {
        let clock = SystemClock;
        let master = master_key(&settings.master_key_file, true)?;
        let store = open_store(&settings).await?;
        let (account, key_id, secret) =
            create_account(&store, &master, &clock, &args.name, None).await?;
        let json = serde_json::to_string_pretty(&Credentials {
            account_id: account.id.as_str(),
            access_key_id: key_id.as_str(),
            access_key_secret: secret.expose(),
        })
        .map_err(bootstrap::BootstrapError::from)?;
        let _ = writeln!(out, "{json}");
        store.close().await;
        Ok(())
    })
}

/// `rampart account set-root-password`: the password comes from standard input (its first
/// line), never from the command line, so it stays out of shell history and `ps`.
pub fn set_root_password(
    args: &SetRootPasswordArgs,
    input: &mut dyn std::io::BufRead,
    out: &mut dyn std::io::Write,
) -> Result<(), ServeError> {
    let account = rampart_model::AccountId::parse(&args.account).map_err(|_| {
        ServeError::Usage(format!(
            "--account {:?} is not a 16-digit account id",
            args.account
        ))
    })?;
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| {
        ServeError::Usage(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(ServeError::Usage(
            "no password on standard input (write it as the first line)".into(),
        ));
    }
    let settings = Settings::resolve_store(&args.store)?;
    runtime()?.block_on(async move {
        let clock = SystemClock;
        let store = open_store(&settings).await?;
        let done =
            rampart_api::console::set_root_password(&store, &account, &password, clock.now()).await;
        store.close().await;
        match done {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "The root identity of account {account} has a new console password."
                );
                Ok(())
            }
            Err(rampart_api::console::RootPasswordError::Store(
                rampart_store::StoreError::NotFound(_),
            )) => Err(ServeError::Usage(format!(
                "no account {account} in this store"
            ))),
            Err(e) => Err(ServeError::Usage(e.to_string())),
        }
    })
}
