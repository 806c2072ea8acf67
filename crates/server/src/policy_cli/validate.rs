//! `rampart policy validate`.

use std::io::Write;

use rampart_policy::PolicyKind;

use super::source::{check, read_text, Rendered};
use super::{CliError, Status, ValidateArgs};

pub fn run(
    args: &ValidateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, CliError> {
    let kind = PolicyKind::from(args.kind);
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
        match check(&text, kind) {
            Ok(_) => writeln!(out, "{}: ok", path.display())?,
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    let line = Rendered {
                        origin: path,
                        diagnostic,
                    };
                    writeln!(out, "{line}")?;
                }
                status = status.max(Status::Failure);
            }
        }
    }
    Ok(status)
}
