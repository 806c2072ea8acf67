//! Table-driven tests of evaluation: operators, wildcards, NotAction, missing and multi-valued
//! keys, layers, and trust policies of every principal kind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use rampart_policy::{
    authorize, authorize_assume_role, Action, AssumeFlow, Caller, Combine, Context, Effect,
    Identity, Layer, Layers, Outcome, Policy, PolicyId, PolicyKind, PolicySet, Request,
};

const ACCT: &str = "1234567890123456";
const OTHER: &str = "6543210987654321";

fn compile(kind: PolicyKind, docs: &[&str]) -> PolicySet {
    let parsed: Vec<Policy> = docs
        .iter()
        .map(|d| Policy::parse(d, kind).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect();
    PolicySet::new(
        parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (PolicyId::new(&format!("p{i}"), "Custom", "v1"), p)),
    )
}

fn identity(docs: &[&str]) -> PolicySet {
    compile(PolicyKind::Identity, docs)
}

fn decide(set: &PolicySet, action: &str, resource: &str, ctx: &Context) -> Outcome {
    let action = Action::new(action);
    let resources = [resource];
    authorize(
        &Request::new(&action, &resources, ctx),
        &Layers::identity(set),
    )
    .outcome
}

fn allow_with_condition(op: &str, key: &str, values: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{{"{op}":{{"{key}":{values}}}}}}}]}}"#
    )
}

const A: Outcome = Outcome::Allow;
const I: Outcome = Outcome::ImplicitDeny;
const E: Outcome = Outcome::ExplicitDeny;

/// (operator, key, policy values, request values (`None`: key absent), expected)
type OperatorCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static [&'static str]>,
    Outcome,
);

