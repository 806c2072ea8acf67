//! A least-privilege linter for policy documents.
//!
//! Findings carry a stable code (`RP001`…), a short name, a severity, a JSON path and a
//! `line:column`. Codes never change meaning; new checks get new codes.
//!
//! | code  | name                     | severity | finding |
//! |-------|--------------------------|----------|---------|
//! | RP001 | allow-all                | warning  | `Allow` of every action (`*`, `*:*`) on every resource (`*`, `acs:*:*:*:*`) |
//! | RP002 | allow-not-action         | warning  | `Allow` with `NotAction`: grants every action not listed, including future ones |
//! | RP003 | allow-not-resource       | warning  | `Allow` with `NotResource` |
//! | RP004 | broad-iam                | warning  | `Allow` of every action of `ram`, `sts` or `ims` (privilege escalation) |
//! | RP005 | trust-any-principal      | warning  | a trust policy that lets anyone assume the role: `*`, or a wildcard account, service or provider |
//! | RP006 | federated-no-condition   | warning  | a federated principal without its `saml:recipient` or `oidc:iss` + `oidc:aud` condition |
//! | RP007 | never-matches            | warning  | a statement that can never match (contradictory conditions, `NotAction: *`) |
//! | RP008 | duplicate-statement      | info     | a statement identical to an earlier one |
//! | RP009 | shadowed-statement       | info / warning | a statement covered by another: redundant (info), or an `Allow` that an unconditional `Deny` always overrides (warning) |
//! | RP010 | invalid-document         | error    | the document does not parse or validate (unknown operators, malformed keys, …) |
//! | RP011 | unknown-condition-key    | warning  | an `acs:` / `oidc:` key RAM does not define, or a key used with an operator of the wrong type |
//! | RP012 | empty-policy             | info     | no statements: grants nothing |
//! | RP013 | too-long                 | error    | longer than RAM accepts for the document kind |
//!
//! RP001–RP004 concern grants, so they are not reported for control policies, which only bound
//! permissions (the default control policy is `Allow` of `*` on `*`).

use std::fmt;

use crate::condition::{BaseOperator, SetQualifier, TypedValues, ValueType};
use crate::document::{Condition, Effect, Location, Policy, PolicyKind, Principal, Statement};
use crate::wildcard::Pattern;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub path: String,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} {}[{}]: {} (at {})",
            self.location.line,
            self.location.column,
            self.severity.as_str(),
            self.code,
            self.name,
            self.message,
            self.path
        )
    }
}

/// Lints document text: parse and size problems become `RP010` / `RP013` findings, and a valid
/// document is then linted in full.
pub fn lint_text(text: &str, kind: PolicyKind) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Err(e) = kind.check_size(text) {
        let d = e.to_diagnostic();
        out.push(Finding {
            code: "RP013",
            name: "too-long",
            severity: Severity::Error,
            path: d.path,
            location: d.location,
            message: d.message,
        });
    }
    match Policy::parse(text, kind) {
        Ok(policy) => out.extend(lint(&policy)),
        Err(e) => out.extend(e.diagnostics.into_iter().map(|d| Finding {
            code: "RP010",
            name: "invalid-document",
            severity: Severity::Error,
            path: d.path,
            location: d.location,
            message: d.message,
        })),
    }
    out
}

/// Lints a valid document.
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if policy.statements.is_empty() {
        out.push(Finding {
            code: "RP012",
            name: "empty-policy",
            severity: Severity::Info,
            path: "$.Statement".into(),
            location: Location { line: 1, column: 1 },
            message: "the policy has no statements and grants nothing".into(),
        });
    }
    for st in &policy.statements {
        statement_findings(policy.kind, st, &mut out);
    }
    pair_findings(policy, &mut out);
    out
}

fn path_of(st: &Statement) -> String {
    format!("$.Statement[{}]", st.index)
}

fn push(
    out: &mut Vec<Finding>,
    st: &Statement,
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: String,
) {
    out.push(Finding {
        code,
        name,
        severity,
        path: path_of(st),
        location: st.location,
        message,
    });
}

