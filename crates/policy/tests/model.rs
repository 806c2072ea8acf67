//! Property tests: the compiled, indexed evaluator decides exactly as a naive model written from
//! the documented semantics, and denies are monotonic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use proptest::prelude::*;
use rampart_policy::{
    authorize, Action, ActionTable, Combine, Context, Identity, Layers, Outcome, Policy, PolicyId,
    PolicyKind, PolicySet, Request,
};
use std::net::IpAddr;

const ACTION_PATTERNS: &[&str] = &[
    "*",
    "ecs:*",
    "ecs:Describe*",
    "ecs:DescribeInstances",
    "ECS:describe?nstances",
    "oss:Get?bject",
    "*:List*",
    "ram:*",
    "oss:*Object",
    "e*:*",
    "ecs:Describe*s",
    "?cs:Start*",
];
const ACTIONS: &[&str] = &[
    "ecs:DescribeInstances",
    "ECS:DescribeInstances",
    "ecs:StartInstance",
    "oss:GetObject",
    "oss:PutObject",
    "ram:ListUsers",
    "ram:CreateUser",
    "rds:ListTags",
    "ecs:Describes",
    "ess:Scale",
    "ecs",
    "ecs:describe:instances",
    "ecs:",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "acs:ecs:*:*:instance/*",
    "acs:ecs:cn-*:123:instance/i-?",
    "acs:oss:*:*:b/*",
    "acs:oss:*:*:b",
    "acs:*:*:123:*",
    "acs:ram::123:user/*",
    "acs:ECS:*:*:*",
];
const RESOURCES: &[&str] = &[
    "acs:ecs:cn-hangzhou:123:instance/i-1",
    "acs:ecs::123:instance/i-22",
    "acs:oss:cn-beijing:9:b/x/y",
    "acs:oss:cn-beijing:9:b",
    "acs:ram::123:user/alice",
    "acs:ram::456:user/bob",
    "plain",
    "acs:ecs:cn-hangzhou:123:Instance/i-1",
];

