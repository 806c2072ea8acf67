//! Fixtures shared by the `policy` benchmark and the equivalence test: one policy set written
//! once as data ([`Doc`]s of [`Stmt`]s) and rendered both as RAM JSON for `rampart-policy` and as
//! Cedar text for `cedar-policy`, a deterministic pool of distinct requests, a deterministic mix
//! of 1,000,000 draws from that pool, and ready-to-run fixtures for both engines.
//!
//! Everything an engine needs is built here, outside any timed loop: Rampart's compiled
//! [`PolicySet`], [`Action`]s and [`Context`]s; Cedar's `PolicySet`, `Entities` and `Request`s.
//! The timed loops then call only [`authorize`] and `Authorizer::is_authorized`.
//!
//! # The Cedar encoding
//! Each RAM statement becomes one Cedar policy (`Allow` → `permit`, `Deny` → `forbid`; Cedar's
//! "any forbid wins, else any permit" is RAM's "explicit deny wins, else any allow").
//! - Actions, [`ActionEncoding::Groups`] (idiomatic Cedar): every concrete action is an
//!   `Action` entity whose parents are the wildcard patterns that cover it (`Action::"ecs:describe*"`),
//!   so a statement's `Action` list becomes the scope constraint `action in [...]`.
//!   [`ActionEncoding::Like`] (literal): the lower-cased action name is a context string and the
//!   statement tests it with `like`.
//! - Resources: each request resource is a `Resource` entity whose `arn` attribute holds the ARN;
//!   a statement's `Resource` list becomes `resource.arn like "..."` (or `==` without a wildcard).
//! - Conditions: `acs:SourceIp` is a context `ipaddr` tested with `isInRange(ip("cidr"))`;
//!   `acs:SecureTransport` a context boolean; the tag keys context strings tested with `==` or
//!   `like`. Keys a request may lack are guarded with `has`, which reproduces RAM's missing-key
//!   rule (a positive operator is false, a negated one true). `SourceIp` and `SecureTransport`
//!   are present in every request (as a Cedar schema would declare them required), so they carry
//!   no guard.
//! - No principal constraint: both engines get only the one principal's policies.
//!
//! RAM's `?` wildcard has no Cedar counterpart, so the fixtures do not use it (rendering one
//! is an error). Actions and service fields are written lower-case in the requests so Cedar's
//! case-sensitive `like` sees what Rampart's case-insensitive matching does; every resource ARN
//! in the pool has no colon in its relative id, so whole-ARN `like` agrees with Rampart's
//! field-by-field match. The equivalence check ([`verify`]) confirms all of this request by
//! request, on every distinct request the mix draws.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use rampart_policy::{
    authorize, Action, ActionTable, Context, Layers, Outcome, Policy, PolicyId, PolicyKind,
    PolicySet, Request,
};

/// The principal's own account.
pub const ACCOUNT: &str = "1234567890123456";
/// Another account, whose resources the principal must not touch.
pub const OTHER_ACCOUNT: &str = "6543210987654321";

/// Distinct requests the mix draws from.
pub const POOL_SIZE: usize = 4096;
/// Requests in the mix.
pub const MIX_SIZE: usize = 1_000_000;
const POOL_SEED: u64 = 0x5eed_0001;
const MIX_SEED: u64 = 0x5eed_0002;

/// A condition key of the fixtures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    SourceIp,
    SecureTransport,
    Env,
    Team,
}

impl Key {
    pub fn ram(self) -> &'static str {
        match self {
            Key::SourceIp => "acs:SourceIp",
            Key::SecureTransport => "acs:SecureTransport",
            Key::Env => "acs:ResourceTag/env",
            Key::Team => "acs:RequestTag/team",
        }
    }

    pub fn cedar(self) -> &'static str {
        match self {
            Key::SourceIp => "source_ip",
            Key::SecureTransport => "secure_transport",
            Key::Env => "env",
            Key::Team => "team",
        }
    }

    /// Keys every request carries; the others may be missing.
    fn always_present(self) -> bool {
        matches!(self, Key::SourceIp | Key::SecureTransport)
    }
}

/// One condition of a statement.
#[derive(Clone, Copy, Debug)]
pub enum Cond {
    IpAddress(&'static [&'static str]),
    NotIpAddress(&'static [&'static str]),
    StringEquals(Key, &'static [&'static str]),
    StringNotEquals(Key, &'static [&'static str]),
    StringLike(Key, &'static [&'static str]),
    Bool(Key, bool),
}

impl Cond {
    fn ram_operator(&self) -> &'static str {
        match self {
            Cond::IpAddress(_) => "IpAddress",
            Cond::NotIpAddress(_) => "NotIpAddress",
            Cond::StringEquals(..) => "StringEquals",
            Cond::StringNotEquals(..) => "StringNotEquals",
            Cond::StringLike(..) => "StringLike",
            Cond::Bool(..) => "Bool",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement, written once and rendered for both engines.
#[derive(Clone, Copy, Debug)]
pub struct Stmt {
    pub effect: Effect,
    pub actions: &'static [&'static str],
    pub resources: &'static [&'static str],
    pub conditions: &'static [Cond],
}

/// One policy document.
#[derive(Clone, Copy, Debug)]
pub struct Doc {
    pub name: &'static str,
    pub statements: &'static [Stmt],
}

const PRIVATE: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
const OFFICE: &[&str] = &["10.0.0.0/8", "192.168.0.0/16"];
const DC: &[&str] = &["10.0.0.0/8"];

const fn allow(
    actions: &'static [&'static str],
    resources: &'static [&'static str],
    conditions: &'static [Cond],
) -> Stmt {
    Stmt {
        effect: Effect::Allow,
        actions,
        resources,
        conditions,
    }
}

