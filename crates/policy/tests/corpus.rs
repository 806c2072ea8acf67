//! The corpus of real policies (`corpus/`): Alibaba Cloud system policies, documentation
//! examples, and typical mistakes. `corpus/manifest.json` gives each file's kind and expected
//! outcome; this test checks every entry, that no corpus file is missing from the manifest, that
//! `system/index.json` lists exactly the system policies, and a few decisions per policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rampart_policy::lint::lint_text;
use rampart_policy::{
    authorize, authorize_assume_role, Action, AssumeFlow, Caller, Combine, Context, Identity,
    Layer, Layers, Outcome, Policy, PolicyId, PolicyKind, PolicySet, Request,
};
use serde_json::Value;

const ACCT: &str = "1234567890123456";
const OTHER: &str = "6543210987654321";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(corpus_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn manifest() -> Vec<Value> {
    let v: Value = serde_json::from_str(&read("manifest.json")).expect("manifest.json is JSON");
    v["files"]
        .as_array()
        .expect("manifest has a files list")
        .clone()
}

fn kind_of(name: &str) -> PolicyKind {
    match name {
        "identity" => PolicyKind::Identity,
        "trust" => PolicyKind::Trust,
        "session" => PolicyKind::Session,
        "control" => PolicyKind::Control,
        other => panic!("unknown kind {other:?} in manifest"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, found {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// Every `.json` file under `corpus/` except the manifest and the system index.
fn corpus_files() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![corpus_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(corpus_dir())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.ends_with(".json") && rel != "manifest.json" && rel != "system/index.json" {
                out.insert(rel);
            }
        }
    }
    out
}

#[test]
fn every_corpus_file_is_in_the_manifest() {
    let files = corpus_files();
    let listed: Vec<String> = manifest()
        .iter()
        .map(|e| e["file"].as_str().expect("file").to_owned())
        .collect();
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), listed_set.len(), "a file is listed twice");
    let missing: Vec<_> = files.difference(&listed_set).collect();
    let stale: Vec<_> = listed_set.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "corpus files not in manifest.json: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "manifest.json lists files that do not exist: {stale:?}"
    );
    assert!(
        files.len() >= 90,
        "the corpus shrank to {} files",
        files.len()
    );
}