fn all_stars(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '*')
}

/// An action pattern that matches every action: `*`, or `*:*`.
fn any_action(p: &str) -> bool {
    all_stars(p)
        || p.split_once(':')
            .is_some_and(|(svc, name)| all_stars(svc) && all_stars(name))
}

/// A resource pattern that matches every resource: `*`, or an ARN whose every field is `*`.
fn any_resource(p: &str) -> bool {
    if all_stars(p) {
        return true;
    }
    let fields: Vec<&str> = p.splitn(5, ':').collect();
    fields.len() == 5 && fields.iter().skip(1).all(|f| all_stars(f))
}

/// A principal entry with a wildcard where an account, provider or service name belongs:
/// it trusts identities of accounts the author does not control.
fn open_principal(entry: &str) -> bool {
    if all_stars(entry) {
        return true;
    }
    let fields: Vec<&str> = entry.splitn(5, ':').collect();
    match fields.as_slice() {
        // acs:ram::<account>:<relative>
        [_, _, _, account, _] => account.contains(['*', '?']),
        // A bare account id or a service name.
        _ => entry.contains(['*', '?']),
    }
}

fn statement_findings(kind: PolicyKind, st: &Statement, out: &mut Vec<Finding>) {
    let allow = st.effect == Effect::Allow;
    // Control policies bound permissions and never grant them (the default control policy is
    // Allow * on *), so the findings about broad grants do not apply to them.
    let grants = allow && kind != PolicyKind::Control;
    let every_action = !st.action.negated && st.action.values.iter().any(|a| any_action(&a.value));
    let every_resource = match &st.resource {
        None => kind == PolicyKind::Trust,
        Some(r) => !r.negated && r.values.iter().any(|v| any_resource(&v.value)),
    };
    let allow_all = grants && kind != PolicyKind::Trust && every_action && every_resource;
    if allow_all {
        let cond = if st.conditions.is_empty() {
            ""
        } else {
            " (only narrowed by conditions)"
        };
        push(out, st, "RP001", "allow-all", Severity::Warning, format!("allows every action on every resource{cond}; grant only the actions and resources the task needs"));
    }
    if grants && st.action.negated {
        push(out, st, "RP002", "allow-not-action", Severity::Warning, "\"Allow\" with \"NotAction\" grants every action not listed, including actions added later; list the allowed actions instead".into());
    }
    if grants && st.resource.as_ref().is_some_and(|r| r.negated) {
        push(out, st, "RP003", "allow-not-resource", Severity::Warning, "\"Allow\" with \"NotResource\" grants every resource not listed, including resources created later".into());
    }
    // RP001 already says everything RP004 would about an allow-all statement.
    // An IAM action on a resource of another service (`*` on `acs:ecs:…`) grants nothing.
    let reaches_iam = match &st.resource {
        None => true,
        Some(r) if r.negated => true,
        Some(r) => r.values.iter().any(|v| {
            all_stars(&v.value)
                || v.value.split(':').nth(1).is_some_and(|svc| {
                    let p = Pattern::new(&svc.to_lowercase());
                    ["ram", "sts", "ims"].iter().any(|s| p.matches(s))
                })
        }),
    };
    if grants && kind != PolicyKind::Trust && !allow_all && !st.action.negated && reaches_iam {
        for a in &st.action.values {
            let lower = a.value.to_lowercase();
            let (svc, name) = lower.split_once(':').unwrap_or(("*", "*"));
            let svc_pat = Pattern::new(svc);
            let iam: Vec<&str> = ["ram", "sts", "ims"]
                .into_iter()
                .filter(|s| svc_pat.matches(s))
                .collect();
            if all_stars(name) && !iam.is_empty() {
                out.push(Finding {
                    code: "RP004",
                    name: "broad-iam",
                    severity: Severity::Warning,
                    path: a.path.clone(),
                    location: a.location,
                    message: format!("\"{}\" allows every {} action: whoever holds it can grant itself any permission; name the actions needed", a.value, iam.join("/")),
                });
            }
        }
    }
    if kind == PolicyKind::Trust && allow {
        match &st.principal {
            Some(Principal::Any) => push(out, st, "RP005", "trust-any-principal", Severity::Warning, "the role trusts any principal (\"*\"): anyone who can call STS may assume it; name the accounts, services or providers trusted".into()),
            Some(Principal::Entries { ram, service, federated }) => {
                let open: Vec<&str> = ram
                    .iter()
                    .chain(service)
                    .chain(federated)
                    .filter(|e| open_principal(e))
                    .map(String::as_str)
                    .collect();
                if !open.is_empty() {
                    push(out, st, "RP005", "trust-any-principal", Severity::Warning, format!("the role trusts {}, which matches identities of accounts you do not control; name the accounts, services or providers trusted", open.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(", ")));
                }
                federated_checks(st, federated, out);
            }
            None => {}
        }
    }
    if st.action.negated && st.action.values.iter().any(|a| all_stars(&a.value)) {
        push(
            out,
            st,
            "RP007",
            "never-matches",
            Severity::Warning,
            "\"NotAction\": \"*\" excludes every action, so the statement never applies".into(),
        );
    }
    if st
        .resource
        .as_ref()
        .is_some_and(|r| r.negated && r.values.iter().any(|v| all_stars(&v.value)))
    {
        push(
            out,
            st,
            "RP007",
            "never-matches",
            Severity::Warning,
            "\"NotResource\": \"*\" excludes every resource, so the statement never applies".into(),
        );
    }
    if let Some(why) = contradiction(&st.conditions) {
        push(
            out,
            st,
            "RP007",
            "never-matches",
            Severity::Warning,
            format!("the conditions can never all hold: {why}"),
        );
    }
    for c in &st.conditions {
        key_findings(c, out);
    }
}

