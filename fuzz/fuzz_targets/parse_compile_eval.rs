//! Fuzz target: arbitrary bytes → parse → lint → compile → authorize / authorize_assume_role.
//!
//! Input layout (all parts optional, so plain JSON policy files work as seeds):
//! - byte 0, if it is not `{`, `[`, whitespace or `"`: a selector. Bits 0–1 pick the
//!   `PolicyKind`, bits 2–4 the request shape, bits 5–7 the caller kind. Otherwise the kind is
//!   inferred from the text (`"Principal"` → trust) and the selector is 0.
//! - the policy text, up to the first NUL byte, read as UTF-8 (lossily).
//! - after the NUL: request fields separated by `\x01`: action, resource, source IP, current
//!   time, a tag value, a free key, its value.
//!
//! Besides those fields, requests are built from the document itself (each statement's action
//! and resource patterns with wildcards filled in, each condition's key with its own values and
//! near misses), so the fuzzer reaches the matching paths without guessing ARNs.
//!
//! The engine must never panic, whatever the input. A few cheap invariants are asserted too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_policy::{
    authorize, authorize_assume_role, lint, Action, ActionTable, AssumeFlow, Caller, Combine,
    Context, Identity, Layers, Outcome, Policy, PolicyId, PolicyKind, PolicySet, Request,
};

const ACCT: &str = "1234567890123456";
const KINDS: [PolicyKind; 4] = [
    PolicyKind::Identity,
    PolicyKind::Trust,
    PolicyKind::Session,
    PolicyKind::Control,
];
const ACTIONS: [&str; 8] = [
    "ecs:DeleteInstance",
    "ram:GetUser",
    "ram:CreateUser",
    "sts:AssumeRole",
    "oss:GetObject",
    "oss:PutObject",
    "log:GetLogStoreLogs",
    "resourcemanager:ListAccounts",
];
const RESOURCES: [&str; 6] = [
    "acs:ecs:cn-hangzhou:1234567890123456:instance/i-001",
    "acs:ram::1234567890123456:user/alice",
    "acs:ram::1234567890123456:role/admin",
    "acs:oss:*:1234567890123456:bucket/photos/2024/a.jpg",
    "*",
    "not-an-arn",
];
const IPS: [&str; 5] = [
    "10.0.0.1",
    "192.168.1.10",
    "203.0.113.7",
    "2001:db8::1",
    "::ffff:10.1.2.3",
];
const TIMES: [&str; 4] = [
    "2019-08-12T11:00:00Z",
    "2030-01-01T00:00:00+08:00",
    "1565607600",
    "2019-08-12T17:00:00.123Z",
];

/// Fills the wildcards of a pattern so the result is a concrete string the pattern matches.
fn concretize(pattern: &str, fill: &str) -> String {
    pattern.replace('*', fill).replace('?', "x")
}

fn contexts(policy: &Policy, extra: &[&str], selector: u8) -> Vec<Context> {
    let mut base = Context::new();
    base.insert("acs:SourceIp", IPS[usize::from(selector) % IPS.len()]);
    base.insert(
        "acs:CurrentTime",
        TIMES[usize::from(selector >> 2) % TIMES.len()],
    );
    base.insert(
        "acs:SecureTransport",
        if selector & 1 == 0 { "true" } else { "false" },
    );
    base.insert(
        "acs:MFAPresent",
        if selector & 2 == 0 { "true" } else { "false" },
    );
    if let Some(ip) = extra.get(2) {
        base.set("acs:SourceIp", ip);
    }
    if let Some(t) = extra.get(3) {
        base.set("acs:CurrentTime", t);
    }
    if let Some(v) = extra.get(4) {
        base.insert("acs:ResourceTag/env", v);
        base.insert("acs:TagKeys", v);
    }
    if let (Some(k), Some(v)) = (extra.get(5), extra.get(6)) {
        base.insert(k, v);
    }
    let mut out = vec![Context::new(), base.clone()];
    // The document's own condition values, exactly and as near misses; a multi-valued variant.
    let mut exact = base.clone();
    let mut near = base;
    let mut multi = Context::new();
    for st in policy.statements.iter().take(8) {
        for c in st.conditions.iter().take(8) {
            for v in c.values.iter().take(4) {
                exact.insert(&c.key, v);
                multi.insert(&c.key, v);
                multi.insert(&c.key, &format!("{v}x"));
                near.insert(&c.key, &concretize(v, "zz"));
            }
            if let Some(v) = c.values.first() {
                near.set(&c.key, &format!("{v}0"));
            }
        }
    }
    out.push(exact);
    out.push(near);
    out.push(multi);
    out
}