#[derive(Clone, Debug)]
enum Cond {
    StrEq(&'static str, Vec<&'static str>),
    StrNe(&'static str, Vec<&'static str>),
    StrLike(&'static str, Vec<&'static str>),
    Ip(Vec<&'static str>),
    NotIp(Vec<&'static str>),
    NumLt(i32),
    Bool(bool),
}

#[derive(Clone, Debug)]
struct St {
    deny: bool,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    resources: Vec<&'static str>,
    conds: Vec<Cond>,
}

const KEYS: &[&str] = &["acs:ResourceTag/team", "ecs:Tag"];
const VALUES: &[&str] = &["dev", "Dev", "prod", "d*"];
const CIDRS: &[&str] = &["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "192.168.1.1"];
const IPS: &[&str] = &[
    "10.1.2.3",
    "10.2.0.1",
    "2001:db8::7",
    "192.168.1.1",
    "8.8.8.8",
];

fn cond() -> impl Strategy<Value = Cond> {
    let key = prop::sample::select(KEYS);
    let vals = prop::collection::vec(prop::sample::select(VALUES), 1..3);
    let cidrs = prop::collection::vec(prop::sample::select(CIDRS), 1..3);
    prop_oneof![
        (key.clone(), vals.clone()).prop_map(|(k, v)| Cond::StrEq(k, v)),
        (key.clone(), vals.clone()).prop_map(|(k, v)| Cond::StrNe(k, v)),
        (key, vals).prop_map(|(k, v)| Cond::StrLike(k, v)),
        cidrs.clone().prop_map(Cond::Ip),
        cidrs.prop_map(Cond::NotIp),
        (-2i32..12).prop_map(Cond::NumLt),
        any::<bool>().prop_map(Cond::Bool),
    ]
}

fn statement() -> impl Strategy<Value = St> {
    (
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.15),
        prop::collection::vec(prop::sample::select(ACTION_PATTERNS), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(prop::sample::select(RESOURCE_PATTERNS), 1..3),
        prop::collection::vec(cond(), 0..3),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, conds)| St {
                deny,
                not_action,
                actions,
                not_resource,
                resources,
                conds,
            },
        )
}

fn json_list(v: &[&str]) -> String {
    serde_json::to_string(v).unwrap()
}

fn to_json(sts: &[St]) -> String {
    let mut out = Vec::new();
    for s in sts {
        let mut conds: Vec<(String, String)> = Vec::new();
        for c in &effective_conds(s) {
            let (op, body) = match c {
                Cond::StrEq(k, v) => ("StringEquals", format!("\"{k}\":{}", json_list(v))),
                Cond::StrNe(k, v) => ("StringNotEquals", format!("\"{k}\":{}", json_list(v))),
                Cond::StrLike(k, v) => ("StringLike", format!("\"{k}\":{}", json_list(v))),
                Cond::Ip(v) => ("IpAddress", format!("\"acs:SourceIp\":{}", json_list(v))),
                Cond::NotIp(v) => ("NotIpAddress", format!("\"acs:SourceIp\":{}", json_list(v))),
                Cond::NumLt(n) => ("NumericLessThan", format!("\"ecs:Count\":\"{n}\"")),
                Cond::Bool(b) => ("Bool", format!("\"acs:SecureTransport\":\"{b}\"")),
            };
            match conds.iter_mut().find(|(o, _)| o == op) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(&body);
                }
                None => conds.push((op.to_string(), body)),
            }
        }
        let cond_json = if conds.is_empty() {
            String::new()
        } else {
            let inner: Vec<String> = conds
                .iter()
                .map(|(o, b)| format!("\"{o}\":{{{b}}}"))
                .collect();
            format!(",\"Condition\":{{{}}}", inner.join(","))
        };
        out.push(format!(
            "{{\"Effect\":\"{}\",\"{}\":{},\"{}\":{}{}}}",
            if s.deny { "Deny" } else { "Allow" },
            if s.not_action { "NotAction" } else { "Action" },
            json_list(&s.actions),
            if s.not_resource {
                "NotResource"
            } else {
                "Resource"
            },
            json_list(&s.resources),
            cond_json
        ));
    }
    format!("{{\"Version\":\"1\",\"Statement\":[{}]}}", out.join(","))
}

/// A JSON object cannot hold one key twice under one operator, so the generator keeps the first
/// condition of each (operator, key); both the document and the model use this list.
fn effective_conds(s: &St) -> Vec<Cond> {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for c in &s.conds {
        let (op, key) = match c {
            Cond::StrEq(k, _) => ("eq", *k),
            Cond::StrNe(k, _) => ("ne", *k),
            Cond::StrLike(k, _) => ("like", *k),
            Cond::Ip(_) => ("ip", "ip"),
            Cond::NotIp(_) => ("notip", "ip"),
            Cond::NumLt(_) => ("lt", "n"),
            Cond::Bool(_) => ("bool", "b"),
        };
        let id = (op.to_string(), key.to_string());
        if !seen.contains(&id) {
            seen.push(id);
            out.push(c.clone());
        }
    }
    out
}

// ---- The model: written from the documented semantics, sharing no code with the engine. ----

fn glob(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && glob(rest, &t[1..]),
    }
}

fn glob_str(p: &str, t: &str) -> bool {
    glob(
        &p.chars().collect::<Vec<_>>(),
        &t.chars().collect::<Vec<_>>(),
    )
}

fn model_resource(p: &str, r: &str) -> bool {
    if p == "*" {
        return true;
    }
    let pp: Vec<&str> = p.splitn(5, ':').collect();
    let rp: Vec<&str> = r.splitn(5, ':').collect();
    if rp.len() != 5 || rp[0] != "acs" {
        return false;
    }
    glob_str(&pp[1].to_lowercase(), &rp[1].to_lowercase())
        && glob_str(pp[2], rp[2])
        && glob_str(pp[3], rp[3])
        && glob_str(pp[4], rp[4])
}