/// Is `key` pinned by a positive string condition that some values fail? `StringLike "*"`
/// is satisfied by every value, so it pins nothing.
fn has_positive_condition(st: &Statement, key: &str) -> bool {
    st.conditions.iter().any(|c| {
        c.key.eq_ignore_ascii_case(key)
            && !c.operator.base.is_negated()
            && c.operator.base.value_type() == ValueType::String
            && !(matches!(c.operator.base, BaseOperator::StringLike)
                && c.values.iter().any(|v| all_stars(v)))
    })
}

fn federated_checks(st: &Statement, federated: &[String], out: &mut Vec<Finding>) {
    for f in federated {
        let lower = f.to_lowercase();
        let required: &[&str] = if lower.contains(":saml-provider/") {
            &["saml:recipient"]
        } else if lower.contains(":oidc-provider/") {
            &["oidc:iss", "oidc:aud"]
        } else {
            &[]
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| !has_positive_condition(st, k))
            .collect();
        if !missing.is_empty() {
            push(out, st, "RP006", "federated-no-condition", Severity::Warning, format!("federated principal \"{f}\" is trusted without a condition on {}; any token or assertion the provider issues for any application could assume the role", missing.join(" and ")));
        }
    }
}

/// Keys RAM defines in the `acs:` and `oidc:` namespaces, with their types. `…/` entries are
/// prefixes.
const KNOWN_KEYS: &[(&str, ValueType)] = &[
    ("acs:currenttime", ValueType::Date),
    ("acs:securetransport", ValueType::Bool),
    ("acs:sourceip", ValueType::Ip),
    ("acs:mfapresent", ValueType::Bool),
    ("acs:sourcevpc", ValueType::String),
    ("acs:sourcevpcip", ValueType::Ip),
    ("acs:accessid", ValueType::String),
    ("acs:resourcetag/", ValueType::String),
    ("acs:requesttag/", ValueType::String),
    ("acs:tagkeys", ValueType::String),
    ("acs:principalarn", ValueType::String),
    ("acs:principalaccount", ValueType::String),
    ("acs:principalrdid", ValueType::String),
    ("acs:principalrdpath", ValueType::String),
    // Used by Alibaba's own system policies to scope `ram:PassRole` to a service.
    ("acs:service", ValueType::String),
    ("oidc:iss", ValueType::String),
    ("oidc:aud", ValueType::String),
    ("oidc:sub", ValueType::String),
];