fn requests(policy: &Policy, extra: &[&str], shape: u8) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let s = usize::from(shape);
    out.push((
        ACTIONS[s % ACTIONS.len()].to_owned(),
        vec![RESOURCES[s % RESOURCES.len()].to_owned()],
    ));
    // Several resources at once, and none at all.
    out.push((
        ACTIONS[(s + 3) % ACTIONS.len()].to_owned(),
        RESOURCES
            .iter()
            .take(1 + s % 4)
            .map(|r| (*r).to_owned())
            .collect(),
    ));
    out.push((ACTIONS[0].to_owned(), Vec::new()));
    if let (Some(a), Some(r)) = (extra.first(), extra.get(1)) {
        out.push(((*a).to_owned(), vec![(*r).to_owned()]));
    }
    for st in policy.statements.iter().take(6) {
        let resources: Vec<String> = match &st.resource {
            Some(r) => r
                .values
                .iter()
                .take(3)
                .flat_map(|v| [concretize(&v.value, "a"), concretize(&v.value, "")])
                .collect(),
            None => vec![format!("acs:ram::{ACCT}:role/r")],
        };
        for a in st.action.values.iter().take(3) {
            out.push((concretize(&a.value, "Get"), resources.clone()));
            out.push((concretize(&a.value, ""), resources.clone()));
        }
    }
    out.truncate(24);
    out
}

fn callers(selector: u8) -> Vec<Caller> {
    let all = vec![
        Caller::account(ACCT),
        Caller::user(ACCT, "alice"),
        Caller::user("6543210987654321", "mallory"),
        Caller::assumed_role(ACCT, "admin", "s1"),
        Caller::service(ACCT, "ecs.aliyuncs.com"),
        Caller::federated(ACCT, &format!("acs:ram::{ACCT}:saml-provider/idp")),
        Caller::federated(ACCT, &format!("acs:ram::{ACCT}:oidc-provider/gh")),
    ];
    let start = usize::from(selector) % all.len();
    all.into_iter().cycle().skip(start).take(4).collect()
}

