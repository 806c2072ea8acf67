//! `rampart policy test`: policy unit tests from YAML files. The format is documented in
//! `docs/policy-test.md`; keep the two in step.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rampart_policy::{Action, Outcome, Policy, PolicyId, PolicyKind, PolicySet};
use serde::Deserialize;
use serde_yaml::Value;

use super::caller::parse_caller;
use super::context::{build, now_utc};
use super::scenario::{evaluate, Evaluated, Scenario, Trust};
use super::source::{check, kind_word, read_text, LoadFailure, Rendered};
use super::{CliError, KindArg, Status, TestArgs};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    policies: BTreeMap<String, DocumentSpec>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentSpec {
    /// Relative to the test file's directory.
    file: Option<PathBuf>,
    /// A YAML mapping written out as JSON, or a string of JSON text.
    document: Option<Value>,
    kind: Option<KindArg>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(name) => std::slice::from_ref(name),
            OneOrMany::Many(names) => names,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    policies: Option<OneOrMany>,
    #[serde(default)]
    session: Option<String>,
    /// One entry per level, root first; an entry is a name or a list of names.
    #[serde(default)]
    control: Vec<OneOrMany>,
    #[serde(default)]
    resource_policy: Option<String>,
    #[serde(default)]
    caller: Option<String>,
    action: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    context: BTreeMap<String, Value>,
    expect: Expect,
}