const fn deny(
    actions: &'static [&'static str],
    resources: &'static [&'static str],
    conditions: &'static [Cond],
) -> Stmt {
    Stmt {
        effect: Effect::Deny,
        actions,
        resources,
        conditions,
    }
}

/// The principal of the main case: 10 attached policies of 5 statements each (4 `Allow`, 1
/// `Deny`), with wildcard actions (three policies use wildcard services, so they are candidates
/// for every request), ARN resources, and IP, boolean and string conditions.
pub static POLICIES_10X5: [Doc; 10] = [
    Doc {
        name: "ecs-operator",
        statements: &[
            allow(
                &["ecs:Describe*", "ecs:List*"],
                &[
                    "acs:ecs:*:1234567890123456:instance/*",
                    "acs:ecs:*:1234567890123456:disk/*",
                ],
                &[Cond::IpAddress(OFFICE)],
            ),
            allow(
                &["ecs:Start*", "ecs:Stop*", "ecs:Reboot*"],
                &["acs:ecs:cn-hangzhou:1234567890123456:instance/*"],
                &[Cond::StringEquals(Key::Env, &["dev", "test"])],
            ),
            allow(
                &["ecs:*Disk*"],
                &["acs:ecs:*:1234567890123456:disk/*"],
                &[Cond::Bool(Key::SecureTransport, true)],
            ),
            allow(
                &["ecs:Create*", "ecs:Run*"],
                &["acs:ecs:cn-*:1234567890123456:*"],
                &[
                    Cond::StringEquals(Key::Team, &["alpha"]),
                    Cond::IpAddress(DC),
                ],
            ),
            deny(
                &["ecs:Delete*", "ecs:Release*"],
                &["acs:ecs:*:1234567890123456:instance/*"],
                &[Cond::StringEquals(Key::Env, &["prod"])],
            ),
        ],
    },
    Doc {
        name: "oss-data",
        statements: &[
            allow(
                &["oss:Get*", "oss:List*"],
                &["acs:oss:*:1234567890123456:data-*/*"],
                &[Cond::IpAddress(&["10.0.0.0/8", "172.16.0.0/12"])],
            ),
            allow(
                &["oss:Put*"],
                &[
                    "acs:oss:*:1234567890123456:data-dev/*",
                    "acs:oss:*:1234567890123456:data-test/*",
                ],
                &[Cond::StringLike(Key::Team, &["a*"])],
            ),
            allow(
                &["oss:*Object*"],
                &["acs:oss:*:1234567890123456:logs-*/*"],
                &[
                    Cond::Bool(Key::SecureTransport, true),
                    Cond::StringEquals(Key::Env, &["dev", "test", "prod"]),
                ],
            ),
            allow(&["oss:GetBucket*"], &["acs:oss:*:1234567890123456:*"], &[]),
            deny(
                &["oss:Delete*"],
                &["acs:oss:*:1234567890123456:data-prod/*"],
                &[Cond::NotIpAddress(DC)],
            ),
        ],
    },
    Doc {
        name: "rds-operator",
        statements: &[
            allow(
                &["rds:Describe*"],
                &["acs:rds:*:1234567890123456:dbinstance/*"],
                &[Cond::IpAddress(OFFICE)],
            ),
            allow(
                &["rds:Create*", "rds:Modify*"],
                &["acs:rds:cn-*:1234567890123456:dbinstance/*"],
                &[Cond::StringEquals(Key::Env, &["dev"])],
            ),
            allow(
                &["rds:*Backup*"],
                &["acs:rds:*:1234567890123456:dbinstance/*"],
                &[Cond::StringEquals(Key::Team, &["alpha", "beta"])],
            ),
            allow(
                &["rds:Restart*"],
                &["acs:rds:cn-shanghai:1234567890123456:dbinstance/*"],
                &[Cond::Bool(Key::SecureTransport, true)],
            ),
            deny(
                &["rds:Delete*"],
                &["*"],
                &[Cond::StringNotEquals(Key::Env, &["dev"])],
            ),
        ],
    },
    Doc {
        name: "network",
        statements: &[
            allow(
                &["vpc:Describe*"],
                &["acs:vpc:*:1234567890123456:*"],
                &[Cond::IpAddress(PRIVATE)],
            ),
            allow(
                &["vpc:Create*", "vpc:Modify*"],
                &[
                    "acs:vpc:cn-hangzhou:1234567890123456:vpc/*",
                    "acs:vpc:cn-hangzhou:1234567890123456:vswitch/*",
                ],
                &[Cond::StringEquals(Key::Team, &["beta"])],
            ),
            allow(
                &["slb:Describe*"],
                &["acs:slb:*:1234567890123456:loadbalancer/*"],
                &[],
            ),
            allow(
                &["slb:Create*", "slb:Set*"],
                &["acs:slb:*:1234567890123456:loadbalancer/*"],
                &[
                    Cond::StringEquals(Key::Env, &["dev", "test"]),
                    Cond::Bool(Key::SecureTransport, true),
                ],
            ),
            deny(
                &["vpc:Delete*", "slb:Delete*"],
                &[
                    "acs:vpc:*:1234567890123456:vpc/*",
                    "acs:slb:*:1234567890123456:loadbalancer/*",
                ],
                &[Cond::StringEquals(Key::Env, &["prod"])],
            ),
        ],
    },
    Doc {
        name: "ram-delegate",
        statements: &[
            allow(
                &["ram:Get*", "ram:List*"],
                &["acs:ram:*:1234567890123456:*"],
                &[Cond::IpAddress(OFFICE)],
            ),
            allow(
                &["ram:*AccessKey*"],
                &["acs:ram:*:1234567890123456:user/dev-*"],
                &[Cond::Bool(Key::SecureTransport, true)],
            ),
            allow(
                &["ram:AttachPolicyTo*", "ram:DetachPolicyFrom*"],
                &[
                    "acs:ram:*:1234567890123456:user/dev-*",
                    "acs:ram:*:1234567890123456:policy/*",
                ],
                &[Cond::StringEquals(Key::Team, &["alpha"])],
            ),
            allow(
                &["sts:AssumeRole"],
                &["acs:ram:*:1234567890123456:role/dev-*"],
                &[Cond::StringLike(Key::Env, &["d*", "t*"])],
            ),
            deny(
                &["ram:Create*", "ram:Delete*"],
                &[
                    "acs:ram:*:1234567890123456:user/admin*",
                    "acs:ram:*:1234567890123456:role/admin*",
                ],
                &[],
            ),
        ],
    },
    Doc {
        name: "kms-user",
        statements: &[
            allow(
                &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                &["acs:kms:*:1234567890123456:key/*"],
                &[Cond::IpAddress(DC), Cond::Bool(Key::SecureTransport, true)],
            ),
            allow(
                &["kms:Describe*", "kms:List*"],
                &["acs:kms:*:1234567890123456:*"],
                &[],
            ),
            allow(
                &["kms:Create*"],
                &["acs:kms:cn-*:1234567890123456:key/*"],
                &[Cond::StringEquals(Key::Team, &["beta"])],
            ),
            allow(
                &["kms:*Secret*"],
                &["acs:kms:*:1234567890123456:secret/app-*"],
                &[Cond::StringEquals(Key::Env, &["dev", "test"])],
            ),
            deny(
                &["kms:ScheduleKeyDeletion", "kms:Disable*"],
                &["*"],
                &[Cond::NotIpAddress(DC)],
            ),
        ],
    },
    Doc {
        name: "observability",
        statements: &[
            allow(
                &["log:Get*", "log:List*"],
                &["acs:log:*:1234567890123456:project/*"],
                &[],
            ),
            allow(
                &["log:Post*"],
                &["acs:log:*:1234567890123456:project/app-*/logstore/*"],
                &[Cond::IpAddress(&["10.0.0.0/8", "172.16.0.0/12"])],
            ),
            allow(
                &["log:Create*", "log:Update*"],
                &["acs:log:cn-*:1234567890123456:project/*"],
                &[Cond::StringEquals(Key::Team, &["alpha"])],
            ),
            allow(
                &["cms:Describe*", "cms:Query*"],
                &["*"],
                &[Cond::IpAddress(PRIVATE)],
            ),
            deny(
                &["log:Delete*"],
                &["acs:log:*:1234567890123456:project/prod-*"],
                &[],
            ),
        ],
    },
    Doc {
        name: "read-only-everywhere",
        statements: &[
            allow(
                &["*:Describe*"],
                &["acs:*:*:1234567890123456:*"],
                &[Cond::IpAddress(DC)],
            ),
            allow(
                &["*:List*"],
                &["acs:*:*:1234567890123456:*"],
                &[Cond::Bool(Key::SecureTransport, true)],
            ),
            allow(
                &["*:Get*"],
                &["acs:*:cn-hangzhou:1234567890123456:*"],
                &[Cond::StringEquals(Key::Env, &["dev"])],
            ),
            allow(
                &["cr:Get*", "cr:Pull*"],
                &["acs:cr:*:1234567890123456:repository/*"],
                &[],
            ),
            deny(&["*"], &["*"], &[Cond::NotIpAddress(PRIVATE)]),
        ],
    },
    Doc {
        name: "team-sandbox",
        statements: &[
            allow(
                &["ecs:*"],
                &["acs:ecs:*:1234567890123456:instance/i-dev*"],
                &[Cond::StringEquals(Key::Env, &["dev"])],
            ),
            allow(
                &["oss:*"],
                &["acs:oss:*:1234567890123456:scratch-*/*"],
                &[Cond::StringLike(Key::Team, &["*"])],
            ),
            allow(
                &["rds:Describe*", "vpc:Describe*"],
                &["*"],
                &[Cond::Bool(Key::SecureTransport, true)],
            ),
            allow(
                &["slb:*"],
                &["acs:slb:cn-shanghai:1234567890123456:*"],
                &[
                    Cond::StringEquals(Key::Team, &["beta"]),
                    Cond::IpAddress(&["192.168.0.0/16"]),
                ],
            ),
            deny(&["*"], &["acs:*:*:6543210987654321:*"], &[]),
        ],
    },
    Doc {
        name: "tagging",
        statements: &[
            allow(
                &["ecs:*Tag*", "oss:*Tag*"],
                &["*"],
                &[Cond::StringEquals(Key::Team, &["alpha", "beta"])],
            ),
            allow(&["ram:Get*"], &["acs:ram:*:1234567890123456:role/*"], &[]),
            allow(
                &["kms:Decrypt"],
                &["acs:kms:cn-shanghai:1234567890123456:key/*"],
                &[Cond::StringEquals(Key::Env, &["prod"]), Cond::IpAddress(DC)],
            ),
            allow(
                &["log:*"],
                &["acs:log:*:1234567890123456:project/dev-*"],
                &[],
            ),
            deny(
                &["ram:*Policy*"],
                &["acs:ram:*:1234567890123456:policy/Admin*"],
                &[],
            ),
        ],
    },
];