fn key_findings(c: &Condition, out: &mut Vec<Finding>) {
    let key = c.key.to_lowercase();
    let Some((ns, _)) = key.split_once(':') else {
        return;
    };
    if ns != "acs" && ns != "oidc" {
        return;
    }
    let known = KNOWN_KEYS.iter().find(|(k, _)| {
        if k.ends_with('/') {
            key.starts_with(k) && key.len() > k.len()
        } else {
            key == *k
        }
    });
    let finding = |message: String| Finding {
        code: "RP011",
        name: "unknown-condition-key",
        severity: Severity::Warning,
        path: c.path.clone(),
        location: c.location,
        message,
    };
    match known {
        None => out.push(finding(format!(
            "\"{}\" is not a condition key RAM defines, so requests never carry it",
            c.key
        ))),
        Some((_, ty)) => {
            let op_ty = c.operator.base.value_type();
            // Strings compare with anything; a typed key used with another typed operator
            // never matches as intended.
            if op_ty != ValueType::String && op_ty != *ty {
                out.push(finding(format!(
                    "\"{}\" holds a {}, but {} compares {} values",
                    c.key,
                    ty.name(),
                    c.operator.name(),
                    op_ty.name()
                )));
            }
        }
    }
}

/// Finds conditions on one key that cannot hold together. Only unqualified conditions are
/// considered: set qualifiers make multi-valued keys legitimately satisfy "contradictions".
fn contradiction(conds: &[Condition]) -> Option<String> {
    let plain: Vec<&Condition> = conds
        .iter()
        .filter(|c| c.operator.qualifier == SetQualifier::None)
        .collect();
    for (i, a) in plain.iter().enumerate() {
        for b in plain.iter().skip(i + 1) {
            if !a.key.eq_ignore_ascii_case(&b.key) {
                continue;
            }
            if let Some(why) = pair_contradiction(a, b).or_else(|| pair_contradiction(b, a)) {
                return Some(why);
            }
        }
    }
    // Numeric and date ranges: combine every bound on a key.
    range_contradiction(&plain)
}

fn pair_contradiction(a: &Condition, b: &Condition) -> Option<String> {
    use BaseOperator as B;
    match (a.operator.base, b.operator.base, &a.typed, &b.typed) {
        (
            B::StringEquals,
            B::StringNotEquals,
            TypedValues::Strings(eq),
            TypedValues::Strings(ne),
        ) if eq.iter().all(|v| ne.contains(v)) => Some(format!(
            "\"{}\" must equal and not equal the same values",
            a.key
        )),
        (
            B::StringEqualsIgnoreCase,
            B::StringNotEqualsIgnoreCase,
            TypedValues::FoldedStrings(eq),
            TypedValues::FoldedStrings(ne),
        ) if eq.iter().all(|v| ne.contains(v)) => Some(format!(
            "\"{}\" must equal and not equal the same values",
            a.key
        )),
        (B::Bool, B::Bool, TypedValues::Bools(x), TypedValues::Bools(y))
            if x.len() == 1 && y.len() == 1 && x != y =>
        {
            Some(format!("\"{}\" must be both true and false", a.key))
        }
        (B::IpAddress, B::NotIpAddress, TypedValues::Networks(inn), TypedValues::Networks(out))
            if inn.iter().all(|n| {
                out.iter().any(|o| {
                    o.prefix_len() <= n.prefix_len() && o.is_v4() == n.is_v4() && covers(o, n)
                })
            }) =>
        {
            Some(format!(
                "every network \"{}\" must be in is excluded by NotIpAddress",
                a.key
            ))
        }
        _ => None,
    }
}

