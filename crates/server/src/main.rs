//! The `rampart` binary: the server and its command-line tools.
//!
//! Each subcommand group lives in its own module and returns a [`policy_cli::Status`] (or an
//! error), so `main` only parses arguments and turns the result into an exit code.

#![forbid(unsafe_code)]

mod policy_cli;
mod serve;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use policy_cli::{CliError, Status};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a self-hosted, wire-compatible emulator of Alibaba Cloud RAM, STS and IMS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate, lint, evaluate and unit-test RAM policy documents
    #[command(subcommand)]
    Policy(policy_cli::PolicyCommand),
    /// Serve every product's API on one listener
    Serve(serve::ServeArgs),
    /// Manage accounts offline (also while a server runs on the same store)
    #[command(subcommand)]
    Account(AccountCommand),
    /// Write a consistent snapshot of the embedded SQLite database while it serves
    Backup(serve::BackupArgs),
    /// Put a snapshot written by `rampart backup` in place of a data directory's database
    Restore(serve::RestoreArgs),
    /// Verify, search and follow the audit trail
    #[command(subcommand)]
    Audit(serve::AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account and print its root AccessKey as JSON
    Create(serve::AccountCreateArgs),
    /// Set the console password of an account's root identity, read from standard input
    SetRootPassword(serve::SetRootPasswordArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Unlocked handles: holding stderr's lock here for the whole run would block every
    // message written from another thread (the server's tasks) forever.
    let mut out = io::stdout();
    let mut err = io::stderr();
    let result = match cli.command {
        Command::Policy(command) => policy_cli::run(command, &mut out, &mut err),
        Command::Serve(args) => match serve::serve(&args) {
            Ok(()) => Ok(Status::Success),
            Err(e) => Err(CliError::Server(e.to_string())),
        },
        Command::Backup(args) => match serve::backup(&args, &mut out) {
            Ok(()) => Ok(Status::Success),
            Err(e) => Err(CliError::Server(e.to_string())),
        },
        Command::Restore(args) => match serve::restore(&args, &mut out) {
            Ok(()) => Ok(Status::Success),
            Err(e) => Err(CliError::Server(e.to_string())),
        },
        Command::Audit(command) => {
            serve::audit(&command, &mut out).map_err(|e| CliError::Server(e.to_string()))
        }
        Command::Account(AccountCommand::SetRootPassword(args)) => {
            match serve::set_root_password(&args, &mut io::stdin().lock(), &mut out) {
                Ok(()) => Ok(Status::Success),
                Err(e) => Err(CliError::Server(e.to_string())),
            }
        }
        Command::Account(AccountCommand::Create(args)) => {
            match serve::account_create(&args, &mut out) {
                Ok(()) => Ok(Status::Success),
                Err(e) => Err(CliError::Server(e.to_string())),
            }
        }
    };
    let result = result.and_then(|status| {
        out.flush().map_err(CliError::Output)?;
        Ok(status)
    });
    match result {
        Ok(status) => ExitCode::from(status.code()),
        // A closed pipe (`rampart policy lint … | head`) is the reader's choice, not a failure
        // worth a message.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(Status::Error.code())
        }
        Err(e) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = writeln!(err, "rampart: error: {e}");
            ExitCode::from(Status::Error.code())
        }
    }
}