fn check(decision_outcome: Outcome, resources_empty: bool) {
    if resources_empty {
        assert_eq!(
            decision_outcome,
            Outcome::ImplicitDeny,
            "empty request allowed"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (selector, body, inferred) = match data.first() {
        Some(b) if !matches!(b, b'{' | b'[' | b' ' | b'\t' | b'\r' | b'\n' | b'"') => {
            (*b, data.get(1..).unwrap_or_default(), false)
        }
        _ => (0u8, data, true),
    };
    let (text_bytes, tail) = match body.iter().position(|b| *b == 0) {
        Some(i) => (&body[..i], body.get(i + 1..).unwrap_or_default()),
        None => (body, &[][..]),
    };
    let text = String::from_utf8_lossy(text_bytes);
    let tail = String::from_utf8_lossy(tail);
    let extra: Vec<&str> = if tail.is_empty() {
        Vec::new()
    } else {
        tail.split('\u{1}').collect()
    };
    let kind = if inferred {
        if text.contains("\"Principal\"") {
            PolicyKind::Trust
        } else {
            PolicyKind::Identity
        }
    } else {
        KINDS[usize::from(selector & 3)]
    };
    let shape = (selector >> 2) & 7;

    // Every stage that takes text.
    let _ = kind.check_size(&text);
    let findings = lint::lint_text(&text, kind);
    for f in &findings {
        let _ = f.to_string();
    }
    let policy = match Policy::parse(&text, kind) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "an error without diagnostics");
            for d in &e.diagnostics {
                assert!(
                    d.location.line >= 1 && d.location.column >= 1,
                    "bad location {d}"
                );
            }
            let _ = e.to_string();
            return;
        }
    };
    // A valid document lints without RP010.
    assert!(
        lint::lint(&policy).iter().all(|f| f.code != "RP010"),
        "a valid document linted as invalid"
    );

    let set = PolicySet::new([(PolicyId::new("fuzz", "Custom", "v1"), &policy)]);
    let other = PolicySet::new([
        (PolicyId::new("fuzz", "Custom", "v1"), &policy),
        (PolicyId::new("fuzz2", "Custom", "v2"), &policy),
    ]);
    let _ = format!("{set:?}");

    let ctxs = contexts(&policy, &extra, selector);
    let callers = callers(selector >> 5);

    if kind == PolicyKind::Trust {
        let identity = PolicySet::empty();
        let caller_layers = Layers::identity(&identity);
        for caller in &callers {
            for ctx in &ctxs {
                for flow in [AssumeFlow::AssumeRole, AssumeFlow::Saml, AssumeFlow::Oidc] {
                    for layers in [None, Some(&caller_layers)] {
                        let d = authorize_assume_role(
                            flow,
                            caller,
                            layers,
                            &set,
                            &format!("acs:ram::{ACCT}:role/r"),
                            ctx,
                        );
                        let _ = d.explain_parts("sts:AssumeRole", &["acs:ram::1:role/r"]);
                    }
                }
            }
        }
        return;
    }

    let requests = requests(&policy, &extra, shape);
    // The same set compiled against an action table of the requests' actions must decide
    // exactly as the ordinary path (differential check of the precomputed action tests).
    let table = ActionTable::new(requests.iter().map(|(a, _)| a.as_str()));
    let tabled =
        PolicySet::with_actions([(PolicyId::new("fuzz", "Custom", "v1"), &policy)], &table);
    for (action, resources) in requests {
        if let Some(from_table) = table.get(&action) {
            let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
            for ctx in &ctxs {
                let plain = Action::new(&action);
                let a = authorize(&Request::new(&plain, &refs, ctx), &Layers::identity(&set));
                let b = authorize(
                    &Request::new(from_table, &refs, ctx),
                    &Layers::identity(&tabled),
                );
                assert_eq!(a, b, "action table changed the decision for {action}");
            }
        }
        let action = Action::new(&action);
        let alias = Action::new("sts:AssumeRoleWithOIDC");
        let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
        for ctx in &ctxs {
            let plain = Request::new(&action, &refs, ctx);
            let d = authorize(&plain, &Layers::identity(&set));
            check(d.outcome, refs.is_empty());
            let _ = d.explain(&plain);
            // The same document through every layer, with a caller and an alias.
            let caller = &callers[usize::from(shape) % callers.len()];
            let mut req = plain.with_caller(caller);
            if shape & 1 == 1 {
                req.alias = Some(&alias);
            }
            let control = [set.clone(), other.clone()];
            let layers = Layers {
                control: &control,
                session: Some(&set),
                identity: if shape & 2 == 0 {
                    Identity::Policies {
                        account: &set,
                        resource_group: Some(&other),
                    }
                } else {
                    Identity::AccountOwner
                },
                resource_policy: Some(&other),
                combine: if shape & 4 == 0 {
                    Combine::Either
                } else {
                    Combine::Both
                },
            };
            let d = authorize(&req, &layers);
            check(d.outcome, refs.is_empty());
            let _ = d.explain(&req);
        }
    }
});
