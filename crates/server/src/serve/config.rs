//! Server settings: flags, then `RAMPART_*` environment variables (clap reads both), then
//! the TOML file named by `--config`, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use rampart_api::throttle::{Rate, RateLimits};
use serde::Deserialize;

/// Where the store is: shared by `serve` and the offline commands.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Directory for the embedded database, master key and bootstrap credentials
    /// [default: ./rampart-data]
    #[arg(long, env = "RAMPART_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` selects PostgreSQL instead of the embedded SQLite database
    #[arg(long, env = "RAMPART_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The master key sealing secrets at rest [default: DATA_DIR/master.key]
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// PostgreSQL schema holding Rampart's tables (default: the search path)
    #[arg(long, env = "RAMPART_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// TOML file with any of these settings
    #[arg(long, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `rampart serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:9720]
    #[arg(long, env = "RAMPART_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain: serve HTTPS
    #[arg(long, env = "RAMPART_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, env = "RAMPART_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Pooled database connections
    #[arg(long, env = "RAMPART_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// Sync a call that changed nothing (its nonce and audit event) to disk before answering
    /// it, as every change is; otherwise it is committed before the answer and synced within
    /// moments (docs/compatibility.md) [default: false]
    #[arg(long, env = "RAMPART_DURABLE_READS", num_args = 0..=1, default_missing_value = "true")]
    pub durable_reads: Option<bool>,
    /// AssumeRoleWithSAML: accepted assertion Recipients, comma-separated
    /// [default: Alibaba's https://signin.alibabacloud.com/saml-role/sso and
    /// https://signin.aliyun.com/saml-role/sso]
    #[arg(long, env = "RAMPART_SAML_RECIPIENTS", value_delimiter = ',')]
    pub saml_recipients: Option<Vec<String>>,
    /// AssumeRoleWithSAML: accepted assertion Audiences, comma-separated
    /// [default: urn:alibaba:cloudcomputing:international and urn:alibaba:cloudcomputing]
    #[arg(long, env = "RAMPART_SAML_AUDIENCES", value_delimiter = ',')]
    pub saml_audiences: Option<Vec<String>>,
    /// Requests per second per AccessKey, `RATE` or `RATE/BURST`; more get
    /// `Throttling.User` [default: unlimited]
    #[arg(long, env = "RAMPART_RATE_LIMIT_PER_KEY", value_parser = parse_rate)]
    pub rate_limit_per_key: Option<Rate>,
    /// Requests per second per source IP address, `RATE` or `RATE/BURST`
    /// [default: unlimited]
    #[arg(long, env = "RAMPART_RATE_LIMIT_PER_IP", value_parser = parse_rate)]
    pub rate_limit_per_ip: Option<Rate>,
    /// Seconds a client gets to send a request's head, and again its body, before the
    /// connection is cut [default: 30]
    #[arg(long, env = "RAMPART_CLIENT_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub client_timeout: Option<u64>,
    /// Log lines as `text` or `json` (one object per line) [default: text]
    #[arg(long, env = "RAMPART_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Days audit events are kept; 0 keeps them forever [default: 90, as ActionTrail]
    #[arg(long, env = "RAMPART_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(0..=36500))]
    pub audit_retention_days: Option<u64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The TOML file: the same settings under their flag names with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_schema: Option<String>,
    database_max_connections: Option<u32>,
    durable_reads: Option<bool>,
    master_key_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    saml_recipients: Option<Vec<String>>,
    saml_audiences: Option<Vec<String>>,
    rate_limit_per_key: Option<String>,
    rate_limit_per_ip: Option<String>,
    client_timeout: Option<u64>,
    log_format: Option<LogFormat>,
    audit_retention_days: Option<u64>,
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    text.parse()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("tls_cert and tls_key must be given together")]
    TlsPair,
}

/// Settings with every default applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_schema: Option<String>,
    pub database_max_connections: u32,
    pub durable_reads: bool,
    pub master_key_file: PathBuf,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `None`: the API's defaults (Alibaba's values).
    pub saml_recipients: Option<Vec<String>>,
    pub saml_audiences: Option<Vec<String>>,
    pub rate_limits: RateLimits,
    pub client_timeout: std::time::Duration,
    pub log_format: LogFormat,
    /// `None`: audit events are kept forever.
    pub audit_retention: Option<std::time::Duration>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