/// The single-statement case.
pub static POLICY_1STMT: [Doc; 1] = [Doc {
    name: "ecs-describe",
    statements: &[allow(
        &["ecs:Describe*"],
        &["acs:ecs:*:1234567890123456:instance/*"],
        &[Cond::IpAddress(OFFICE)],
    )],
}];

// ---------------------------------------------------------------------------------------------
// Rendering

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_list(out: &mut String, values: &[&str]) {
    if let [one] = values {
        json_string(out, one);
        return;
    }
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json_string(out, v);
    }
    out.push(']');
}

fn ram_statement(out: &mut String, st: &Stmt) -> Result<(), String> {
    out.push_str("    {\n      \"Effect\": ");
    json_string(
        out,
        match st.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        },
    );
    out.push_str(",\n      \"Action\": ");
    json_list(out, st.actions);
    out.push_str(",\n      \"Resource\": ");
    json_list(out, st.resources);
    if !st.conditions.is_empty() {
        // Operator → key → values; a key repeated under one operator would be a duplicate
        // JSON member, which the parser rightly refuses.
        let mut block: BTreeMap<&str, Vec<(&str, Vec<&str>)>> = BTreeMap::new();
        for c in st.conditions {
            let (key, values): (Key, Vec<&str>) = match *c {
                Cond::IpAddress(v) | Cond::NotIpAddress(v) => (Key::SourceIp, v.to_vec()),
                Cond::StringEquals(k, v) | Cond::StringNotEquals(k, v) | Cond::StringLike(k, v) => {
                    (k, v.to_vec())
                }
                Cond::Bool(k, b) => (k, vec![if b { "true" } else { "false" }]),
            };
            let entry = block.entry(c.ram_operator()).or_default();
            if entry.iter().any(|(k, _)| *k == key.ram()) {
                return Err(format!(
                    "{} is tested twice by {}",
                    key.ram(),
                    c.ram_operator()
                ));
            }
            entry.push((key.ram(), values));
        }
        out.push_str(",\n      \"Condition\": {");
        for (i, (op, keys)) in block.iter().enumerate() {
            out.push_str(if i > 0 { ",\n        " } else { "\n        " });
            json_string(out, op);
            out.push_str(": {");
            for (j, (key, values)) in keys.iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                json_string(out, key);
                out.push_str(": ");
                json_list(out, values);
            }
            out.push('}');
        }
        out.push_str("\n      }");
    }
    out.push_str("\n    }");
    Ok(())
}