#[derive(Clone, Debug)]
struct Req {
    action: &'static str,
    resource: &'static str,
    tags: Vec<(&'static str, &'static str)>,
    ip: Option<&'static str>,
    count: Option<i32>,
    secure: Option<bool>,
}

fn in_cidr(c: &str, ip: &str) -> bool {
    let ip: IpAddr = ip.parse().unwrap();
    let (net, len) = c
        .split_once('/')
        .unwrap_or((c, if c.contains(':') { "128" } else { "32" }));
    let net: IpAddr = net.parse().unwrap();
    let len: u32 = len.parse().unwrap();
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & m == u32::from(i) & m
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & m == u128::from(i) & m
        }
        _ => false,
    }
}

fn model_cond(c: &Cond, r: &Req) -> bool {
    let tag_values = |k: &str| -> Vec<&str> {
        r.tags
            .iter()
            .filter(|(tk, _)| tk.eq_ignore_ascii_case(k))
            .map(|(_, v)| *v)
            .collect()
    };
    match c {
        Cond::StrEq(k, vals) => tag_values(k).iter().any(|v| vals.contains(v)),
        Cond::StrNe(k, vals) => !tag_values(k).iter().any(|v| vals.contains(v)),
        Cond::StrLike(k, vals) => tag_values(k)
            .iter()
            .any(|v| vals.iter().any(|p| glob_str(p, v))),
        Cond::Ip(cs) => r.ip.is_some_and(|ip| cs.iter().any(|c| in_cidr(c, ip))),
        Cond::NotIp(cs) => !r.ip.is_some_and(|ip| cs.iter().any(|c| in_cidr(c, ip))),
        Cond::NumLt(n) => r.count.is_some_and(|c| c < *n),
        Cond::Bool(b) => r.secure == Some(*b),
    }
}

fn model_decide(sts: &[St], r: &Req) -> Outcome {
    let action = r.action.to_lowercase();
    let mut allow = false;
    for s in sts {
        let a = s
            .actions
            .iter()
            .any(|p| glob_str(&p.to_lowercase(), &action))
            != s.not_action;
        let res = s.resources.iter().any(|p| model_resource(p, r.resource)) != s.not_resource;
        let c = effective_conds(s).iter().all(|c| model_cond(c, r));
        if a && res && c {
            if s.deny {
                return Outcome::ExplicitDeny;
            }
            allow = true;
        }
    }
    if allow {
        Outcome::Allow
    } else {
        Outcome::ImplicitDeny
    }
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(ACTIONS),
        prop::sample::select(RESOURCES),
        prop::collection::vec(
            (
                prop::sample::select(&["acs:resourcetag/TEAM", "ecs:Tag"][..]),
                prop::sample::select(VALUES),
            ),
            0..3,
        ),
        prop::option::of(prop::sample::select(IPS)),
        prop::option::of(-1i32..12),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(action, resource, tags, ip, count, secure)| Req {
            action,
            resource,
            tags,
            ip,
            count,
            secure,
        })
}

fn context(r: &Req) -> Context {
    let mut ctx = Context::new();
    for (k, v) in &r.tags {
        ctx.insert(k, v);
    }
    if let Some(ip) = r.ip {
        ctx.insert("acs:SourceIp", ip);
    }
    if let Some(c) = r.count {
        ctx.insert("ecs:count", &c.to_string());
    }
    if let Some(s) = r.secure {
        ctx.insert("acs:securetransport", if s { "true" } else { "false" });
    }
    ctx
}

fn compile(policies: &[Vec<St>]) -> PolicySet {
    let parsed: Vec<Policy> = policies
        .iter()
        .map(|p| {
            let text = to_json(p);
            Policy::parse(&text, PolicyKind::Identity).unwrap_or_else(|e| panic!("{e}\n{text}"))
        })
        .collect();
    PolicySet::new(
        parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (PolicyId::new(&format!("p{i}"), "Custom", "v1"), p)),
    )
}