#[test]
fn system_index_lists_every_system_policy() {
    let index: Value = serde_json::from_str(&read("system/index.json")).unwrap();
    let entries = index.as_array().expect("index.json is a list");
    let mut names = BTreeSet::new();
    for e in entries {
        let name = e["name"].as_str().expect("name");
        let file = e["file"].as_str().expect("file");
        let description = e["description"].as_str().expect("description");
        assert_eq!(file, format!("{name}.json"), "{name}: file name");
        assert!(!description.trim().is_empty(), "{name}: empty description");
        assert!(names.insert(name.to_owned()), "{name} listed twice");
        let text = read(&format!("system/{file}"));
        Policy::parse(&text, PolicyKind::Identity).unwrap_or_else(|e| panic!("{name}: {e}"));
        PolicyKind::Identity
            .check_size(&text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let on_disk: BTreeSet<String> = corpus_files()
        .iter()
        .filter_map(|f| f.strip_prefix("system/"))
        .map(|f| f.trim_end_matches(".json").to_owned())
        .collect();
    assert_eq!(names, on_disk, "system/index.json and system/*.json differ");
    for required in [
        "AdministratorAccess",
        "ReadOnlyAccess",
        "AliyunRAMFullAccess",
        "AliyunRAMReadOnlyAccess",
        "AliyunSTSAssumeRoleAccess",
    ] {
        assert!(names.contains(required), "{required} is missing");
    }
}

#[test]
fn manifest_expectations_hold() {
    let mut failures = Vec::new();
    let mut disagreements = Vec::new();
    let mut valid = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap().to_owned();
        let kind = kind_of(entry["kind"].as_str().unwrap());
        let text = read(&file);
        let parsed = Policy::parse(&text, kind);
        let findings = lint_text(&text, kind);
        let mut codes: Vec<String> = findings.iter().map(|f| f.code.to_owned()).collect();
        codes.sort();
        if let Some(err) = entry.get("error") {
            let at = err["at"].as_str().unwrap();
            let message = err["message"].as_str().unwrap();
            match parsed {
                Ok(_) => failures.push(format!("{file}: parsed, expected an error at {at}")),
                Err(e) => {
                    let d = &e.diagnostics[0];
                    let got = format!("{}:{}", d.location.line, d.location.column);
                    if got != at || !d.message.contains(message) {
                        failures.push(format!(
                            "{file}: first diagnostic is {got} {:?}, expected {at} containing {message:?}",
                            d.message
                        ));
                    }
                    // The linter reports the same problem as RP010, first.
                    let first = findings.iter().find(|f| f.code == "RP010");
                    if first.map(|f| f.location) != Some(d.location) {
                        failures.push(format!(
                            "{file}: lint_text does not lead with RP010 at {at}"
                        ));
                    }
                }
            }
            continue;
        }
        let policy = match parsed {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{file}: expected valid, got {e}"));
                continue;
            }
        };
        let mut expected = strings(&entry["lint"]);
        expected.sort();
        match entry.get("engine_lint") {
            // A recorded disagreement: the engine's current answer is pinned, so a fix shows up.
            Some(engine) => {
                let mut engine = strings(engine);
                engine.sort();
                assert_ne!(engine, expected, "{file}: engine_lint equals lint; drop it");
                assert!(
                    entry["disagreement"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{file}: engine_lint without a disagreement note"
                );
                if codes == expected {
                    failures.push(format!(
                        "{file}: the engine now reports the expected {expected:?}; remove engine_lint/disagreement from manifest.json"
                    ));
                } else if codes != engine {
                    failures.push(format!(
                        "{file}: lint codes {codes:?}, expected {expected:?} (engine was pinned at {engine:?})"
                    ));
                } else {
                    disagreements.push(format!("{file}: engine {codes:?}, expected {expected:?}"));
                }
            }
            None if codes != expected => failures.push(format!(
                "{file}: lint codes {codes:?}, expected {expected:?}\n    {}",
                findings
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            )),
            None => {}
        }
        valid.push((file, policy));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // Every valid document compiles, alone and all together by kind.
    for (file, policy) in &valid {
        let set = PolicySet::new([(PolicyId::new(file, "Custom", "v1"), policy)]);
        assert_eq!(set.statement_count(), policy.statements.len(), "{file}");
    }
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Trust,
        PolicyKind::Session,
        PolicyKind::Control,
    ] {
        let of_kind: Vec<&(String, Policy)> =
            valid.iter().filter(|(_, p)| p.kind == kind).collect();
        let set = PolicySet::new(
            of_kind
                .iter()
                .map(|(f, p)| (PolicyId::new(f, "System", "v1"), p)),
        );
        let total: usize = of_kind.iter().map(|(_, p)| p.statements.len()).sum();
        assert_eq!(set.statement_count(), total);
    }
    eprintln!(
        "{} known lint disagreements (see manifest.json):\n  {}",
        disagreements.len(),
        disagreements.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Decisions

fn load(rel: &str, kind: PolicyKind) -> Policy {
    Policy::parse(&read(rel), kind).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn set(rel: &str, kind: PolicyKind) -> PolicySet {
    let p = load(rel, kind);
    PolicySet::new([(PolicyId::new(rel, "System", "v1"), &p)])
}

fn system(name: &str) -> PolicySet {
    set(&format!("system/{name}.json"), PolicyKind::Identity)
}

fn ctx(pairs: &[(&str, &str)]) -> Context {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.insert(k, v);
    }
    c
}

fn decide_ctx(set: &PolicySet, action: &str, resource: &str, context: &Context) -> Outcome {
    let action = Action::new(action);
    let resources = [resource];
    authorize(
        &Request::new(&action, &resources, context),
        &Layers::identity(set),
    )
    .outcome
}

fn decide(set: &PolicySet, action: &str, resource: &str) -> Outcome {
    decide_ctx(set, action, resource, &Context::new())
}

const A: Outcome = Outcome::Allow;
const I: Outcome = Outcome::ImplicitDeny;
const E: Outcome = Outcome::ExplicitDeny;

fn instance() -> String {
    format!("acs:ecs:cn-hangzhou:{ACCT}:instance/i-bp1example")
}

#[test]
fn system_policy_decisions() {
    let inst = instance();
    let user = format!("acs:ram::{ACCT}:user/alice");
    let role = format!("acs:ram::{ACCT}:role/admin");

    let admin = system("AdministratorAccess");
    assert_eq!(decide(&admin, "ecs:DeleteInstance", &inst), A);
    assert_eq!(decide(&admin, "ram:CreateUser", &user), A);

    let ram_ro = system("AliyunRAMReadOnlyAccess");
    assert_eq!(decide(&ram_ro, "ram:GetUser", &user), A);
    assert_eq!(decide(&ram_ro, "ram:ListPolicies", "*"), A);
    assert_eq!(
        decide(&ram_ro, "RAM:getuser", &user),
        A,
        "actions are case-insensitive"
    );
    assert_eq!(decide(&ram_ro, "ram:CreateUser", &user), I);
    assert_eq!(decide(&ram_ro, "ram:AttachPolicyToUser", &user), I);

    let ram_full = system("AliyunRAMFullAccess");
    assert_eq!(decide(&ram_full, "ram:CreateUser", &user), A);
    assert_eq!(decide(&ram_full, "ecs:DeleteInstance", &inst), I);

    let sts = system("AliyunSTSAssumeRoleAccess");
    assert_eq!(decide(&sts, "sts:AssumeRole", &role), A);
    assert_eq!(decide(&sts, "sts:GetCallerIdentity", "*"), I);
    assert_eq!(decide(&sts, "ram:GetRole", &role), I);

    let ro = system("ReadOnlyAccess");
    assert_eq!(decide(&ro, "ecs:DeleteInstance", &inst), I);
    assert_eq!(decide(&ro, "ecs:DescribeInstances", &inst), A);
    assert_eq!(decide(&ro, "ram:GetUser", &user), A);
    assert_eq!(decide(&ro, "ram:CreateUser", &user), I);
    assert_eq!(decide(&ro, "oss:PutObject", "acs:oss:*:*:bucket/a"), I);

    let ecs_ro = system("AliyunECSReadOnlyAccess");
    assert_eq!(decide(&ecs_ro, "ecs:DescribeInstances", &inst), A);
    assert_eq!(decide(&ecs_ro, "ecs:ListTagResources", &inst), A);
    assert_eq!(decide(&ecs_ro, "vpc:DescribeVpcs", "*"), A);
    assert_eq!(decide(&ecs_ro, "vpc:CreateVpc", "*"), I);
    assert_eq!(decide(&ecs_ro, "ecs:StartInstance", &inst), I);

    let oss_ro = system("AliyunOSSReadOnlyAccess");
    let object = format!("acs:oss:oss-cn-hangzhou:{ACCT}:photos/2024/a.jpg");
    assert_eq!(decide(&oss_ro, "oss:GetObject", &object), A);
    assert_eq!(decide(&oss_ro, "oss:PutObject", &object), I);
    assert_eq!(
        decide(&system("AliyunOSSFullAccess"), "oss:PutObject", &object),
        A
    );

    // A resource field other than `*`: system policies only.
    let sso_ro = system("AliyunCloudSSOReadOnlyAccess");
    assert_eq!(
        decide(
            &sso_ro,
            "ram:GetPolicy",
            "acs:ram::system:policy/AdministratorAccess"
        ),
        A
    );
    assert_eq!(
        decide(
            &sso_ro,
            "ram:GetPolicy",
            &format!("acs:ram::{ACCT}:policy/custom")
        ),
        I
    );

    // ram:PassRole only to the service the policy names (acs:Service).
    let trail = system("AliyunActionTrailFullAccess");
    let pass = |svc: Option<&str>| {
        let c = svc.map_or_else(Context::new, |s| ctx(&[("acs:Service", s)]));
        decide_ctx(&trail, "ram:PassRole", &role, &c)
    };
    assert_eq!(pass(Some("actiontrail.aliyuncs.com")), A);
    assert_eq!(pass(Some("ecs.aliyuncs.com")), I);
    assert_eq!(pass(None), I);
    assert_eq!(decide(&trail, "actiontrail:CreateTrail", "*"), A);

    // NotAction: everything but RAM, IMS, Resource Directory, …; then a few RAM reads back.
    let power = system("PowerUserAccess");
    assert_eq!(decide(&power, "ecs:DeleteInstance", &inst), A);
    assert_eq!(decide(&power, "ram:CreateUser", &user), I);
    assert_eq!(decide(&power, "ram:ListRoles", "*"), A);
    assert_eq!(decide(&power, "bss:ModifyAccount", "*"), I);
    assert_eq!(decide(&power, "bss:DescribeBill", "*"), A);

    // The service-linked-role statement answers only for its service name.
    let gw = system("AliyunApiGatewayFullAccess");
    let slr = |name: &str| {
        decide_ctx(
            &gw,
            "ram:CreateServiceLinkedRole",
            "*",
            &ctx(&[("ram:ServiceName", name)]),
        )
    };
    assert_eq!(slr("sls.apigateway.aliyuncs.com"), A);
    assert_eq!(slr("ecs.aliyuncs.com"), I);

    // Several system policies attached together.
    let both = {
        let a = load("system/AliyunRAMReadOnlyAccess.json", PolicyKind::Identity);
        let b = load(
            "system/AliyunSTSAssumeRoleAccess.json",
            PolicyKind::Identity,
        );
        PolicySet::new([
            (PolicyId::new("AliyunRAMReadOnlyAccess", "System", "1"), &a),
            (
                PolicyId::new("AliyunSTSAssumeRoleAccess", "System", "1"),
                &b,
            ),
        ])
    };
    assert_eq!(decide(&both, "sts:AssumeRole", &role), A);
    assert_eq!(decide(&both, "ram:GetRole", &role), A);
    assert_eq!(decide(&both, "ram:DeleteRole", &role), I);
}

#[test]
fn condition_example_decisions() {
    let inst = instance();
    let ip = |set: &PolicySet, addr: &str| {
        decide_ctx(
            set,
            "ecs:StartInstance",
            &inst,
            &ctx(&[("acs:SourceIp", addr)]),
        )
    };
    let allow_cidr = set("examples/ip-allow-cidr.json", PolicyKind::Identity);
    assert_eq!(ip(&allow_cidr, "192.0.2.200"), A);
    assert_eq!(ip(&allow_cidr, "203.0.113.2"), A);
    assert_eq!(ip(&allow_cidr, "203.0.113.3"), I);
    assert_eq!(
        decide(&allow_cidr, "ecs:StartInstance", &inst),
        I,
        "no source IP"
    );

    let deny_outside = set("examples/ip-deny-outside-cidr.json", PolicyKind::Identity);
    assert_eq!(ip(&deny_outside, "192.0.2.9"), A);
    assert_eq!(ip(&deny_outside, "10.0.0.1"), E);
    assert_eq!(
        decide(&deny_outside, "ecs:StartInstance", &inst),
        E,
        "NotIpAddress holds on a missing key"
    );

    let billing = set(
        "examples/manage-all-except-billing.json",
        PolicyKind::Identity,
    );
    assert_eq!(decide(&billing, "ecs:DeleteInstance", &inst), A);
    assert_eq!(decide(&billing, "bss:DescribeBill", "*"), E);
    assert_eq!(decide(&billing, "bssapi:QueryBill", "*"), E);

    let prefix = set("examples/oss-prefix-stringlike.json", PolicyKind::Identity);
    let bucket = format!("acs:oss:oss-cn-hangzhou:{ACCT}:myphotos");
    let list = |p: &str| {
        decide_ctx(
            &prefix,
            "oss:ListObjects",
            &bucket,
            &ctx(&[("oss:Prefix", p)]),
        )
    };
    assert_eq!(list("hangzhou/2015/"), A);
    assert_eq!(list("hangzhou/2015/08/"), A);
    assert_eq!(list("hangzhou/2016/"), I);
    assert_eq!(
        decide(
            &prefix,
            "oss:GetObject",
            &format!("acs:oss:oss-cn-hangzhou:{ACCT}:myphotos/hangzhou/2015/a.jpg")
        ),
        A
    );
    assert_eq!(
        decide(
            &prefix,
            "oss:GetObject",
            &format!("acs:oss:oss-cn-hangzhou:{ACCT}:myphotos/beijing/a.jpg")
        ),
        I
    );

    let window = set("examples/time-and-ip-window.json", PolicyKind::Identity);
    let at = |t: &str, addr: &str| {
        decide_ctx(
            &window,
            "ecs:StopInstance",
            &inst,
            &ctx(&[("acs:CurrentTime", t), ("acs:SourceIp", addr)]),
        )
    };
    assert_eq!(at("2019-07-17T11:59:59Z", "42.120.88.10"), A);
    assert_eq!(at("2019-07-17T12:00:00Z", "42.120.88.10"), I);
    assert_eq!(at("2019-07-17T11:59:59Z", "42.120.89.10"), I);
    assert_eq!(at("2019-07-17T19:59:59+08:00", "42.120.88.10"), A);

    let offset = set("examples/date-range-with-offset.json", PolicyKind::Identity);
    let read_at = |t: &str| {
        decide_ctx(
            &offset,
            "oss:GetObject",
            "acs:oss:*:1:reports/q3.pdf",
            &ctx(&[("acs:CurrentTime", t)]),
        )
    };
    assert_eq!(read_at("2019-08-12T01:00:00Z"), A, "09:00+08:00 is 01:00Z");
    assert_eq!(read_at("2019-08-12T00:59:59Z"), I);
    assert_eq!(
        read_at("2019-08-12T09:00:00Z"),
        I,
        "17:00+08:00 is excluded"
    );

    let secure = set(
        "examples/secure-transport-and-mfa.json",
        PolicyKind::Identity,
    );
    assert_eq!(
        decide_ctx(
            &secure,
            "oss:GetObject",
            "acs:oss:*:*:b/o",
            &ctx(&[("acs:SecureTransport", "false")])
        ),
        E
    );
    assert_eq!(
        decide_ctx(
            &secure,
            "ecs:StartInstance",
            &inst,
            &ctx(&[("acs:MFAPresent", "true")])
        ),
        A
    );
    assert_eq!(
        decide_ctx(
            &secure,
            "ecs:StartInstance",
            &inst,
            &ctx(&[("acs:MFAPresent", "false")])
        ),
        I
    );

    let tags = set("examples/tag-based-access.json", PolicyKind::Identity);
    assert_eq!(
        decide_ctx(
            &tags,
            "ecs:StopInstance",
            &inst,
            &ctx(&[("acs:ResourceTag/owner", "zhangsan")])
        ),
        A
    );
    assert_eq!(
        decide_ctx(
            &tags,
            "ecs:StopInstance",
            &inst,
            &ctx(&[("acs:ResourceTag/owner", "lisi")])
        ),
        I
    );
    let run = |keys: &[&str]| {
        let mut c = ctx(&[("acs:RequestTag/owner", "zhangsan")]);
        for k in keys {
            c.insert("acs:TagKeys", k);
        }
        decide_ctx(&tags, "ecs:RunInstances", "*", &c)
    };
    assert_eq!(run(&["owner"]), A);
    assert_eq!(run(&["owner", "env"]), A);
    assert_eq!(
        run(&["owner", "costcenter"]),
        I,
        "ForAllValues: every key listed"
    );

    let except_ram = set(
        "examples/not-action-allow-except-ram.json",
        PolicyKind::Identity,
    );
    assert_eq!(decide(&except_ram, "ecs:DeleteInstance", &inst), A);
    assert_eq!(decide(&except_ram, "ram:CreateUser", "*"), I);

    let deny_else = set(
        "examples/not-action-deny-everything-else.json",
        PolicyKind::Identity,
    );
    assert_eq!(decide(&deny_else, "oss:GetObject", "*"), E);
    assert_eq!(
        decide(&deny_else, "ecs:DeleteInstance", &inst),
        I,
        "denies nothing, allows nothing"
    );
}

#[test]
fn session_and_control_layers() {
    let admin = system("AdministratorAccess");
    let session = set("examples/session-oss-upload.json", PolicyKind::Session);
    let object = format!("acs:oss:oss-cn-hangzhou:{ACCT}:examplebucket/exampledir/a.txt");
    let other = format!("acs:oss:oss-cn-hangzhou:{ACCT}:examplebucket/other/a.txt");
    let with_session = |action: &str, resource: &str| {
        let action = Action::new(action);
        let resources = [resource];
        let c = Context::new();
        let layers = Layers {
            session: Some(&session),
            ..Layers::identity(&admin)
        };
        authorize(&Request::new(&action, &resources, &c), &layers)
    };
    assert_eq!(with_session("oss:PutObject", &object).outcome, A);
    let d = with_session("oss:PutObject", &other);
    assert_eq!(d.outcome, I);
    assert_eq!(d.decided_by, Some(Layer::SessionPolicy));
    assert_eq!(with_session("oss:GetObject", &object).outcome, I);

    // Resource Directory: FullAliyunAccess plus a deny, at one level, over the account's owner.
    let full = load(
        "examples/control-full-aliyun-access.json",
        PolicyKind::Control,
    );
    let deny = load(
        "examples/control-deny-ram-identity-changes.json",
        PolicyKind::Control,
    );
    let level = PolicySet::new([
        (PolicyId::new("FullAliyunAccess", "System", "1"), &full),
        (PolicyId::new("deny-ram-changes", "Custom", "1"), &deny),
    ]);
    let control = [level];
    let decide_rd = |principal_arn: &str| {
        let action = Action::new("ram:DeleteUser");
        let resources = [format!("acs:ram::{ACCT}:user/bob")];
        let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
        let c = ctx(&[("acs:PrincipalARN", principal_arn)]);
        let layers = Layers {
            control: &control,
            session: None,
            identity: Identity::AccountOwner,
            resource_policy: None,
            combine: Combine::Either,
        };
        authorize(&Request::new(&action, &resources, &c), &layers)
    };
    let d = decide_rd(&format!("acs:ram::{ACCT}:user/alice"));
    assert_eq!(d.outcome, E);
    assert_eq!(d.decided_by, Some(Layer::ControlPolicy { level: 0 }));
    assert_eq!(
        decide_rd(&format!(
            "acs:ram::{ACCT}:role/resourcedirectoryaccountaccessrole"
        ))
        .outcome,
        A
    );
}

#[test]
fn trust_example_decisions() {
    let role = format!("acs:ram::{ACCT}:role/target");
    let sts = system("AliyunSTSAssumeRoleAccess");
    let caller_layers = Layers::identity(&sts);
    let assume = |trust: &PolicySet, caller: &Caller| {
        authorize_assume_role(
            AssumeFlow::AssumeRole,
            caller,
            Some(&caller_layers),
            trust,
            &role,
            &Context::new(),
        )
        .outcome
    };

    let account = set(
        "examples/trust-alibaba-cloud-account.json",
        PolicyKind::Trust,
    );
    assert_eq!(
        assume(&account, &Caller::user("1234567890123456", "alice")),
        A
    );
    assert_eq!(assume(&account, &Caller::user(OTHER, "mallory")), I);

    let user = set("examples/trust-ram-user.json", PolicyKind::Trust);
    assert_eq!(assume(&user, &Caller::user(ACCT, "Alice")), A);
    assert_eq!(assume(&user, &Caller::user(ACCT, "Bob")), I);

    let by_role = set("examples/trust-ram-role.json", PolicyKind::Trust);
    assert_eq!(
        assume(&by_role, &Caller::assumed_role(ACCT, "ops-admin", "s1")),
        A
    );

    let ecs = set("examples/trust-service-ecs.json", PolicyKind::Trust);
    assert_eq!(assume(&ecs, &Caller::service(ACCT, "ecs.aliyuncs.com")), A);
    assert_eq!(assume(&ecs, &Caller::service(ACCT, "fc.aliyuncs.com")), I);

    let anyone = set("examples/trust-anyone.json", PolicyKind::Trust);
    assert_eq!(assume(&anyone, &Caller::user(OTHER, "mallory")), A);

    // Why trust-any-account-root.json deserves RP005: a stranger's user gets in.
    let any_root = set("examples/trust-any-account-root.json", PolicyKind::Trust);
    assert_eq!(assume(&any_root, &Caller::user(OTHER, "mallory")), A);

    // AssumeRole still needs the caller's own permission.
    let nothing = PolicySet::empty();
    assert_eq!(
        authorize_assume_role(
            AssumeFlow::AssumeRole,
            &Caller::user(OTHER, "mallory"),
            Some(&Layers::identity(&nothing)),
            &anyone,
            &role,
            &Context::new()
        )
        .outcome,
        I
    );

    let oidc = set("examples/trust-oidc-github-actions.json", PolicyKind::Trust);
    let provider = "acs:ram::1135115445850000:oidc-provider/github";
    let federated = Caller::federated("1135115445850000", provider);
    let claims = |aud: &str, sub: &str| {
        ctx(&[
            ("oidc:iss", "https://token.actions.githubusercontent.com"),
            ("oidc:aud", aud),
            ("oidc:sub", sub),
        ])
    };
    let via_oidc = |c: &Context| {
        authorize_assume_role(AssumeFlow::Oidc, &federated, None, &oidc, &role, c).outcome
    };
    let main = "repo:example-org/example-repo:ref:refs/heads/main";
    assert_eq!(via_oidc(&claims("sts.aliyuncs.com", main)), A);
    assert_eq!(via_oidc(&claims("another-client", main)), I);
    assert_eq!(
        via_oidc(&claims(
            "sts.aliyuncs.com",
            "repo:example-org/example-repo:ref:refs/heads/dev"
        )),
        I
    );
    // The statement names sts:AssumeRoleWithOIDC, so plain AssumeRole does not match it.
    assert_eq!(
        authorize_assume_role(
            AssumeFlow::AssumeRole,
            &federated,
            Some(&caller_layers),
            &oidc,
            &role,
            &claims("sts.aliyuncs.com", main)
        )
        .outcome,
        I
    );

    // Why trust-any-federated.json and trust-oidc-wildcard-audience.json deserve findings: a
    // token from another account's provider, or for another application, gets in.
    let any_federated = set("examples/trust-any-federated.json", PolicyKind::Trust);
    let stranger = Caller::federated(OTHER, &format!("acs:ram::{OTHER}:oidc-provider/evil"));
    assert_eq!(
        authorize_assume_role(
            AssumeFlow::Oidc,
            &stranger,
            None,
            &any_federated,
            &role,
            &Context::new()
        )
        .outcome,
        A
    );
    let any_aud = set(
        "examples/trust-oidc-wildcard-audience.json",
        PolicyKind::Trust,
    );
    let provider_caller =
        Caller::federated(ACCT, "acs:ram::1135115445850000:oidc-provider/TestOidcIdp");
    assert_eq!(
        authorize_assume_role(
            AssumeFlow::Oidc,
            &provider_caller,
            None,
            &any_aud,
            &role,
            &ctx(&[
                ("oidc:iss", "https://anything.example"),
                ("oidc:aud", "someone-elses-app")
            ])
        )
        .outcome,
        A
    );

    let saml = set("examples/trust-saml-provider.json", PolicyKind::Trust);
    let idp = Caller::federated(ACCT, "acs:ram::1234567890123456:saml-provider/IDP");
    let via_saml = |recipient: &str| {
        authorize_assume_role(
            AssumeFlow::Saml,
            &idp,
            None,
            &saml,
            &role,
            &ctx(&[("saml:recipient", recipient)]),
        )
        .outcome
    };
    assert_eq!(via_saml("https://signin.aliyun.com/saml-role/sso"), A);
    assert_eq!(via_saml("https://example.com/acs"), I);

    let mfa = set(
        "examples/trust-cross-account-with-mfa.json",
        PolicyKind::Trust,
    );
    let cross = Caller::user(OTHER, "ops");
    let decide_mfa = |m: &str, addr: &str| {
        authorize_assume_role(
            AssumeFlow::AssumeRole,
            &cross,
            Some(&caller_layers),
            &mfa,
            &role,
            &ctx(&[("acs:MFAPresent", m), ("acs:SourceIp", addr)]),
        )
        .outcome
    };
    assert_eq!(decide_mfa("true", "198.51.100.20"), A);
    assert_eq!(decide_mfa("false", "198.51.100.20"), I);
    assert_eq!(decide_mfa("true", "203.0.113.20"), I);
}