/// The statements as one RAM policy document (pretty-printed, as people write them).
pub fn ram_json(statements: &[Stmt]) -> Result<String, String> {
    let mut out = String::from("{\n  \"Version\": \"1\",\n  \"Statement\": [\n");
    for (i, st) in statements.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        ram_statement(&mut out, st)?;
    }
    out.push_str("\n  ]\n}\n");
    Ok(out)
}

/// How a Cedar policy names its actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionEncoding {
    /// `action in [Action::"ecs:describe*", …]`, with group membership in the entity store.
    Groups,
    /// `context.action like "ecs:describe*"` on the lower-cased action name.
    Like,
}

fn cedar_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A RAM wildcard pattern as a Cedar `like` pattern (the same syntax, minus `?`).
fn cedar_pattern(out: &mut String, p: &str) -> Result<(), String> {
    if p.contains('?') {
        return Err(format!(
            "\"{p}\": Cedar's `like` has no single-character wildcard"
        ));
    }
    cedar_string(out, p);
    Ok(())
}

/// `subject == "x"`, or with `like` a pattern with a wildcard as `subject like "x*"`; several
/// are or-ed (and parenthesised).
fn cedar_any(subject: &str, values: &[&str], like: bool) -> Result<String, String> {
    let mut out = String::new();
    if values.len() > 1 {
        out.push('(');
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(" || ");
        }
        out.push_str(subject);
        if like && v.contains('*') {
            out.push_str(" like ");
            cedar_pattern(&mut out, v)?;
        } else {
            out.push_str(" == ");
            cedar_string(&mut out, v);
        }
    }
    if values.len() > 1 {
        out.push(')');
    }
    Ok(out)
}

fn cedar_ip_any(nets: &[&str]) -> String {
    let tests: Vec<String> = nets
        .iter()
        .map(|n| {
            let mut t = String::from("context.source_ip.isInRange(ip(");
            cedar_string(&mut t, n);
            t.push_str("))");
            t
        })
        .collect();
    if tests.len() > 1 {
        format!("({})", tests.join(" || "))
    } else {
        tests.concat()
    }
}

/// The positive test of a condition, with the `has` guard for keys a request may lack.
fn cedar_guarded(key: Key, test: String) -> String {
    if key.always_present() {
        test
    } else {
        format!("(context has {} && {test})", key.cedar())
    }
}

fn cedar_condition(c: &Cond) -> Result<String, String> {
    let subject = |k: Key| format!("context.{}", k.cedar());
    Ok(match *c {
        Cond::IpAddress(nets) => cedar_ip_any(nets),
        Cond::NotIpAddress(nets) => format!("!({})", cedar_ip_any(nets)),
        Cond::StringEquals(k, values) => cedar_guarded(k, cedar_any(&subject(k), values, false)?),
        Cond::StringNotEquals(k, values) => {
            format!(
                "!({})",
                cedar_guarded(k, cedar_any(&subject(k), values, false)?)
            )
        }
        Cond::StringLike(k, patterns) => cedar_guarded(k, cedar_any(&subject(k), patterns, true)?),
        Cond::Bool(k, true) => cedar_guarded(k, subject(k)),
        Cond::Bool(k, false) => cedar_guarded(k, format!("!{}", subject(k))),
    })
}