fn compile_with_table(policies: &[Vec<St>], table: &ActionTable) -> PolicySet {
    let parsed: Vec<Policy> = policies
        .iter()
        .map(|p| Policy::parse(&to_json(p), PolicyKind::Identity).unwrap())
        .collect();
    PolicySet::with_actions(
        parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (PolicyId::new(&format!("p{i}"), "Custom", "v1"), p)),
        table,
    )
}

/// The decision through the set's action table (the action test worked out at compile time).
fn engine_table(set: &PolicySet, table: &ActionTable, r: &Req) -> Outcome {
    let action = table.get(r.action).unwrap();
    let resources = [r.resource];
    let ctx = context(r);
    authorize(
        &Request::new(action, &resources, &ctx),
        &Layers::identity(set),
    )
    .outcome
}

fn engine(set: &PolicySet, r: &Req) -> Outcome {
    let action = Action::new(r.action);
    let resources = [r.resource];
    let ctx = context(r);
    authorize(
        &Request::new(&action, &resources, &ctx),
        &Layers::identity(set),
    )
    .outcome
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn compiled_set_decides_as_the_model(
        policies in prop::collection::vec(prop::collection::vec(statement(), 0..5), 1..4),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let set = compile(&policies);
        let table = ActionTable::new(ACTIONS.iter().copied());
        let tabled = compile_with_table(&policies, &table);
        let all: Vec<St> = policies.concat();
        for r in &requests {
            prop_assert_eq!(engine_table(&tabled, &table, r), engine(&set, r));
            // An action from another table (or none) takes the ordinary path on the same set.
            prop_assert_eq!(engine(&tabled, r), engine(&set, r));
            prop_assert_eq!(engine(&set, r), model_decide(&all, r),
                "action {} resource {} policies {:?}", r.action, r.resource, policies.iter().map(|p| to_json(p)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn adding_a_deny_never_allows_more(
        policy in prop::collection::vec(statement(), 0..6),
        mut extra in statement(),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        extra.deny = true;
        let before = compile(std::slice::from_ref(&policy));
        let mut more = policy.clone();
        more.push(extra);
        let after = compile(&[more]);
        for r in &requests {
            let (b, a) = (engine(&before, r), engine(&after, r));
            prop_assert!(!(b != Outcome::Allow && a == Outcome::Allow));
            prop_assert!(!(b == Outcome::ExplicitDeny && a != Outcome::ExplicitDeny));
        }
    }

    #[test]
    fn a_layered_allow_needs_every_layer_to_allow(
        identity in prop::collection::vec(statement(), 0..4),
        session in prop::collection::vec(statement(), 0..3),
        control in prop::collection::vec(prop::collection::vec(statement(), 0..3), 0..3),
        r in request(),
    ) {
        let id_set = compile(std::slice::from_ref(&identity));
        let session_set = compile(std::slice::from_ref(&session));
        let control_sets: Vec<PolicySet> = control.iter().map(|c| compile(std::slice::from_ref(c))).collect();
        let action = Action::new(r.action);
        let resources = [r.resource];
        let ctx = context(&r);
        let req = Request::new(&action, &resources, &ctx);
        let layers = Layers {
            control: &control_sets,
            session: Some(&session_set),
            identity: Identity::Policies { account: &id_set, resource_group: None },
            resource_policy: None,
            combine: Combine::Either,
        };
        let d = authorize(&req, &layers);
        let each_allows = engine(&id_set, &r) == Outcome::Allow
            && engine(&session_set, &r) == Outcome::Allow
            && control_sets.iter().all(|c| engine(c, &r) == Outcome::Allow);
        prop_assert_eq!(d.outcome == Outcome::Allow, each_allows);
        let any_explicit = [&id_set, &session_set].into_iter().chain(control_sets.iter())
            .any(|s| engine(s, &r) == Outcome::ExplicitDeny);
        if d.outcome == Outcome::ImplicitDeny {
            // An implicit deny is only reported when no layer reached so far denied explicitly.
            prop_assert!(!d.matched.iter().any(|m| m.effect == rampart_policy::Effect::Deny));
        }
        if !any_explicit {
            prop_assert_ne!(d.outcome, Outcome::ExplicitDeny);
        }
    }
}