impl Case {
    fn uses(&self) -> impl Iterator<Item = (&str, PolicyKind)> {
        let identity = self.policies.iter().flat_map(OneOrMany::as_slice);
        let control = self.control.iter().flat_map(OneOrMany::as_slice);
        identity
            .map(|n| (n.as_str(), PolicyKind::Identity))
            .chain(
                self.session
                    .iter()
                    .map(|n| (n.as_str(), PolicyKind::Session)),
            )
            .chain(control.map(|n| (n.as_str(), PolicyKind::Control)))
            .chain(
                self.resource_policy
                    .iter()
                    .map(|n| (n.as_str(), PolicyKind::Trust)),
            )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
enum Expect {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// Either kind of deny.
    Deny,
}

impl Expect {
    fn admits(self, outcome: Outcome) -> bool {
        match self {
            Expect::Allow => outcome == Outcome::Allow,
            Expect::ExplicitDeny => outcome == Outcome::ExplicitDeny,
            Expect::ImplicitDeny => outcome == Outcome::ImplicitDeny,
            Expect::Deny => outcome != Outcome::Allow,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Allow => "Allow",
            Expect::ExplicitDeny => "ExplicitDeny",
            Expect::ImplicitDeny => "ImplicitDeny",
            Expect::Deny => "Deny (ExplicitDeny or ImplicitDeny)",
        }
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

pub fn run(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Status, CliError> {
    // One clock reading for the whole run, so every case sees the same "now".
    let now = now_utc();
    let mut tally = Tally::default();
    let mut status = Status::Success;
    for path in &args.files {
        status = status.max(run_file(path, &now, &mut tally, out, err)?);
    }
    writeln!(out, "{} passed, {} failed", tally.passed, tally.failed)?;
    if tally.failed > 0 {
        status = status.max(Status::Failure);
    }
    Ok(status)
}

fn run_file(
    path: &Path,
    now: &str,
    tally: &mut Tally,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, CliError> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(e) => {
            writeln!(err, "rampart: error: {e}")?;
            return Ok(Status::Error);
        }
    };
    let file: TestFile = match serde_yaml::from_str(&text) {
        Ok(file) => file,
        Err(e) => {
            writeln!(
                err,
                "rampart: error: {} is not a policy test file: {e}",
                path.display()
            )?;
            return Ok(Status::Error);
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut docs = Documents {
        map: HashMap::new(),
    };
    let mut status = Status::Success;
    let mut uses: HashMap<&str, Vec<PolicyKind>> = HashMap::new();
    for (name, kind) in file.cases.iter().flat_map(Case::uses) {
        let kinds = uses.entry(name).or_default();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    for (name, spec) in &file.policies {
        let explicit = spec.kind.map(PolicyKind::from);
        let kinds = match (explicit, uses.get(name.as_str())) {
            (Some(kind), _) => vec![kind],
            (None, Some(kinds)) => kinds.clone(),
            // Unused documents are still checked, so a typo is not silently ignored.
            (None, None) => vec![PolicyKind::Identity],
        };
        let (doc, doc_status) = load_document(path, base, name, spec, &kinds, out, err)?;
        let Some(parsed) = doc else {
            return Ok(Status::Error);
        };
        status = status.max(doc_status);
        docs.map.insert(name.clone(), Document { explicit, parsed });
    }

    writeln!(
        out,
        "running {} case{} from {}",
        file.cases.len(),
        if file.cases.len() == 1 { "" } else { "s" },
        path.display()
    )?;
    for case in &file.cases {
        match run_case(case, &docs, now) {
            Ok((evaluated, _)) if case.expect.admits(evaluated.decision.outcome) => {
                tally.passed += 1;
                writeln!(out, "ok   {}", case.name)?;
            }
            Ok((evaluated, resources)) => {
                tally.failed += 1;
                writeln!(out, "FAIL {}", case.name)?;
                writeln!(out, "     expected:    {}", case.expect.describe())?;
                let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
                write!(out, "{}", evaluated.to_text(&resources, "     "))?;
            }
            Err(message) => {
                tally.failed += 1;
                writeln!(out, "FAIL {}", case.name)?;
                writeln!(out, "     error: {message}")?;
            }
        }
    }
    Ok(status)
}

struct Document {
    /// The kind the test file declared, if it did.
    explicit: Option<PolicyKind>,
    parsed: Parsed,
}

/// A document checked as each kind it is used as.
type Parsed = Vec<(PolicyKind, Result<Policy, LoadFailure>)>;

struct Documents {
    map: HashMap<String, Document>,
}

impl Documents {
    fn get(&self, name: &str, kind: PolicyKind) -> Result<&Policy, String> {
        let doc = self
            .map
            .get(name)
            .ok_or_else(|| format!("no policy named \"{name}\" under `policies`"))?;
        if let Some(declared) = doc.explicit.filter(|k| *k != kind) {
            return Err(format!(
                "policy \"{name}\" is declared as {} but used as {}",
                a(declared),
                a(kind)
            ));
        }
        match doc.parsed.iter().find(|(k, _)| *k == kind) {
            Some((_, Ok(policy))) => Ok(policy),
            Some((_, Err(LoadFailure::Invalid))) => Err(format!(
                "policy \"{name}\" is not a valid {} (its problems are listed above)",
                kind.name()
            )),
            Some((_, Err(LoadFailure::Unreadable))) | None => {
                Err(format!("policy \"{name}\" could not be read"))
            }
        }
    }

    fn set(&self, names: &[String], kind: PolicyKind) -> Result<PolicySet, String> {
        let policies = names
            .iter()
            .map(|name| Ok((name.as_str(), self.get(name, kind)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let word = kind_word(kind);
        Ok(PolicySet::new(policies.into_iter().map(
            |(name, policy)| (PolicyId::new(name, word, ""), policy),
        )))
    }
}

/// Reads one named document and checks it as each of `kinds`, printing its problems. `None`
/// means the test file itself is malformed and should not run.
fn load_document(
    test_file: &Path,
    base: &Path,
    name: &str,
    spec: &DocumentSpec,
    kinds: &[PolicyKind],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(Option<Parsed>, Status), CliError> {
    let all = |failure: LoadFailure| kinds.iter().map(|k| (*k, Err(failure))).collect();
    let (text, origin) = match (&spec.file, &spec.document) {
        (Some(file), None) => {
            let path = base.join(file);
            match read_text(&path) {
                Ok(text) => (text, Origin::File(path)),
                Err(e) => {
                    writeln!(err, "rampart: error: {e}")?;
                    return Ok((Some(all(LoadFailure::Unreadable)), Status::Error));
                }
            }
        }
        (None, Some(Value::String(text))) => (text.clone(), Origin::InlineText),
        (None, Some(value)) => match serde_json::to_string(value) {
            Ok(text) => (text, Origin::InlineMapping),
            Err(e) => {
                writeln!(
                    out,
                    "{}: policies.{name}: error: the document cannot be written as JSON: {e}",
                    test_file.display()
                )?;
                return Ok((Some(all(LoadFailure::Invalid)), Status::Failure));
            }
        },
        _ => {
            writeln!(
                err,
                "rampart: error: {}: policy \"{name}\" needs exactly one of `file` and `document`",
                test_file.display()
            )?;
            return Ok((None, Status::Error));
        }
    };
    let mut status = Status::Success;
    let mut parsed = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        match check(&text, kind) {
            Ok(policy) => parsed.push((kind, Ok(policy))),
            Err(diagnostics) => {
                status = Status::Failure;
                for d in &diagnostics {
                    let problem = match &origin {
                        Origin::File(path) => Rendered {
                            origin: path,
                            diagnostic: d,
                        }
                        .to_string(),
                        // Line and column of generated JSON would point nowhere useful; the
                        // JSON path still does.
                        Origin::InlineMapping => format!(
                            "{}: policies.{name}: error: {} (at {})",
                            test_file.display(),
                            d.message,
                            d.path
                        ),
                        Origin::InlineText => format!(
                            "{}: policies.{name}:{}:{}: error: {} (at {})",
                            test_file.display(),
                            d.location.line,
                            d.location.column,
                            d.message,
                            d.path
                        ),
                    };
                    // A document used as several kinds may fail the same way for each.
                    if kinds.len() > 1 {
                        writeln!(out, "{problem} [as {}]", a(kind))?;
                    } else {
                        writeln!(out, "{problem}")?;
                    }
                }
                parsed.push((kind, Err(LoadFailure::Invalid)));
            }
        }
    }
    Ok((Some(parsed), status))
}

/// "an identity policy", "a trust policy", ….
fn a(kind: PolicyKind) -> String {
    let name = kind.name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

enum Origin {
    File(PathBuf),
    InlineMapping,
    InlineText,
}

fn run_case(case: &Case, docs: &Documents, now: &str) -> Result<(Evaluated, Vec<String>), String> {
    let resources: Vec<String> = match (&case.resource, case.resources.is_empty()) {
        (Some(one), true) => vec![one.clone()],
        (None, false) => case.resources.clone(),
        (Some(_), false) => return Err("give `resource` or `resources`, not both".into()),
        (None, true) => return Err("no `resource` (or `resources`) given".into()),
    };
    let refs: Vec<&str> = resources.iter().map(String::as_str).collect();

    let identity = docs.set(
        case.policies.as_ref().map_or(&[][..], OneOrMany::as_slice),
        PolicyKind::Identity,
    )?;
    let session = case
        .session
        .as_ref()
        .map(|name| docs.set(std::slice::from_ref(name), PolicyKind::Session))
        .transpose()?;
    let control = case
        .control
        .iter()
        .map(|level| docs.set(level.as_slice(), PolicyKind::Control))
        .collect::<Result<Vec<_>, _>>()?;
    let (trust, caller) = match (&case.resource_policy, &case.caller) {
        (Some(name), Some(caller)) => {
            let role = match refs.as_slice() {
                [role] => Some(*role),
                _ => None,
            };
            (
                Some(docs.set(std::slice::from_ref(name), PolicyKind::Trust)?),
                Some(parse_caller(caller, role).map_err(|e| e.to_string())?),
            )
        }
        (None, None) => (None, None),
        (Some(_), None) => return Err("`resource_policy` needs a `caller`".into()),
        (None, Some(_)) => {
            return Err("`caller` is only used with a `resource_policy` (a trust policy)".into())
        }
    };

    let mut pairs = Vec::new();
    for (key, value) in &case.context {
        for v in context_values(key, value)? {
            pairs.push((key.as_str(), v));
        }
    }
    let context = build(pairs.iter().map(|(k, v)| (*k, v.as_str())), now);
    let action = Action::new(&case.action);
    let scenario = Scenario {
        control: &control,
        session: session.as_ref(),
        identity: &identity,
        trust: trust
            .as_ref()
            .zip(caller.as_ref())
            .map(|(policy, caller)| Trust { policy, caller }),
        action: &action,
        resources: &refs,
        context: &context,
    };
    let evaluated = evaluate(&scenario).map_err(|e| e.to_string())?;
    Ok((evaluated, resources))
}

fn context_values(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "context key \"{key}\": a value must be a string, number or boolean, or a list of them"
        )),
    };
    match value {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let yaml = r#"
policies:
  readonly: { file: policies/readonly.json }
  inline: { document: { Version: "1", Statement: [] } }
  text: { document: '{"Version": "1", "Statement": []}', kind: session }
cases:
  - name: one
    policies: readonly
    control: [inline, [inline, readonly]]
    action: ecs:DescribeInstances
    resource: "*"
    context: { acs:SourceIp: 10.0.0.1, acs:TagKeys: [a, b], acs:MFAPresent: true, n: 3 }
    expect: Deny
"#;
        let file: TestFile = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(file.policies.len(), 3);
        let case = &file.cases[0];
        assert_eq!(case.control.len(), 2);
        assert_eq!(case.control[1].as_slice(), ["inline", "readonly"]);
        assert_eq!(case.expect, Expect::Deny);
        let tags = context_values("acs:TagKeys", &case.context["acs:TagKeys"]).unwrap();
        assert_eq!(tags, ["a", "b"]);
        let mfa = context_values("acs:MFAPresent", &case.context["acs:MFAPresent"]).unwrap();
        assert_eq!(mfa, ["true"]);
        assert_eq!(context_values("n", &case.context["n"]).unwrap(), ["3"]);
    }

    #[test]
    fn rejects_unknown_fields_so_typos_do_not_pass_silently() {
        let yaml = "cases:\n  - name: x\n    action: a:b\n    resourse: '*'\n    expect: Allow\n";
        let e = serde_yaml::from_str::<TestFile>(yaml).unwrap_err();
        assert!(e.to_string().contains("resourse"), "{e}");
        let yaml = "cases:\n  - name: x\n    action: a:b\n    resource: '*'\n    expect: allow\n";
        assert!(serde_yaml::from_str::<TestFile>(yaml).is_err());
    }

    #[test]
    fn expectations() {
        assert!(Expect::Deny.admits(Outcome::ExplicitDeny));
        assert!(Expect::Deny.admits(Outcome::ImplicitDeny));
        assert!(!Expect::Deny.admits(Outcome::Allow));
        assert!(!Expect::ExplicitDeny.admits(Outcome::ImplicitDeny));
        assert!(Expect::Allow.admits(Outcome::Allow));
    }
}
