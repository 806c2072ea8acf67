//! `rampart policy …`: the policy engine at the command line, for authors and for CI.
//!
//! Exit codes are the same for every command: 0 when everything checked out (valid, clean,
//! allowed, all cases passed), 1 when the answer is "no" (invalid document, finding, deny,
//! failed case), 2 when the command could not do its job (usage, unreadable file). Reports go
//! to stdout; problems running the command go to stderr.

mod caller;
mod cases;
mod context;
mod eval;
mod lint;
mod scenario;
mod source;
mod validate;

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use rampart_policy::PolicyKind;

pub use caller::CallerError;
pub use scenario::ScenarioError;

/// How a command went; the process exits with [`Status::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Success,
    /// The command ran and the answer is negative.
    Failure,
    /// The command could not do (all of) its job.
    Error,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failure => 1,
            Status::Error => 2,
        }
    }
}

/// Errors that stop a command; `main` prints them and exits with 2. Problems that only affect
/// one of several files are printed where they occur instead, so the other files still run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Read(#[from] source::ReadError),
    #[error(transparent)]
    Caller(#[from] CallerError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),
    /// `serve` and the account commands.
    #[error("{0}")]
    Server(String),
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check documents against RAM's grammar and size limits
    ///
    /// Prints every problem as FILE:LINE:COL: error: MESSAGE (at JSON_PATH), or FILE: ok.
    /// Exits 0 if all are valid, 1 if any is invalid, 2 if a file cannot be read.
    Validate(ValidateArgs),
    /// Decide one request against a principal's policies and explain the decision
    ///
    /// Exits 0 on Allow, 1 on ExplicitDeny or ImplicitDeny, 2 on errors (an invalid policy
    /// file is reported like `validate` does).
    Eval(EvalArgs),
    /// Report least-privilege and correctness findings with stable codes (RP001…)
    ///
    /// Exits 1 if any finding is an error (or, with --deny-warnings, a warning), else 0.
    Lint(LintArgs),
    /// Run policy unit tests from YAML files (format: docs/policy-test.md)
    ///
    /// Exits 0 if every case passed, 1 if a case failed or a document is invalid, 2 if a
    /// file cannot be read or is not a test file.
    Test(TestArgs),
}

/// The document kinds, as spelled on the command line and in test files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindArg {
    /// Attached to users, groups and roles
    #[default]
    Identity,
    /// A role's AssumeRolePolicyDocument
    Trust,
    /// The Policy passed to AssumeRole
    Session,
    /// A Resource Directory control policy
    Control,
}

impl From<KindArg> for PolicyKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Identity => PolicyKind::Identity,
            KindArg::Trust => PolicyKind::Trust,
            KindArg::Session => PolicyKind::Session,
            KindArg::Control => PolicyKind::Control,
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// What the documents are
    #[arg(long, value_enum, default_value_t)]
    pub kind: KindArg,
    /// Policy documents (JSON)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// What the documents are
    #[arg(long, value_enum, default_value_t)]
    pub kind: KindArg,
    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub deny_warnings: bool,
    /// Policy documents (JSON)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The principal's identity policies (account scope)
    #[arg(long = "policy", value_name = "FILE", num_args = 1.., action = clap::ArgAction::Append)]
    pub policies: Vec<PathBuf>,
    /// A session policy that bounds the principal (a role session's `Policy`)
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    /// Control policies, one file per level, Resource Directory root first, account last
    #[arg(long = "control", value_name = "FILE", num_args = 1.., action = clap::ArgAction::Append)]
    pub control: Vec<PathBuf>,
    /// A role's trust policy; the request is then a role assumption by --caller
    #[arg(long, value_name = "FILE", requires = "caller")]
    pub resource_policy: Option<PathBuf>,
    /// Who assumes the role: acs:ram::<uid>:root, acs:ram::<uid>:user/<name>,
    /// acs:ram::<uid>:assumed-role/<role>/<session>, service:<service> or
    /// federated:<provider-arn>
    #[arg(long, value_name = "CALLER", requires = "resource_policy")]
    pub caller: Option<String>,
    /// The API action, e.g. ecs:DescribeInstances
    #[arg(long, value_name = "ACTION")]
    pub action: String,
    /// A resource ARN; repeat for requests naming several (each must be allowed)
    #[arg(long = "resource", value_name = "ARN", required = true, action = clap::ArgAction::Append)]
    pub resources: Vec<String>,
    /// A condition key and value; repeat a key to give it several values. acs:CurrentTime
    /// defaults to now.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = context::parse_pair, action = clap::ArgAction::Append)]
    pub context: Vec<(String, String)>,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files (YAML)
    #[arg(required = true, value_name = "CASES.yaml")]
    pub files: Vec<PathBuf>,
}

pub fn run(
    command: PolicyCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, CliError> {
    match command {
        PolicyCommand::Validate(args) => validate::run(&args, out, err),
        PolicyCommand::Eval(args) => eval::run(&args, out, err),
        PolicyCommand::Lint(args) => lint::run(&args, out, err),
        PolicyCommand::Test(args) => cases::run(&args, out, err),
    }
}