fn read_file(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

impl Settings {
    pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
        let file = read_file(args.store.config.as_deref())?;
        let data_dir = args
            .store
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./rampart-data"));
        let master_key_file = args
            .store
            .master_key_file
            .clone()
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let file_rate = |text: Option<String>, key: &str| -> Result<Option<Rate>, ConfigError> {
            text.map(|t| {
                t.parse().map_err(|message| ConfigError::Parse {
                    path: args.store.config.clone().unwrap_or_default(),
                    message: format!("{key}: {message}"),
                })
            })
            .transpose()
        };
        let rate_limits = RateLimits {
            per_access_key: match args.rate_limit_per_key {
                Some(rate) => Some(rate),
                None => file_rate(file.rate_limit_per_key, "rate_limit_per_key")?,
            },
            per_source_ip: match args.rate_limit_per_ip {
                Some(rate) => Some(rate),
                None => file_rate(file.rate_limit_per_ip, "rate_limit_per_ip")?,
            },
        };
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9720))),
            data_dir,
            database_url: args.store.database_url.clone().or(file.database_url),
            database_schema: args.store.database_schema.clone().or(file.database_schema),
            database_max_connections: args
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(16),
            durable_reads: args.durable_reads.or(file.durable_reads).unwrap_or(false),
            master_key_file,
            tls,
            saml_recipients: args.saml_recipients.clone().or(file.saml_recipients),
            saml_audiences: args.saml_audiences.clone().or(file.saml_audiences),
            rate_limits,
            client_timeout: std::time::Duration::from_secs(
                args.client_timeout
                    .or(file.client_timeout)
                    .unwrap_or(30)
                    .clamp(1, 3600),
            ),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            audit_retention: match args
                .audit_retention_days
                .or(file.audit_retention_days)
                .unwrap_or(90)
            {
                0 => None,
                days => Some(std::time::Duration::from_secs(days.min(36_500) * 86_400)),
            },
        })
    }

    /// For offline commands, which take only the store settings.
    pub fn resolve_store(args: &StoreArgs) -> Result<Settings, ConfigError> {
        Self::resolve(&ServeArgs {
            store: args.clone(),
            ..ServeArgs::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn rate_limits_from_flags_and_file() {
        let cli = Cli::try_parse_from(["rampart", "--rate-limit-per-key", "50/100"]).unwrap();
        let s = Settings::resolve(&cli.serve).unwrap();
        assert_eq!(
            s.rate_limits.per_access_key,
            Some(Rate {
                per_second: 50,
                burst: 100
            })
        );
        assert_eq!(s.rate_limits.per_source_ip, None, "unlimited by default");
        assert!(Cli::try_parse_from(["rampart", "--rate-limit-per-ip", "0"]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        std::fs::write(&file, "rate_limit_per_ip = \"200\"\n").unwrap();
        let cli = Cli::try_parse_from(["rampart", "--config", file.to_str().unwrap()]).unwrap();
        let s = Settings::resolve(&cli.serve).unwrap();
        assert_eq!(
            s.rate_limits.per_source_ip,
            Some(Rate {
                per_second: 200,
                burst: 200
            })
        );
        std::fs::write(&file, "rate_limit_per_key = \"fast\"\n").unwrap();
        let cli = Cli::try_parse_from(["rampart", "--config", file.to_str().unwrap()]).unwrap();
        let e = Settings::resolve(&cli.serve).unwrap_err().to_string();
        assert!(e.contains("rate_limit_per_key"), "{e}");
    }

    #[test]
    fn durable_reads_from_flag_and_file() {
        let cli = Cli::try_parse_from(["rampart"]).unwrap();
        assert!(
            !Settings::resolve(&cli.serve).unwrap().durable_reads,
            "off by default"
        );
        let cli = Cli::try_parse_from(["rampart", "--durable-reads"]).unwrap();
        assert!(Settings::resolve(&cli.serve).unwrap().durable_reads);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        std::fs::write(&file, "durable_reads = true\n").unwrap();
        let path = file.to_str().unwrap();
        let cli = Cli::try_parse_from(["rampart", "--config", path]).unwrap();
        assert!(Settings::resolve(&cli.serve).unwrap().durable_reads);
        // The flag wins over the file.
        let cli =
            Cli::try_parse_from(["rampart", "--config", path, "--durable-reads=false"]).unwrap();
        assert!(!Settings::resolve(&cli.serve).unwrap().durable_reads);
        assert!(Cli::try_parse_from(["rampart", "--durable-reads=maybe"]).is_err());
    }

    #[test]
    fn saml_lists_from_flags_and_file() {
        let cli = Cli::try_parse_from([
            "rampart",
            "--saml-recipients",
            "https://sso.example.com/acs,https://b.example.com/acs",
        ])
        .unwrap();
        let s = Settings::resolve(&cli.serve).unwrap();
        assert_eq!(
            s.saml_recipients.unwrap(),
            ["https://sso.example.com/acs", "https://b.example.com/acs"]
        );
        assert!(s.saml_audiences.is_none());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        std::fs::write(&file, "saml_audiences = [\"urn:rampart:test\"]\n").unwrap();
        let cli = Cli::try_parse_from(["rampart", "--config", file.to_str().unwrap()]).unwrap();
        let s = Settings::resolve(&cli.serve).unwrap();
        assert_eq!(s.saml_audiences.unwrap(), ["urn:rampart:test"]);
    }
}