/// The Cedar id of the action group a wildcard pattern stands for, or of the action itself.
fn action_uid_text(pattern_lower: &str) -> String {
    let mut s = String::from("Action::");
    cedar_string(&mut s, pattern_lower);
    s
}

fn cedar_statement(
    out: &mut String,
    id: &str,
    st: &Stmt,
    encoding: ActionEncoding,
) -> Result<(), String> {
    let actions: Vec<String> = st.actions.iter().map(|a| a.to_lowercase()).collect();
    let any_action = actions.iter().any(|a| a == "*");
    let any_resource = st.resources.contains(&"*");
    out.push_str("@id(");
    cedar_string(out, id);
    out.push_str(")\n");
    out.push_str(match st.effect {
        Effect::Allow => "permit",
        Effect::Deny => "forbid",
    });
    out.push_str(" (principal, ");
    if encoding == ActionEncoding::Groups && !any_action {
        out.push_str("action in ");
        if let [one] = actions.as_slice() {
            out.push_str(&action_uid_text(one));
        } else {
            out.push('[');
            for (i, a) in actions.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&action_uid_text(a));
            }
            out.push(']');
        }
    } else {
        out.push_str("action");
    }
    out.push_str(", resource)");
    let mut tests: Vec<String> = Vec::new();
    if encoding == ActionEncoding::Like && !any_action {
        let refs: Vec<&str> = actions.iter().map(String::as_str).collect();
        tests.push(cedar_any("context.action", &refs, true)?);
    }
    if !any_resource {
        tests.push(cedar_any("resource.arn", st.resources, true)?);
    }
    for c in st.conditions {
        tests.push(cedar_condition(c)?);
    }
    if !tests.is_empty() {
        out.push_str("\nwhen {\n  ");
        out.push_str(&tests.join(" &&\n  "));
        out.push_str("\n}");
    }
    out.push_str(";\n\n");
    Ok(())
}

/// The documents as Cedar text, one policy per statement, ids `<doc>/<statement index>`.
pub fn cedar_text(docs: &[Doc], encoding: ActionEncoding) -> Result<String, String> {
    let mut out = String::new();
    for doc in docs {
        for (i, st) in doc.statements.iter().enumerate() {
            cedar_statement(&mut out, &format!("{}/{i}", doc.name), st, encoding)?;
        }
    }
    Ok(out)
}

/// Cedar text for a bare list of statements (the compile case).
pub fn cedar_text_of(statements: &[Stmt], encoding: ActionEncoding) -> Result<String, String> {
    let mut out = String::new();
    for (i, st) in statements.iter().enumerate() {
        cedar_statement(&mut out, &format!("s{i}"), st, encoding)?;
    }
    Ok(out)
}

/// The ~6 KB identity policy of the compile case: the 10×5 statements in order, as many as fit
/// in 6,000 characters of pretty-printed JSON (RAM's limit for identity policies is 6,144).
pub fn compile_case_statements() -> Result<Vec<Stmt>, String> {
    let mut chosen = Vec::new();
    for st in POLICIES_10X5.iter().flat_map(|d| d.statements.iter()) {
        chosen.push(*st);
        if ram_json(&chosen)?.chars().count() > 6000 {
            chosen.pop();
        }
    }
    Ok(chosen)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A small deterministic generator (SplitMix64), so every run draws the same requests.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias of a 64-bit modulus is negligible here).
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The API actions requests name, in their canonical spelling.
pub static ACTIONS: &[&str] = &[
    "ecs:DescribeInstances",
    "ecs:DescribeDisks",
    "ecs:ListTagResources",
    "ecs:StartInstance",
    "ecs:StopInstance",
    "ecs:RebootInstance",
    "ecs:CreateInstance",
    "ecs:RunInstances",
    "ecs:DeleteInstance",
    "ecs:AttachDisk",
    "ecs:TagResources",
    "oss:GetObject",
    "oss:PutObject",
    "oss:DeleteObject",
    "oss:ListObjects",
    "oss:GetBucketInfo",
    "oss:PutObjectTagging",
    "rds:DescribeDBInstances",
    "rds:CreateDBInstance",
    "rds:ModifyDBInstanceSpec",
    "rds:CreateBackup",
    "rds:DeleteDBInstance",
    "rds:RestartDBInstance",
    "vpc:DescribeVpcs",
    "vpc:CreateVSwitch",
    "vpc:ModifyVpcAttribute",
    "vpc:DeleteVpc",
    "slb:DescribeLoadBalancers",
    "slb:CreateLoadBalancer",
    "slb:SetLoadBalancerStatus",
    "slb:DeleteLoadBalancer",
    "ram:GetUser",
    "ram:ListUsers",
    "ram:CreateUser",
    "ram:DeleteUser",
    "ram:CreateAccessKey",
    "ram:AttachPolicyToUser",
    "ram:DeletePolicy",
    "ram:GetRole",
    "sts:AssumeRole",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:ListKeys",
    "kms:CreateKey",
    "kms:GetSecretValue",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "log:GetLogs",
    "log:ListLogStores",
    "log:PostLogStoreLogs",
    "log:CreateProject",
    "log:DeleteProject",
    "cms:DescribeMetricList",
    "cms:QueryMetricData",
    "cr:GetRepository",
    "cr:PullRepository",
];

const REGIONS: &[&str] = &["cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1"];

/// One distinct request of the pool, engine-neutral.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    /// Index into [`ACTIONS`].
    pub action: usize,
    pub resource: String,
    pub source_ip: String,
    pub secure_transport: bool,
    pub env: Option<&'static str>,
    pub team: Option<&'static str>,
}

