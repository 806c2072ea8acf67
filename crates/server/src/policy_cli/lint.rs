//! `rampart policy lint`.

use std::io::Write;

use rampart_policy::lint::{lint_text, Severity};
use rampart_policy::PolicyKind;

use super::source::read_text;
use super::{CliError, LintArgs, Status};

pub fn run(args: &LintArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Status, CliError> {
    let kind = PolicyKind::from(args.kind);
    let failing = if args.deny_warnings {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut status = Status::Success;
    for path in &args.files {
        let text = match read_text(path) {
            Ok(text) => text,
            Err(e) => {
                writeln!(err, "rampart: error: {e}")?;
                status = status.max(Status::Error);
                continue;
            }
        };
        let mut findings = lint_text(&text, kind);
        // Pair checks are appended after per-statement ones; reading top to bottom is easier.
        findings.sort_by_key(|f| (f.location.line, f.location.column));
        if findings.is_empty() {
            writeln!(out, "{}: ok", path.display())?;
        }
        for finding in &findings {
            // `Finding`'s Display is `LINE:COL: SEVERITY CODE[name]: MESSAGE (at PATH)`.
            writeln!(out, "{}:{finding}", path.display())?;
            if finding.severity >= failing {
                status = status.max(Status::Failure);
            }
        }
    }
    Ok(status)
}
