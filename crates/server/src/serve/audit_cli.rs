//! `rampart audit verify | search | tail`: the trail, offline or beside a running server.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use rampart_model::{ChainVerifier, Timestamp};
use rampart_store::{AuditQuery, AuditRepo, SqlStore};

use super::bootstrap::open_store;
use super::config::{Settings, StoreArgs};
use super::{runtime, ServeError};
use crate::policy_cli::Status;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every account's hash chain; name each edited, deleted, moved or inserted
    /// event and exit 1 if there is one
    Verify(VerifyArgs),
    /// Print matching events as JSON lines, oldest first (an export with no filters)
    Search(SearchArgs),
    /// Print events as they are written, as JSON lines, until interrupted (best effort: an
    /// event stamped earlier than one already printed is skipped; `search` sees everything)
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this account's chain
    #[arg(long)]
    pub account: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct Filters {
    /// Only this account's events
    #[arg(long)]
    pub account: Option<String>,
    /// From this time (yyyy-MM-ddTHH:mm:ssZ), inclusive
    #[arg(long, value_parser = parse_time)]
    pub start: Option<Timestamp>,
    /// Until this time, inclusive
    #[arg(long, value_parser = parse_time)]
    pub end: Option<Timestamp>,
    #[arg(long)]
    pub event_name: Option<String>,
    /// The caller: a user name, `root`, or `role:session`
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// A resource name, as in `referencedResources`
    #[arg(long)]
    pub resource: Option<String>,
    /// The caller's address
    #[arg(long)]
    pub source_ip: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// At most this many events (0: all)
    #[arg(long, default_value_t = 0)]
    pub limit: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// Print the last N events first
    #[arg(long, default_value_t = 10)]
    pub last: u32,
    /// Stop after this many seconds (default: run until interrupted)
    #[arg(long)]
    pub seconds: Option<u64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|_| "expected a UTC time as yyyy-MM-ddTHH:mm:ssZ".to_owned())
}

impl Filters {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            account_id: self.account.clone(),
            start: self.start,
            // Whole seconds, inclusive.
            end: self
                .end
                .map(|t| t.saturating_add(Duration::from_millis(999))),
            event_name: self.event_name.clone(),
            user_name: self.user.clone(),
            access_key_id: self.access_key_id.clone(),
            resource_name: self.resource.clone(),
            source_ip: self.source_ip.clone(),
            ..AuditQuery::default()
        }
    }
}

const PAGE: u32 = 1000;

pub fn run(command: &AuditCommand, out: &mut dyn Write) -> Result<Status, ServeError> {
    let store_args = match command {
        AuditCommand::Verify(a) => &a.store,
        AuditCommand::Search(a) => &a.store,
        AuditCommand::Tail(a) => &a.store,
    };
    let settings = Settings::resolve_store(store_args)?;
    runtime()?.block_on(async {
        let store = open_store(&settings).await?;
        let result = match command {
            AuditCommand::Verify(a) => verify(&store, a.account.as_deref(), out).await,
            AuditCommand::Search(a) => search(&store, a, out).await,
            AuditCommand::Tail(a) => tail(&store, a, out).await,
        };
        store.close().await;
        result
    })
}

fn write_line(out: &mut dyn Write, line: &str) -> Result<(), ServeError> {
    writeln!(out, "{line}").map_err(|e| ServeError::Output(e.to_string()))
}

async fn verify(
    store: &SqlStore,
    only: Option<&str>,
    out: &mut dyn Write,
) -> Result<Status, ServeError> {
    let heads = store.audit_heads().await?;
    let mut accounts = store.audit_accounts().await?;
    if let Some(only) = only {
        accounts.retain(|a| a == only);
    }
    let mut failed = false;
    let mut total = 0u64;
    for account in accounts {
        let head = heads
            .iter()
            .find(|h| h.account_id == account)
            .cloned()
            .unwrap_or_else(|| rampart_model::ChainHead {
                account_id: account.clone(),
                base_seq: 0,
                base_hash: rampart_model::GENESIS_HASH.to_owned(),
                seq: 0,
                hash: rampart_model::GENESIS_HASH.to_owned(),
            });
        let mut after = head.base_seq;
        let mut verifier = ChainVerifier::new(head);
        loop {
            let rows = store.audit_chain(&account, after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in &rows {
                verifier.check(row);
            }
        }
        let (unchained, waiting) = store.audit_unchained(&account).await?;
        let report = verifier.finish(unchained);
        total += report.checked;
        let verdict = if report.problems.is_empty() {
            "ok"
        } else {
            failed = true;
            "TAMPERED"
        };
        let mut line = format!(
            "account {account}: {verdict}, {} events verified",
            report.checked
        );
        if waiting > 0 {
            // Not a fault: a server seals within moments, and seals leftovers at start.
            line.push_str(&format!(", {waiting} not yet sealed"));
        }
        write_line(out, &line)?;
        for problem in &report.problems {
            write_line(out, &format!("  {problem}"))?;
        }
    }
    write_line(
        out,
        &format!(
            "{}: {total} events verified",
            if failed { "FAILED" } else { "OK" }
        ),
    )?;
    Ok(if failed {
        Status::Failure
    } else {
        Status::Success
    })
}

async fn search(
    store: &SqlStore,
    args: &SearchArgs,
    out: &mut dyn Write,
) -> Result<Status, ServeError> {
    let mut query = args.filters.query();
    query.oldest_first = true;
    let mut printed = 0u64;
    loop {
        let want = if args.limit == 0 {
            PAGE
        } else {
            u32::try_from((args.limit - printed).min(u64::from(PAGE))).unwrap_or(PAGE)
        };
        if want == 0 {
            break;
        }
        query.limit = want;
        let rows = store.search_audit_events(&query).await?;
        let Some(last) = rows.last() else { break };
        query.after = Some(last.cursor);
        for row in &rows {
            write_line(out, &row.record.body)?;
        }
        printed += rows.len() as u64;
    }
    Ok(Status::Success)
}

async fn tail(
    store: &SqlStore,
    args: &TailArgs,
    out: &mut dyn Write,
) -> Result<Status, ServeError> {
    let mut query = args.filters.query();
    // The last N, then everything after them as it arrives.
    query.limit = args.last.max(1);
    let mut recent = if args.last == 0 {
        Vec::new()
    } else {
        store.search_audit_events(&query).await?
    };
    recent.reverse();
    query.oldest_first = true;
    query.after = recent.last().map(|r| r.cursor);
    if query.after.is_none() {
        // Nothing yet: start after the newest event, whatever it is.
        let mut newest = args.filters.query();
        newest.limit = 1;
        query.after = store
            .search_audit_events(&newest)
            .await?
            .first()
            .map(|r| r.cursor);
    }
    for row in &recent {
        write_line(out, &row.record.body)?;
    }
    out.flush().map_err(|e| ServeError::Output(e.to_string()))?;
    let deadline = args
        .seconds
        .map(|s| std::time::Instant::now() + Duration::from_secs(s));
    query.limit = PAGE;
    loop {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(Status::Success);
        }
        let rows = store.search_audit_events(&query).await?;
        if let Some(last) = rows.last() {
            query.after = Some(last.cursor);
        }
        for row in &rows {
            write_line(out, &row.record.body)?;
        }
        out.flush().map_err(|e| ServeError::Output(e.to_string()))?;
        if rows.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