fn resource_for(rng: &mut SplitMix64, action: &str) -> String {
    let service = action.split(':').next().unwrap_or_default();
    let region = rng.pick(REGIONS).copied().unwrap_or("cn-hangzhou");
    let account = if rng.chance(8) {
        OTHER_ACCOUNT
    } else {
        ACCOUNT
    };
    let n = rng.below(100);
    let pick = |rng: &mut SplitMix64, xs: &[&'static str]| rng.pick(xs).copied().unwrap_or("x");
    let relative = match service {
        "ecs" => {
            if action.contains("Disk") || rng.chance(20) {
                format!("disk/d-{n}")
            } else {
                let prefix = pick(rng, &["dev", "prod", "web"]);
                format!("instance/i-{prefix}{n}")
            }
        }
        "oss" => {
            let bucket = pick(
                rng,
                &[
                    "data-dev",
                    "data-prod",
                    "data-test",
                    "logs-app",
                    "scratch-1",
                    "private",
                ],
            );
            format!("{bucket}/obj-{n}.json")
        }
        "rds" => format!("dbinstance/rm-{n}"),
        "vpc" => {
            if rng.chance(50) {
                format!("vpc/vpc-{n}")
            } else {
                format!("vswitch/vsw-{n}")
            }
        }
        "slb" => format!("loadbalancer/lb-{n}"),
        "ram" | "sts" => {
            let kind = if service == "sts" || rng.chance(30) {
                "role"
            } else if rng.chance(70) {
                "user"
            } else {
                "policy"
            };
            let name = match kind {
                "role" => pick(rng, &["dev-ops", "admin-role", "ci"]),
                "user" => pick(rng, &["dev-alice", "admin", "bob"]),
                _ => pick(rng, &["AdminAccess", "ReadOnly"]),
            };
            // RAM ARNs have an empty region field.
            return format!("acs:ram::{account}:{kind}/{name}");
        }
        "kms" => {
            if action.contains("Secret") || rng.chance(15) {
                let name = pick(rng, &["app-db", "other"]);
                format!("secret/{name}")
            } else {
                format!("key/key-{n}")
            }
        }
        "log" => {
            let project = pick(rng, &["app-web", "prod-core", "dev-x"]);
            if action.contains("Post") || action.contains("LogStore") {
                format!("project/{project}/logstore/access")
            } else {
                format!("project/{project}")
            }
        }
        "cms" => "metric/cpu".to_owned(),
        "cr" => format!("repository/ns/repo-{n}"),
        other => format!("{other}/{n}"),
    };
    format!("acs:{service}:{region}:{account}:{relative}")
}

fn source_ip(rng: &mut SplitMix64) -> String {
    let (a, b) = (rng.below(256), rng.below(254) + 1);
    match rng.below(100) {
        0..=44 => format!("10.{}.{a}.{b}", rng.below(256)),
        45..=64 => format!("192.168.{a}.{b}"),
        65..=84 => format!("172.{}.{a}.{b}", 16 + rng.below(16)),
        // Public addresses, outside every private range.
        _ => format!("47.{}.{a}.{b}", 96 + rng.below(32)),
    }
}

/// `POOL_SIZE` distinct requests over every action of [`ACTIONS`] (duplicates are redrawn),
/// deterministic: the pool of the 10×5 case.
pub fn request_pool() -> Vec<RequestSpec> {
    let all: Vec<usize> = (0..ACTIONS.len()).collect();
    request_pool_of(&all)
}

/// The pool of the one-statement case: requests that are all candidates for its statement's
/// service, most for its action (`ecs:DescribeInstances` three times in five, the disk variant
/// and an action outside the statement once each), so every decision runs the statement's
/// action, resource and condition tests.
pub fn request_pool_1stmt() -> Vec<RequestSpec> {
    let index = |name: &str| ACTIONS.iter().position(|a| *a == name).unwrap_or(0);
    let d = index("ecs:DescribeInstances");
    request_pool_of(&[
        d,
        d,
        d,
        index("ecs:DescribeDisks"),
        index("ecs:StartInstance"),
    ])
}

/// `POOL_SIZE` distinct requests whose actions are drawn from `actions` (indexes into
/// [`ACTIONS`]; repeat one to weight it).
pub fn request_pool_of(actions: &[usize]) -> Vec<RequestSpec> {
    let mut rng = SplitMix64::new(POOL_SEED);
    let mut pool: Vec<RequestSpec> = Vec::with_capacity(POOL_SIZE);
    let mut seen = HashSet::new();
    while pool.len() < POOL_SIZE {
        let action = rng.pick(actions).copied().unwrap_or(0);
        let name = ACTIONS.get(action).copied().unwrap_or_default();
        let spec = RequestSpec {
            action,
            resource: resource_for(&mut rng, name),
            source_ip: source_ip(&mut rng),
            secure_transport: rng.chance(75),
            env: match rng.below(10) {
                0..=2 => Some("dev"),
                3..=4 => Some("test"),
                5..=7 => Some("prod"),
                _ => None,
            },
            team: match rng.below(10) {
                0..=3 => Some("alpha"),
                4..=6 => Some("beta"),
                7 => Some("gamma"),
                _ => None,
            },
        };
        if seen.insert(format!("{spec:?}")) {
            pool.push(spec);
        }
    }
    pool
}

/// `MIX_SIZE` draws from a pool of `pool_len`, deterministic: the order the benchmark decides in.
pub fn request_mix(pool_len: usize) -> Vec<u32> {
    let mut rng = SplitMix64::new(MIX_SEED);
    (0..MIX_SIZE)
        .map(|_| u32::try_from(rng.below(pool_len)).unwrap_or(0))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Engines

/// Compiles documents as Rampart identity policies attached to one principal, against the
/// fixtures' action table (as a server compiles against its endpoints' actions).
pub fn rampart_set(docs: &[Doc], table: &ActionTable) -> Result<PolicySet, String> {
    let parsed: Vec<(PolicyId, Policy)> = docs
        .iter()
        .map(|d| {
            let text = ram_json(d.statements)?;
            let p = Policy::parse(&text, PolicyKind::Identity)
                .map_err(|e| format!("{}: {e}\n{text}", d.name))?;
            Ok((PolicyId::new(d.name, "Custom", "v1"), p))
        })
        .collect::<Result<_, String>>()?;
    Ok(PolicySet::with_actions(
        parsed.iter().map(|(id, p)| (id.clone(), p)),
        table,
    ))
}

/// Rampart's side: the compiled set and, per pool entry, what [`Request::new`] borrows.
pub struct RampartFixture {
    pub set: PolicySet,
    /// One [`Action`] per API action, built once as a server builds one per endpoint, in an
    /// [`ActionTable`] the set was compiled against.
    pub actions: ActionTable,
    /// Per pool entry: (index into `actions`, resource ARN, context).
    pub entries: Vec<(usize, &'static str, Context)>,
}

impl RampartFixture {
    pub fn new(docs: &[Doc], pool: &[RequestSpec]) -> Result<Self, String> {
        let actions = ActionTable::new(ACTIONS.iter().copied());
        let set = rampart_set(docs, &actions)?;
        let entries = pool
            .iter()
            .map(|r| {
                let mut ctx = Context::new().with(Key::SourceIp.ram(), &r.source_ip).with(
                    Key::SecureTransport.ram(),
                    if r.secure_transport { "true" } else { "false" },
                );
                if let Some(env) = r.env {
                    ctx.insert(Key::Env.ram(), env);
                }
                if let Some(team) = r.team {
                    ctx.insert(Key::Team.ram(), team);
                }
                // `Request` wants `&[&str]`; the fixture lives for the whole process, so the
                // few thousand ARNs are leaked rather than made self-referential.
                let arn: &'static str = String::leak(r.resource.clone());
                (r.action, arn, ctx)
            })
            .collect();
        Ok(RampartFixture {
            set,
            actions,
            entries,
        })
    }

    /// One ready [`Request`] per pool entry, borrowing the fixture.
    pub fn requests(&self) -> Vec<Request<'_>> {
        self.entries
            .iter()
            .filter_map(|(a, arn, ctx)| {
                let action = self.actions.actions().get(*a)?;
                Some(Request::new(action, std::slice::from_ref(arn), ctx))
            })
            .collect()
    }

    /// The same requests with actions built by [`Action::new`], outside the set's action
    /// table: the engine then runs every candidate statement's action test itself.
    pub fn requests_untabled<'a>(&'a self, plain: &'a [Action]) -> Vec<Request<'a>> {
        self.entries
            .iter()
            .filter_map(|(a, arn, ctx)| {
                let action = plain.get(*a)?;
                Some(Request::new(action, std::slice::from_ref(arn), ctx))
            })
            .collect()
    }

    /// One [`Action::new`] per API action, in the order of the table.
    pub fn plain_actions() -> Vec<Action> {
        ACTIONS.iter().map(|a| Action::new(a)).collect()
    }

    pub fn layers(&self) -> Layers<'_> {
        Layers::identity(&self.set)
    }
}

/// Cedar's side: policy set, entity store and one request per pool entry.
pub struct CedarFixture {
    pub policies: cedar_policy::PolicySet,
    pub entities: cedar_policy::Entities,
    pub requests: Vec<cedar_policy::Request>,
    pub authorizer: cedar_policy::Authorizer,
    pub text: String,
}

fn uid(ty: &str, id: &str) -> Result<cedar_policy::EntityUid, String> {
    let ty = cedar_policy::EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
    let id = cedar_policy::EntityId::from_str(id).map_err(|e| e.to_string())?;
    Ok(cedar_policy::EntityUid::from_type_name_and_id(ty, id))
}

/// A small reference wildcard matcher (`*` only), independent of Rampart's, used to place
/// actions in their Cedar groups.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            (0..=text.len()).any(|i| text.get(i..).is_some_and(|t| glob(rest, t)))
        }
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, tr)| t == c && glob(rest, tr)),
    }
}

