//! Reading policy documents from disk and checking them the way the API would.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rampart_policy::{Diagnostic, Policy, PolicyKind};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {}: the file is not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
}

/// Reads a text file. A leading byte-order mark is dropped: editors on Windows add one, the
/// JSON grammar does not allow it, and columns should count what the editor shows.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
        path: path.to_owned(),
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Parses `text` as `kind` and applies the size limit, reporting both kinds of problem the same
/// way so a document that is too long *and* malformed shows everything at once.
pub fn check(text: &str, kind: PolicyKind) -> Result<Policy, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    if let Err(e) = kind.check_size(text) {
        problems.push(e.to_diagnostic());
    }
    match Policy::parse(text, kind) {
        Ok(policy) if problems.is_empty() => Ok(policy),
        Ok(_) => Err(problems),
        Err(e) => {
            problems.extend(e.diagnostics);
            problems.sort_by_key(|d| (d.location.line, d.location.column));
            Err(problems)
        }
    }
}

/// `FILE:LINE:COL: error: MESSAGE (at PATH)`, the shape editors and CI annotate.
pub struct Rendered<'a> {
    pub origin: &'a Path,
    pub diagnostic: &'a Diagnostic,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        write!(
            f,
            "{}:{}:{}: error: {} (at {})",
            self.origin.display(),
            d.location.line,
            d.location.column,
            d.message,
            d.path
        )
    }
}

/// Loads and checks a file, printing its problems to `report`. `None` when the file is
/// unusable; the caller decides what that means for its exit status.
pub fn load(
    path: &Path,
    kind: PolicyKind,
    report: &mut dyn io::Write,
) -> io::Result<Result<Policy, LoadFailure>> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(e) => {
            writeln!(report, "rampart: error: {e}")?;
            return Ok(Err(LoadFailure::Unreadable));
        }
    };
    match check(&text, kind) {
        Ok(policy) => Ok(Ok(policy)),
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                writeln!(
                    report,
                    "{}",
                    Rendered {
                        origin: path,
                        diagnostic
                    }
                )?;
            }
            Ok(Err(LoadFailure::Invalid))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadFailure {
    Unreadable,
    Invalid,
}

/// The word used for a kind in policy names of explanations (`… of identity policy "p.json"`).
pub fn kind_word(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "identity",
        PolicyKind::Trust => "trust",
        PolicyKind::Session => "session",
        PolicyKind::Control => "control",
    }
}