#[test]
fn every_operator() {
    let cases: &[OperatorCase] = &[
        ("StringEquals", "ecs:tag", r#""dev""#, Some(&["dev"]), A),
        ("StringEquals", "ecs:tag", r#""dev""#, Some(&["Dev"]), I),
        (
            "StringEquals",
            "ecs:tag",
            r#"["a","dev"]"#,
            Some(&["dev"]),
            A,
        ),
        ("StringEquals", "ecs:tag", r#""dev""#, None, I),
        ("StringNotEquals", "ecs:tag", r#""dev""#, Some(&["prod"]), A),
        ("StringNotEquals", "ecs:tag", r#""dev""#, Some(&["dev"]), I),
        ("StringNotEquals", "ecs:tag", r#""dev""#, None, A),
        (
            "StringEqualsIgnoreCase",
            "ecs:tag",
            r#""DEV""#,
            Some(&["dev"]),
            A,
        ),
        (
            "StringEqualsIgnoreCase",
            "ecs:tag",
            r#""DEV""#,
            Some(&["prod"]),
            I,
        ),
        (
            "StringNotEqualsIgnoreCase",
            "ecs:tag",
            r#""DEV""#,
            Some(&["Dev"]),
            I,
        ),
        (
            "StringNotEqualsIgnoreCase",
            "ecs:tag",
            r#""DEV""#,
            Some(&["prod"]),
            A,
        ),
        (
            "StringLike",
            "oss:Prefix",
            r#""hangzhou/2015/*""#,
            Some(&["hangzhou/2015/a.jpg"]),
            A,
        ),
        (
            "StringLike",
            "oss:Prefix",
            r#""hangzhou/2015/*""#,
            Some(&["hangzhou/2015/"]),
            A,
        ),
        (
            "StringLike",
            "oss:Prefix",
            r#""hangzhou/2015/*""#,
            Some(&["Hangzhou/2015/x"]),
            I,
        ),
        (
            "StringLike",
            "oss:Prefix",
            r#""file?.txt""#,
            Some(&["file1.txt"]),
            A,
        ),
        (
            "StringLike",
            "oss:Prefix",
            r#""file?.txt""#,
            Some(&["file.txt"]),
            I,
        ),
        (
            "StringNotLike",
            "oss:Prefix",
            r#""tmp/*""#,
            Some(&["data/x"]),
            A,
        ),
        (
            "StringNotLike",
            "oss:Prefix",
            r#""tmp/*""#,
            Some(&["tmp/x"]),
            I,
        ),
        ("StringNotLike", "oss:Prefix", r#""tmp/*""#, None, A),
        ("NumericEquals", "ecs:n", r#""10""#, Some(&["10"]), A),
        ("NumericEquals", "ecs:n", r#""10""#, Some(&["10.0"]), A),
        ("NumericEquals", "ecs:n", r#""10""#, Some(&["11"]), I),
        ("NumericEquals", "ecs:n", r#""10""#, Some(&["ten"]), I),
        ("NumericNotEquals", "ecs:n", r#""10""#, Some(&["11"]), A),
        ("NumericNotEquals", "ecs:n", r#""10""#, Some(&["10"]), I),
        ("NumericNotEquals", "ecs:n", r#""10""#, Some(&["ten"]), A),
        ("NumericLessThan", "ecs:n", r#""10""#, Some(&["9.5"]), A),
        ("NumericLessThan", "ecs:n", r#""10""#, Some(&["10"]), I),
        (
            "NumericLessThanEquals",
            "ecs:n",
            r#""10""#,
            Some(&["10"]),
            A,
        ),
        (
            "NumericLessThanEquals",
            "ecs:n",
            r#""10""#,
            Some(&["10.01"]),
            I,
        ),
        ("NumericGreaterThan", "ecs:n", r#""10""#, Some(&["11"]), A),
        ("NumericGreaterThan", "ecs:n", r#""10""#, Some(&["10"]), I),
        (
            "NumericGreaterThanEquals",
            "ecs:n",
            r#""-1""#,
            Some(&["-1"]),
            A,
        ),
        (
            "NumericGreaterThanEquals",
            "ecs:n",
            r#""-1""#,
            Some(&["-2"]),
            I,
        ),
        ("NumericLessThan", "ecs:n", r#"10"#, Some(&["3"]), A),
        (
            "DateEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-13T01:00:00+08:00"]),
            A,
        ),
        (
            "DateNotEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-12T17:00:01Z"]),
            A,
        ),
        (
            "DateNotEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-12T17:00:00Z"]),
            I,
        ),
        (
            "DateLessThan",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-12T16:59:59Z"]),
            A,
        ),
        (
            "DateLessThan",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-12T17:00:00Z"]),
            I,
        ),
        (
            "DateLessThanEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["2019-08-12T17:00:00Z"]),
            A,
        ),
        (
            "DateGreaterThan",
            "acs:CurrentTime",
            r#""2019-08-12""#,
            Some(&["2019-08-12T00:00:01Z"]),
            A,
        ),
        (
            "DateGreaterThan",
            "acs:CurrentTime",
            r#""2019-08-12""#,
            Some(&["2019-08-11T23:59:59Z"]),
            I,
        ),
        (
            "DateGreaterThanEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00.500Z""#,
            Some(&["2019-08-12T17:00:00.500Z"]),
            A,
        ),
        (
            "DateGreaterThanEquals",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            Some(&["not a date"]),
            I,
        ),
        (
            "DateLessThan",
            "acs:CurrentTime",
            r#""2019-08-12T17:00:00Z""#,
            None,
            I,
        ),
        (
            "Bool",
            "acs:SecureTransport",
            r#""true""#,
            Some(&["true"]),
            A,
        ),
        (
            "Bool",
            "acs:SecureTransport",
            r#""true""#,
            Some(&["True"]),
            A,
        ),
        (
            "Bool",
            "acs:SecureTransport",
            r#""true""#,
            Some(&["false"]),
            I,
        ),
        ("Bool", "acs:SecureTransport", r#""true""#, None, I),
        ("Bool", "acs:MFAPresent", r#"false"#, Some(&["false"]), A),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["10.20.30.40"]),
            A,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["11.0.0.1"]),
            I,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#"["192.168.0.1","10.0.0.0/8"]"#,
            Some(&["192.168.0.1"]),
            A,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""2001:db8::/32""#,
            Some(&["2001:db8:1::5"]),
            A,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""2001:db8::/32""#,
            Some(&["2001:db9::5"]),
            I,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""2001:db8::/32""#,
            Some(&["10.0.0.1"]),
            I,
        ),
        (
            "IpAddress",
            "acs:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["::ffff:10.1.1.1"]),
            A,
        ),
        ("IpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, None, I),
        (
            "NotIpAddress",
            "acs:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["11.0.0.1"]),
            A,
        ),
        (
            "NotIpAddress",
            "acs:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["10.0.0.1"]),
            I,
        ),
        (
            "NotIpAddress",
            "acs:SourceIp",
            r#""fe80::/10""#,
            Some(&["fe80::1"]),
            I,
        ),
        ("NotIpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, None, A),
        // Multi-valued request keys: a positive operator needs any value to match, a negated
        // one needs none to match.
        (
            "StringEquals",
            "acs:TagKeys",
            r#""team""#,
            Some(&["env", "team"]),
            A,
        ),
        (
            "StringNotEquals",
            "acs:TagKeys",
            r#""team""#,
            Some(&["env", "team"]),
            I,
        ),
        (
            "StringNotEquals",
            "acs:TagKeys",
            r#""team""#,
            Some(&["env", "owner"]),
            A,
        ),
        // Set qualifiers.
        (
            "ForAnyValue:StringEquals",
            "acs:TagKeys",
            r#"["team","env"]"#,
            Some(&["env", "x"]),
            A,
        ),
        (
            "ForAnyValue:StringEquals",
            "acs:TagKeys",
            r#"["team","env"]"#,
            None,
            I,
        ),
        (
            "ForAllValues:StringEquals",
            "acs:TagKeys",
            r#"["team","env"]"#,
            Some(&["env", "team"]),
            A,
        ),
        (
            "ForAllValues:StringEquals",
            "acs:TagKeys",
            r#"["team","env"]"#,
            Some(&["env", "x"]),
            I,
        ),
        (
            "ForAllValues:StringEquals",
            "acs:TagKeys",
            r#"["team","env"]"#,
            None,
            A,
        ),
        (
            "ForAnyValue:StringNotEquals",
            "acs:TagKeys",
            r#""team""#,
            Some(&["team", "x"]),
            A,
        ),
        (
            "ForAllValues:StringNotEquals",
            "acs:TagKeys",
            r#""team""#,
            Some(&["team", "x"]),
            I,
        ),
    ];
    for (op, key, values, request, want) in cases {
        let doc = allow_with_condition(op, key, values);
        let set = identity(&[&doc]);
        let mut ctx = Context::new();
        for v in request.unwrap_or(&[]) {
            ctx.insert(key, v);
        }
        let got = decide(
            &set,
            "ecs:DescribeInstances",
            "acs:ecs:cn-hangzhou:1:instance/i-1",
            &ctx,
        );
        assert_eq!(got, *want, "{op} {key} {values} with {request:?}");
    }
}

#[test]
fn every_operator_is_covered_by_the_table() {
    // Guards the table above: adding an operator without tests fails here.
    let src: String = include_str!("evaluate.rs").split_whitespace().collect();
    for op in rampart_policy::condition::BaseOperator::all() {
        assert!(
            src.contains(&format!("(\"{}\",", op.name())),
            "no case for {}",
            op.name()
        );
    }
}

#[test]
fn condition_keys_are_case_insensitive_and_blocks_are_conjunctions() {
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*",
        "Condition":{"IpAddress":{"ACS:SOURCEIP":"10.0.0.0/8"},
                     "Bool":{"acs:SecureTransport":"true"},
                     "StringEquals":{"acs:ResourceTag/team":"dev","acs:ResourceTag/env":["a","b"]}}}]}"#;
    let set = identity(&[doc]);
    let full = Context::new()
        .with("acs:sourceip", "10.1.1.1")
        .with("Acs:SecureTransport", "true")
        .with("acs:ResourceTag/team", "dev")
        .with("acs:ResourceTag/env", "b");
    assert_eq!(decide(&set, "ecs:Start", "*", &full), A);
    let mut partial = full.clone();
    partial.set("acs:ResourceTag/env", "c");
    assert_eq!(decide(&set, "ecs:Start", "*", &partial), I);
    let mut partial = full.clone();
    partial.remove("acs:SecureTransport");
    assert_eq!(decide(&set, "ecs:Start", "*", &partial), I);
}

#[test]
fn action_matching() {
    let set = identity(&[r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":["ecs:Describe*","oss:Get?bject","RAM:listusers"],"Resource":"*"}]}"#]);
    let ctx = Context::new();
    let cases = [
        ("ecs:DescribeInstances", A),
        ("ECS:describeinstances", A),
        ("ecs:Describe", A),
        ("ecs:Describ", I),
        ("ecs:StartInstance", I),
        ("oss:GetObject", A),
        ("oss:GetObjects", I),
        ("oss:Getbject", I),
        ("ram:ListUsers", A),
        ("ram:ListUsers2", I),
        ("rds:DescribeDBInstances", I),
        ("xecs:DescribeInstances", I),
    ];
    for (action, want) in cases {
        assert_eq!(decide(&set, action, "*", &ctx), want, "{action}");
    }
    let star = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    ]);
    assert_eq!(decide(&star, "anything:AtAll", "acs:x:y:z:w", &ctx), A);
    let svc_wild = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*:Describe*","Resource":"*"}}"#,
    ]);
    assert_eq!(decide(&svc_wild, "rds:DescribeDBInstances", "*", &ctx), A);
    assert_eq!(decide(&svc_wild, "rds:CreateDBInstance", "*", &ctx), I);
}

#[test]
fn not_action_and_not_resource() {
    let set = identity(&[r#"{"Version":"1","Statement":[
        {"Effect":"Allow","NotAction":["ram:*","ims:*"],"Resource":"*"},
        {"Effect":"Deny","Action":"oss:*","NotResource":["acs:oss:*:*:public-bucket","acs:oss:*:*:public-bucket/*"]}]}"#]);
    let ctx = Context::new();
    assert_eq!(decide(&set, "ecs:RunInstances", "*", &ctx), A);
    assert_eq!(decide(&set, "ram:CreateUser", "*", &ctx), I);
    assert_eq!(decide(&set, "RAM:CreateUser", "*", &ctx), I);
    assert_eq!(
        decide(
            &set,
            "oss:GetObject",
            "acs:oss:*:1:public-bucket/a.txt",
            &ctx
        ),
        A
    );
    assert_eq!(
        decide(&set, "oss:GetObject", "acs:oss:*:1:private/a.txt", &ctx),
        E
    );
}

#[test]
fn resource_matching_is_arn_aware() {
    let set = identity(&[&format!(
        r#"{{"Version":"1","Statement":[
        {{"Effect":"Allow","Action":"ram:*","Resource":["acs:ram:*:{ACCT}:user/dev-*","acs:ram:*:{ACCT}:role/Admin"]}}]}}"#
    )]);
    let ctx = Context::new();
    let cases = [
        (format!("acs:ram::{ACCT}:user/dev-alice"), A),
        (format!("acs:ram:cn-hangzhou:{ACCT}:user/dev-alice"), A),
        (format!("acs:RAM::{ACCT}:user/dev-alice"), A),
        (format!("acs:ram::{ACCT}:user/Dev-alice"), I),
        (format!("acs:ram::{OTHER}:user/dev-alice"), I),
        (format!("acs:ram::{ACCT}:role/Admin"), A),
        (format!("acs:ram::{ACCT}:role/admin"), I),
        (format!("acs:ram::{ACCT}:role/Admin2"), I),
        // `*` in the region field must not swallow the account field.
        (format!("acs:ram::x:{ACCT}:user/dev-a"), I),
        ("not-an-arn".to_owned(), I),
        ("*".to_owned(), I),
    ];
    for (resource, want) in cases {
        assert_eq!(
            decide(&set, "ram:GetUser", &resource, &ctx),
            want,
            "{resource}"
        );
    }
    // The relative id may itself contain colons.
    let oss = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:*:bucket/a:b/*"}}"#,
    ]);
    assert_eq!(
        decide(
            &oss,
            "oss:GetObject",
            "acs:oss:cn-beijing:1:bucket/a:b/c",
            &ctx
        ),
        A
    );
    assert_eq!(
        decide(
            &oss,
            "oss:GetObject",
            "acs:oss:cn-beijing:1:bucket/a/c",
            &ctx
        ),
        I
    );
}

#[test]
fn deny_overrides_allow_and_is_explained() {
    let set = identity(&[
        r#"{"Version":"1","Statement":[{"Sid":"all","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"},
            {"Sid":"office","Effect":"Deny","Action":"ecs:Delete*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"192.168.0.0/16"}}}]}"#,
    ]);
    let action = Action::new("ecs:DeleteInstance");
    let resources = ["acs:ecs:cn-hangzhou:1:instance/i-1"];
    let ctx = Context::new().with("acs:SourceIp", "8.8.8.8");
    let req = Request::new(&action, &resources, &ctx);
    let d = authorize(&req, &Layers::identity(&set));
    assert_eq!(d.outcome, E);
    assert_eq!(d.decided_by, Some(Layer::AccountIdentity));
    let summary: Vec<(String, u32, Effect)> = d
        .matched
        .iter()
        .map(|m| (m.policy.name.to_string(), m.statement, m.effect))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("p0".into(), 0, Effect::Allow),
            ("p1".into(), 0, Effect::Allow),
            ("p1".into(), 1, Effect::Deny)
        ]
    );
    let text = d.explain(&req);
    assert!(text.contains("explicitly denied"), "{text}");
    assert!(text.contains("Sid \"office\""), "{text}");
    let inside = Context::new().with("acs:SourceIp", "192.168.3.4");
    assert_eq!(decide(&set, "ecs:DeleteInstance", resources[0], &inside), A);
}

#[test]
fn every_resource_must_be_allowed() {
    let set = identity(&[
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:*:a/*"},
        {"Effect":"Deny","Action":"oss:*","Resource":"acs:oss:*:*:c/*"}]}"#,
    ]);
    let action = Action::new("oss:CopyObject");
    let ctx = Context::new();
    let ok = ["acs:oss:*:1:a/x", "acs:oss:*:1:a/y"];
    assert_eq!(
        authorize(&Request::new(&action, &ok, &ctx), &Layers::identity(&set)).outcome,
        A
    );
    let partly = ["acs:oss:*:1:a/x", "acs:oss:*:1:b/y", "acs:oss:*:1:c/z"];
    let d = authorize(
        &Request::new(&action, &partly, &ctx),
        &Layers::identity(&set),
    );
    assert_eq!(d.outcome, E);
    assert_eq!(d.denied_resource, Some(2));
    let none: [&str; 0] = [];
    assert_eq!(
        authorize(&Request::new(&action, &none, &ctx), &Layers::identity(&set)).outcome,
        I
    );
}

#[test]
fn session_policy_intersects() {
    let role = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":["ecs:*","oss:*"],"Resource":"*"}}"#,
    ]);
    let session = compile(
        PolicyKind::Session,
        &[
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":["oss:Get*","rds:*"],"Resource":"*"}}"#,
        ],
    );
    let ctx = Context::new();
    let check = |action: &str| {
        let a = Action::new(action);
        let r = ["*"];
        let layers = Layers {
            session: Some(&session),
            ..Layers::identity(&role)
        };
        authorize(&Request::new(&a, &r, &ctx), &layers)
    };
    assert_eq!(check("oss:GetObject").outcome, A); // both allow
    let d = check("oss:PutObject"); // role allows, session does not
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::SessionPolicy)));
    let d = check("rds:CreateDBInstance"); // session allows, role does not
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::AccountIdentity)));
}

#[test]
fn control_policy_levels_each_bound_permissions() {
    let root = compile(
        PolicyKind::Control,
        &[r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#],
    );
    let folder = compile(
        PolicyKind::Control,
        &[
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            r#"{"Version":"1","Statement":{"Effect":"Deny","Action":"ram:*","Resource":"*"}}"#,
        ],
    );
    let account_only_ecs = compile(
        PolicyKind::Control,
        &[
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":["ecs:*","ram:*","oss:*"],"Resource":"*"}}"#,
        ],
    );
    let admin = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    ]);
    let ctx = Context::new();
    let levels = [root, folder, account_only_ecs];
    let check = |action: &str, identity: Identity<'_>| {
        let a = Action::new(action);
        let r = ["*"];
        let layers = Layers {
            control: &levels,
            session: None,
            identity,
            resource_policy: None,
            combine: Combine::Either,
        };
        authorize(&Request::new(&a, &r, &ctx), &layers)
    };
    let user = Identity::Policies {
        account: &admin,
        resource_group: None,
    };
    assert_eq!(check("ecs:RunInstances", user).outcome, A);
    let d = check("ram:CreateUser", user);
    assert_eq!(
        (d.outcome, d.decided_by),
        (E, Some(Layer::ControlPolicy { level: 1 }))
    );
    let d = check("rds:CreateDBInstance", user);
    assert_eq!(
        (d.outcome, d.decided_by),
        (I, Some(Layer::ControlPolicy { level: 2 }))
    );
    // Control policies bind the account's root identity too.
    let d = check("ram:CreateUser", Identity::AccountOwner);
    assert_eq!(d.outcome, E);
    assert_eq!(check("oss:PutObject", Identity::AccountOwner).outcome, A);
    // Control policies never grant.
    let nothing = PolicySet::empty();
    let d = check(
        "ecs:RunInstances",
        Identity::Policies {
            account: &nothing,
            resource_group: None,
        },
    );
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::AccountIdentity)));
}

#[test]
fn resource_group_scope_is_consulted_after_account_scope() {
    let account = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}}"#,
    ]);
    let rg = identity(&[
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"},{"Effect":"Deny","Action":"ecs:DescribeRegions","Resource":"*"}]}"#,
    ]);
    let ctx = Context::new();
    let check = |action: &str| {
        let a = Action::new(action);
        let r = ["*"];
        let layers = Layers {
            identity: Identity::Policies {
                account: &account,
                resource_group: Some(&rg),
            },
            ..Layers::identity(&account)
        };
        authorize(&Request::new(&a, &r, &ctx), &layers)
    };
    let d = check("ecs:StartInstance");
    assert_eq!(
        (d.outcome, d.decided_by),
        (A, Some(Layer::ResourceGroupIdentity))
    );
    // An account-scope allow ends the identity stage (RAM's documented order).
    let d = check("ecs:DescribeRegions");
    assert_eq!((d.outcome, d.decided_by), (A, Some(Layer::AccountIdentity)));
}

fn trust(doc: &str) -> PolicySet {
    compile(PolicyKind::Trust, &[doc])
}

fn assume(flow: AssumeFlow, caller: &Caller, trust: &PolicySet, ctx: &Context) -> Outcome {
    // The caller's identity policy allows AssumeRole on everything.
    let caller_policy = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
    ]);
    let layers = Layers::identity(&caller_policy);
    let role = format!("acs:ram::{ACCT}:role/target");
    authorize_assume_role(flow, caller, Some(&layers), trust, &role, ctx).outcome
}

#[test]
fn trust_policies_of_every_principal_kind() {
    let ctx = Context::new();
    let account = trust(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":["acs:ram::{OTHER}:root"]}}}}]}}"#
    ));
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(OTHER, "bob"),
            &account,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::assumed_role(OTHER, "ci", "s1"),
            &account,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(ACCT, "bob"),
            &account,
            &ctx
        ),
        I
    );

    let user = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:user/alice"}}}}}}"#
    ));
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(ACCT, "alice"),
            &user,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(ACCT, "mallory"),
            &user,
            &ctx
        ),
        I
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::assumed_role(ACCT, "alice", "x"),
            &user,
            &ctx
        ),
        I
    );

    let chained = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:role/ci"}}}}}}"#
    ));
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::assumed_role(ACCT, "ci", "build-7"),
            &chained,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::assumed_role(ACCT, "other", "build-7"),
            &chained,
            &ctx
        ),
        I
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(ACCT, "ci"),
            &chained,
            &ctx
        ),
        I
    );

    let service = trust(
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}}"#,
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::service(ACCT, "ECS.aliyuncs.com"),
            &service,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::service(ACCT, "fc.aliyuncs.com"),
            &service,
            &ctx
        ),
        I
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(ACCT, "ecs.aliyuncs.com"),
            &service,
            &ctx
        ),
        I
    );
    let qualified = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"Service":"{OTHER}@fc.aliyuncs.com"}}}}}}"#
    ));
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::service(OTHER, "fc.aliyuncs.com"),
            &qualified,
            &ctx
        ),
        A
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::service(ACCT, "fc.aliyuncs.com"),
            &qualified,
            &ctx
        ),
        I
    );

    let anyone = trust(
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*"}}"#,
    );
    assert_eq!(
        assume(
            AssumeFlow::AssumeRole,
            &Caller::user(OTHER, "x"),
            &anyone,
            &ctx
        ),
        A
    );
}

#[test]
fn federated_trust_checks_provider_and_claims() {
    let saml_arn = format!("acs:ram::{ACCT}:saml-provider/corp-idp");
    let saml = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole",
        "Principal":{{"Federated":"{saml_arn}"}},
        "Condition":{{"StringEquals":{{"saml:recipient":"https://signin.alibabacloud.com/saml-role/sso"}}}}}}}}"#
    ));
    let good = Context::new().with(
        "saml:recipient",
        "https://signin.alibabacloud.com/saml-role/sso",
    );
    let bad = Context::new().with("saml:recipient", "https://evil.example/sso");
    let caller = Caller::federated(ACCT, &saml_arn);
    let role = format!("acs:ram::{ACCT}:role/target");
    let run = |c: &Caller, ctx: &Context, t: &PolicySet, flow| {
        authorize_assume_role(flow, c, None, t, &role, ctx)
    };
    assert_eq!(run(&caller, &good, &saml, AssumeFlow::Saml).outcome, A);
    let d = run(&caller, &bad, &saml, AssumeFlow::Saml);
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::ResourcePolicy)));
    let other_idp = Caller::federated(ACCT, &format!("acs:ram::{ACCT}:saml-provider/other"));
    assert_eq!(run(&other_idp, &good, &saml, AssumeFlow::Saml).outcome, I);

    let oidc_arn = format!("acs:ram::{ACCT}:oidc-provider/github");
    let oidc = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRoleWithOIDC",
        "Principal":{{"Federated":["{oidc_arn}"]}},
        "Condition":{{"StringEquals":{{"oidc:iss":"https://token.actions.githubusercontent.com","oidc:aud":"sts.aliyuncs.com"}},
                      "StringLike":{{"oidc:sub":"repo:acme/*:ref:refs/heads/main"}}}}}}}}"#
    ));
    let claims = |sub: &str| {
        Context::new()
            .with("oidc:iss", "https://token.actions.githubusercontent.com")
            .with("oidc:aud", "other-client")
            .with("oidc:aud", "sts.aliyuncs.com")
            .with("oidc:sub", sub)
    };
    let gh = Caller::federated(ACCT, &oidc_arn);
    assert_eq!(
        run(
            &gh,
            &claims("repo:acme/api:ref:refs/heads/main"),
            &oidc,
            AssumeFlow::Oidc
        )
        .outcome,
        A
    );
    assert_eq!(
        run(
            &gh,
            &claims("repo:evil/api:ref:refs/heads/main"),
            &oidc,
            AssumeFlow::Oidc
        )
        .outcome,
        I
    );
    // The `WithOIDC` alias does not stretch to the SAML flow.
    assert_eq!(
        run(
            &gh,
            &claims("repo:acme/api:ref:refs/heads/main"),
            &oidc,
            AssumeFlow::Saml
        )
        .outcome,
        I
    );
}

#[test]
fn assume_role_needs_both_identity_and_trust() {
    let role = format!("acs:ram::{ACCT}:role/target");
    let trust_all_acct = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:root"}},
        "Condition":{{"StringEquals":{{"sts:ExternalId":"abc"}}}}}}}}"#
    ));
    let alice = Caller::user(ACCT, "alice");
    let with_id = Context::new().with("sts:ExternalId", "abc");
    let no_perm = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}}"#,
    ]);
    let layers = Layers::identity(&no_perm);
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &alice,
        Some(&layers),
        &trust_all_acct,
        &role,
        &with_id,
    );
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::AccountIdentity)));
    assert_eq!(
        assume(AssumeFlow::AssumeRole, &alice, &trust_all_acct, &with_id),
        A
    );
    let d_wrong = Context::new().with("sts:ExternalId", "abd");
    assert_eq!(
        assume(AssumeFlow::AssumeRole, &alice, &trust_all_acct, &d_wrong),
        I
    );
    // Without the caller's layers an AssumeRole can never be allowed.
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &alice,
        None,
        &trust_all_acct,
        &role,
        &with_id,
    );
    assert_eq!(d.outcome, I);
    // A deny in the trust policy wins over both allows.
    let deny = trust(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:root"}}}},
        {{"Effect":"Deny","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:user/alice"}}}}]}}"#
    ));
    let perm = identity(&[
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
    ]);
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &alice,
        Some(&Layers::identity(&perm)),
        &deny,
        &role,
        &with_id,
    );
    assert_eq!((d.outcome, d.decided_by), (E, Some(Layer::ResourcePolicy)));
    assert_eq!(
        d.matched
            .iter()
            .filter(|m| m.layer == Layer::ResourcePolicy)
            .count(),
        2
    );
}

#[test]
fn policy_sets_are_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PolicySet>();
    assert_send_sync::<Action>();
}

#[test]
fn services_and_root_callers_assume_roles_by_their_own_rules() {
    let role = format!("acs:ram::{ACCT}:role/target");
    let ctx = Context::new();
    let nothing = PolicySet::empty();
    let no_identity = Layers::identity(&nothing);
    // A service holds no identity policies: the trust policy alone decides.
    let service_trust = trust(
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ecs.aliyuncs.com"}}}"#,
    );
    let ecs = Caller::service(ACCT, "ecs.aliyuncs.com");
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &ecs,
        Some(&no_identity),
        &service_trust,
        &role,
        &ctx,
    );
    assert_eq!((d.outcome, d.decided_by), (A, Some(Layer::ResourcePolicy)));
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &ecs,
        None,
        &service_trust,
        &role,
        &ctx,
    );
    assert_eq!(d.outcome, A);
    // A root identity has the owner's access on the identity side, but still needs the trust.
    let acct_trust = trust(&format!(
        r#"{{"Version":"1","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCT}:root"}}}}}}"#
    ));
    let root = Caller::account(ACCT);
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &root,
        Some(&no_identity),
        &acct_trust,
        &role,
        &ctx,
    );
    assert_eq!(d.outcome, A);
    let d = authorize_assume_role(
        AssumeFlow::AssumeRole,
        &Caller::account(OTHER),
        Some(&no_identity),
        &acct_trust,
        &role,
        &ctx,
    );
    assert_eq!((d.outcome, d.decided_by), (I, Some(Layer::ResourcePolicy)));
    let text = d.explain_parts("sts:AssumeRole", &[role.as_str()]);
    assert!(text.starts_with(&format!("sts:AssumeRole on {role} is implicitly denied: no statement of the role's trust policy allows it")), "{text}");
}

#[test]
fn action_tables_decide_as_the_ordinary_path() {
    use rampart_policy::ActionTable;
    let docs = [
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:Describe*","ram:Get*"],"Resource":"*"},
            {"Effect":"Deny","Action":"*:Get*","Resource":"acs:ram:*:*:user/root-*"},
            {"Effect":"Allow","NotAction":"ecs:*","Resource":"acs:oss:*:*:*"}]}"#,
    ];
    let parsed: Vec<Policy> = docs
        .iter()
        .map(|d| Policy::parse(d, PolicyKind::Identity).unwrap())
        .collect();
    let table = ActionTable::new([
        "ecs:DescribeInstances",
        "ram:GetUser",
        "oss:GetObject",
        "ecs:RunInstances",
    ]);
    let tabled = PolicySet::with_actions(
        parsed
            .iter()
            .map(|p| (PolicyId::new("p", "Custom", "v1"), p)),
        &table,
    );
    let plain = PolicySet::new(
        parsed
            .iter()
            .map(|p| (PolicyId::new("p", "Custom", "v1"), p)),
    );
    let ctx = Context::new();
    for resource in [
        "acs:ram::1:user/root-x",
        "acs:ram::1:user/bob",
        "acs:oss::1:b/k",
        "acs:ecs:cn:1:instance/i",
    ] {
        for a in table.actions() {
            let r = [resource];
            let via_table = authorize(&Request::new(a, &r, &ctx), &Layers::identity(&tabled));
            let fresh = Action::new(a.as_str());
            let ordinary = authorize(&Request::new(&fresh, &r, &ctx), &Layers::identity(&plain));
            assert_eq!(via_table, ordinary, "{} on {resource}", a.as_str());
            // A table action against a set compiled without (or with another) table.
            assert_eq!(
                authorize(&Request::new(a, &r, &ctx), &Layers::identity(&plain)),
                ordinary
            );
        }
    }
    assert!(table.get("RAM:getuser").is_some());
    assert!(table.get("ram:DeleteUser").is_none());
}