fn covers(outer: &crate::value::IpNet, inner: &crate::value::IpNet) -> bool {
    // `inner`'s network address lies in `outer` and `outer` is at least as wide.
    inner.network_address().is_some_and(|ip| outer.contains(ip))
}

fn range_contradiction(conds: &[&Condition]) -> Option<String> {
    use BaseOperator as B;
    let mut keys: Vec<String> = conds.iter().map(|c| c.key.to_lowercase()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        // (value, inclusive)
        let mut lower: Option<(f64, bool)> = None;
        let mut upper: Option<(f64, bool)> = None;
        let mut tighten_lower = |v: f64, inc: bool| {
            lower = Some(match lower {
                Some((l, li)) if l > v || (l == v && !li) => (l, li),
                _ => (v, inc),
            })
        };
        let mut upper_updates = Vec::new();
        for c in conds.iter().filter(|c| c.key.to_lowercase() == key) {
            // With several policy values a bound is the loosest of them (any may match).
            let values: Vec<f64> = match &c.typed {
                TypedValues::Numbers(v) => v.to_vec(),
                TypedValues::Dates(v) => v.iter().map(|d| *d as f64).collect(),
                _ => continue,
            };
            let (Some(min), Some(max)) = (
                values.iter().copied().reduce(f64::min),
                values.iter().copied().reduce(f64::max),
            ) else {
                continue;
            };
            match c.operator.base {
                B::NumericGreaterThan | B::DateGreaterThan => tighten_lower(min, false),
                B::NumericGreaterThanEquals | B::DateGreaterThanEquals => tighten_lower(min, true),
                B::NumericLessThan | B::DateLessThan => upper_updates.push((max, false)),
                B::NumericLessThanEquals | B::DateLessThanEquals => upper_updates.push((max, true)),
                B::NumericEquals | B::DateEquals if values.len() == 1 => {
                    tighten_lower(min, true);
                    upper_updates.push((max, true));
                }
                _ => {}
            }
        }
        for (v, inc) in upper_updates {
            upper = Some(match upper {
                Some((u, ui)) if u < v || (u == v && !ui) => (u, ui),
                _ => (v, inc),
            });
        }
        if let (Some((l, li)), Some((u, ui))) = (lower, upper) {
            if l > u || (l == u && !(li && ui)) {
                return Some(format!(
                    "no value of \"{key}\" lies in the range the conditions require"
                ));
            }
        }
    }
    None
}

/// Canonical form of a statement for duplicate detection: effect, patterns, principal and
/// conditions, order-insensitive.
fn canonical(kind: PolicyKind, st: &Statement) -> String {
    let mut actions: Vec<String> = st
        .action
        .values
        .iter()
        .map(|a| a.value.to_lowercase())
        .collect();
    actions.sort();
    actions.dedup();
    let mut resources: Vec<String> = st
        .resource
        .iter()
        .flat_map(|r| r.values.iter().map(|v| v.value.clone()))
        .collect();
    resources.sort();
    resources.dedup();
    let mut conds: Vec<String> = st
        .conditions
        .iter()
        .map(|c| {
            let mut vals = c.values.clone();
            vals.sort();
            format!(
                "{}|{}|{}",
                c.operator.name(),
                c.key.to_lowercase(),
                vals.join("\u{1}")
            )
        })
        .collect();
    conds.sort();
    let principal = match &st.principal {
        None => String::new(),
        Some(Principal::Any) => "*".into(),
        Some(Principal::Entries {
            ram,
            service,
            federated,
        }) => {
            let mut all: Vec<String> = ram
                .iter()
                .map(|r| format!("r:{r}"))
                .chain(service.iter().map(|s| format!("s:{}", s.to_lowercase())))
                .chain(federated.iter().map(|f| format!("f:{f}")))
                .collect();
            all.sort();
            all.dedup();
            all.join(",")
        }
    };
    let _ = kind;
    format!(
        "{:?}|{}|{}|{}|{}|{}|{}",
        st.effect,
        st.action.negated,
        actions.join(","),
        st.resource.as_ref().is_some_and(|r| r.negated),
        resources.join(","),
        principal,
        conds.join(";")
    )
}