impl CedarFixture {
    pub fn new(
        docs: &[Doc],
        pool: &[RequestSpec],
        encoding: ActionEncoding,
    ) -> Result<Self, String> {
        use cedar_policy::{Context as CContext, Entities, Entity, RestrictedExpression};
        let text = cedar_text(docs, encoding)?;
        let policies =
            cedar_policy::PolicySet::from_str(&text).map_err(|e| format!("{e:?}\n{text}"))?;

        let mut entities: Vec<Entity> = Vec::new();
        // Actions, and for the group encoding the wildcard groups each one belongs to.
        let patterns: HashSet<String> = docs
            .iter()
            .flat_map(|d| d.statements.iter())
            .flat_map(|s| s.actions.iter())
            .map(|a| a.to_lowercase())
            .filter(|a| a.contains('*') && a != "*")
            .collect();
        for name in ACTIONS {
            let lower = name.to_lowercase();
            let parents: HashSet<_> = if encoding == ActionEncoding::Groups {
                patterns
                    .iter()
                    .filter(|p| glob(p.as_bytes(), lower.as_bytes()))
                    .map(|p| uid("Action", p))
                    .collect::<Result<_, _>>()?
            } else {
                HashSet::new()
            };
            entities.push(Entity::new_no_attrs(uid("Action", &lower)?, parents));
        }
        if encoding == ActionEncoding::Groups {
            for p in &patterns {
                entities.push(Entity::new_no_attrs(uid("Action", p)?, HashSet::new()));
            }
        }
        let principal = uid("User", "alice")?;
        entities.push(Entity::new_no_attrs(principal.clone(), HashSet::new()));
        let mut resources: HashSet<&str> = HashSet::new();
        for r in pool {
            if resources.insert(&r.resource) {
                let attrs = HashMap::from([(
                    "arn".to_owned(),
                    RestrictedExpression::new_string(r.resource.clone()),
                )]);
                entities.push(
                    Entity::new(uid("Resource", &r.resource)?, attrs, HashSet::new())
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;

        let requests = pool
            .iter()
            .map(|r| {
                let lower = ACTIONS
                    .get(r.action)
                    .map(|a| a.to_lowercase())
                    .unwrap_or_default();
                let mut pairs = vec![
                    (
                        Key::SourceIp.cedar().to_owned(),
                        RestrictedExpression::new_ip(&r.source_ip),
                    ),
                    (
                        Key::SecureTransport.cedar().to_owned(),
                        RestrictedExpression::new_bool(r.secure_transport),
                    ),
                ];
                if encoding == ActionEncoding::Like {
                    pairs.push((
                        "action".to_owned(),
                        RestrictedExpression::new_string(lower.clone()),
                    ));
                }
                if let Some(env) = r.env {
                    pairs.push((
                        Key::Env.cedar().to_owned(),
                        RestrictedExpression::new_string(env.to_owned()),
                    ));
                }
                if let Some(team) = r.team {
                    pairs.push((
                        Key::Team.cedar().to_owned(),
                        RestrictedExpression::new_string(team.to_owned()),
                    ));
                }
                let context = CContext::from_pairs(pairs).map_err(|e| e.to_string())?;
                cedar_policy::Request::new(
                    principal.clone(),
                    uid("Action", &lower)?,
                    uid("Resource", &r.resource)?,
                    context,
                    None,
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CedarFixture {
            policies,
            entities,
            requests,
            authorizer: cedar_policy::Authorizer::new(),
            text,
        })
    }

    pub fn decide(&self, i: usize) -> Option<cedar_policy::Response> {
        let r = self.requests.get(i)?;
        Some(
            self.authorizer
                .is_authorized(r, &self.policies, &self.entities),
        )
    }
}

/// How the pool, and the mix drawn from it, decide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub allow: usize,
    pub explicit_deny: usize,
    pub implicit_deny: usize,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.allow + self.explicit_deny + self.implicit_deny
    }

    fn add(&mut self, o: Outcome, n: usize) {
        match o {
            Outcome::Allow => self.allow += n,
            Outcome::ExplicitDeny => self.explicit_deny += n,
            Outcome::ImplicitDeny => self.implicit_deny += n,
        }
    }
}

/// The equivalence report: outcomes over the distinct pool and over the mix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub pool: Tally,
    pub mix: Tally,
}

/// Decides every pool entry with Rampart and with Cedar and fails on the first disagreement:
/// allow must match allow, an explicit deny must be a Cedar deny caused by a `forbid`, an
/// implicit deny a Cedar deny with no satisfied policy; and Cedar must report no evaluation
/// error (an erroring `forbid` would silently not deny). Every request of the mix is a pool
/// entry, so this covers the whole mix.
pub fn verify(
    rampart: &RampartFixture,
    cedar: &CedarFixture,
    mix: &[u32],
) -> Result<Verified, String> {
    let requests = rampart.requests();
    let layers = rampart.layers();
    if requests.len() != cedar.requests.len() {
        return Err("the two fixtures hold different pools".into());
    }
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut pool = Tally::default();
    for (i, req) in requests.iter().enumerate() {
        let r = authorize(req, &layers).outcome;
        let c = cedar.decide(i).ok_or("no such Cedar request")?;
        let errors: Vec<String> = c.diagnostics().errors().map(|e| e.to_string()).collect();
        let reasons: Vec<String> = c.diagnostics().reason().map(|p| p.to_string()).collect();
        let forbidden = reasons.iter().any(|id| {
            cedar
                .policies
                .policy(&cedar_policy::PolicyId::new(id))
                .is_some_and(|p| p.effect() == cedar_policy::Effect::Forbid)
        });
        let agree = match r {
            Outcome::Allow => c.decision() == cedar_policy::Decision::Allow,
            Outcome::ExplicitDeny => c.decision() == cedar_policy::Decision::Deny && forbidden,
            Outcome::ImplicitDeny => {
                c.decision() == cedar_policy::Decision::Deny && reasons.is_empty()
            }
        };
        if !agree || !errors.is_empty() {
            let (arn, ctx) = rampart
                .entries
                .get(i)
                .map(|(_, arn, ctx)| (*arn, format!("{ctx:?}")))
                .unwrap_or_default();
            return Err(format!(
                "request {i} ({} on {arn}, {ctx}): Rampart {r:?}, Cedar {:?} (reasons {reasons:?}, errors {errors:?})",
                req.action.as_str(),
                c.decision(),
            ));
        }
        pool.add(r, 1);
        outcomes.push(r);
    }
    let mut mix_tally = Tally::default();
    for &i in mix {
        let o = outcomes
            .get(usize::try_from(i).unwrap_or(usize::MAX))
            .ok_or("the mix names a request outside the pool")?;
        mix_tally.add(*o, 1);
    }
    Ok(Verified {
        pool,
        mix: mix_tally,
    })
}