/// Does pattern `a` match every string pattern `b` matches? Answers `true` only when certain:
/// `a` is all stars, the two are equal, or `a` is `literal*` and `b`'s literal prefix extends it.
fn pattern_covers(a: &str, b: &str) -> bool {
    if all_stars(a) || a == b {
        return true;
    }
    if let Some(prefix) = a.strip_suffix('*') {
        if !prefix.contains(['*', '?']) {
            let b_literal: String = b.chars().take_while(|c| *c != '*' && *c != '?').collect();
            return b_literal.starts_with(prefix);
        }
    }
    false
}

fn list_covers(a: &[String], b: &[String]) -> bool {
    b.iter().all(|bp| a.iter().any(|ap| pattern_covers(ap, bp)))
}

/// [`pattern_covers`] for resource ARNs, field by field as they are matched.
fn resource_covers(a: &str, b: &str) -> bool {
    if all_stars(a) || a == b {
        return true;
    }
    let af: Vec<&str> = a.splitn(5, ':').collect();
    let bf: Vec<&str> = b.splitn(5, ':').collect();
    af.len() == 5
        && bf.len() == 5
        && af.iter().zip(&bf).enumerate().all(|(i, (x, y))| {
            if i == 1 {
                pattern_covers(&x.to_lowercase(), &y.to_lowercase())
            } else {
                pattern_covers(x, y)
            }
        })
}

fn resources_cover(a: &[String], b: &[String]) -> bool {
    b.iter()
        .all(|bp| a.iter().any(|ap| resource_covers(ap, bp)))
}

/// Does statement `t` cover every request statement `s` matches (ignoring effect)?
fn statement_covers(t: &Statement, s: &Statement) -> bool {
    if !t.conditions.is_empty() || t.action.negated || s.action.negated {
        return false;
    }
    let lower = |st: &Statement| -> Vec<String> {
        st.action
            .values
            .iter()
            .map(|a| a.value.to_lowercase())
            .collect()
    };
    if !list_covers(&lower(t), &lower(s)) {
        return false;
    }
    let res = match (&t.resource, &s.resource) {
        (None, None) => true,
        (Some(tr), Some(sr)) if !tr.negated && !sr.negated => {
            let tv: Vec<String> = tr.values.iter().map(|v| v.value.clone()).collect();
            let sv: Vec<String> = sr.values.iter().map(|v| v.value.clone()).collect();
            resources_cover(&tv, &sv)
        }
        _ => false,
    };
    res && match (&t.principal, &s.principal) {
        (None, None) | (Some(Principal::Any), _) => true,
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn pair_findings(policy: &Policy, out: &mut Vec<Finding>) {
    let canon: Vec<String> = policy
        .statements
        .iter()
        .map(|s| canonical(policy.kind, s))
        .collect();
    for (j, s) in policy.statements.iter().enumerate() {
        if let Some(i) = canon.iter().take(j).position(|c| *c == canon[j]) {
            push(
                out,
                s,
                "RP008",
                "duplicate-statement",
                Severity::Info,
                format!("identical to statement {i}; remove one"),
            );
            continue;
        }
        for (i, t) in policy.statements.iter().enumerate() {
            if i == j || !statement_covers(t, s) {
                continue;
            }
            if t.effect == Effect::Deny && s.effect == Effect::Allow {
                push(out, s, "RP009", "shadowed-statement", Severity::Warning, format!("statement {i} denies everything this statement allows, unconditionally, so it never takes effect"));
                break;
            }
            if t.effect == s.effect && !statement_covers(s, t) {
                push(out, s, "RP009", "shadowed-statement", Severity::Info, format!("statement {i} already covers everything this statement matches; it is redundant"));
                break;
            }
        }
    }
}
