//! `rampart policy …` end to end: the real binary on files in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn rampart_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs");
    let run = Run {
        code: output
            .status
            .code()
            .expect("exited, not killed by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        run.stderr
    );
    run
}

struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new(files: &[(&str, &str)]) -> Workspace {
        let ws = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        for (name, text) in files {
            ws.write(name, text);
        }
        ws
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        rampart_in(self.dir.path(), args)
    }

    /// Runs `eval … --json` and parses its output.
    fn eval_json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["policy", "eval", "--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        let value: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                run.stdout, run.stderr
            )
        });
        (run.code, value)
    }
}

/// Line 4, column 17 is the value of "Effect".
const BAD_EFFECT: &str = r#"{
  "Version": "1",
  "Statement": [{
      "Effect": "allow",
      "Action": "ecs:*",
      "Resource": "*"
  }]
}
"#;

const ECS_READ: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:123456789012:logs/*"},
    {"Sid": "ReadEcs", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}
  ]
}"#;

const DENY_IMAGES: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": "vpc:*", "Resource": "*"},
    {"Sid": "NoImages", "Effect": "Deny", "Action": "ecs:DescribeImages", "Resource": "*"}
  ]
}"#;

const ALLOW_ALL: &str = r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}"#;

const INSTANCE: &str = "acs:ecs:cn-hangzhou:123456789012:instance/i-1";
const ROLE: &str = "acs:ram::123456789012:role/ci";

// ---------------------------------------------------------------------------------- validate

#[test]
fn validate_prints_ok_for_a_valid_document() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ)]);
    let run = ws.run(&["policy", "validate", "ecs.json"]);
    assert_eq!(run.stdout, "ecs.json: ok\n");
    assert_eq!(run.stderr, "");
    assert_eq!(run.code, 0);
}

#[test]
fn validate_reports_the_file_line_and_column_of_a_problem() {
    let ws = Workspace::new(&[("bad.json", BAD_EFFECT)]);
    let run = ws.run(&["policy", "validate", "bad.json"]);
    assert_eq!(
        run.stdout,
        "bad.json:4:17: error: \"Effect\" must be \"Allow\" or \"Deny\" (case-sensitive), \
         found \"allow\" (at $.Statement[0].Effect)\n"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn validate_checks_every_file_and_fails_if_any_is_invalid() {
    let ws = Workspace::new(&[
        ("a.json", ECS_READ),
        ("bad.json", BAD_EFFECT),
        ("b.json", DENY_IMAGES),
        (
            "syntax.json",
            "{\n  \"Version\": \"1\",\n  \"Statement\": [\n}\n",
        ),
    ]);
    let run = ws.run(&[
        "policy",
        "validate",
        "a.json",
        "bad.json",
        "b.json",
        "syntax.json",
    ]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], "a.json: ok");
    assert!(
        lines[1].starts_with("bad.json:4:17: error: "),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "b.json: ok");
    assert!(
        lines[3].starts_with("syntax.json:4:1: error: invalid JSON"),
        "{}",
        lines[3]
    );
    assert_eq!(run.code, 1);
}

#[test]
fn validate_an_unreadable_file_is_a_clear_error_with_exit_2() {
    let ws = Workspace::new(&[("a.json", ECS_READ)]);
    std::fs::write(ws.dir.path().join("latin1.json"), b"{\"Sid\": \"caf\xe9\"}").unwrap();
    let run = ws.run(&[
        "policy",
        "validate",
        "missing.json",
        "a.json",
        "latin1.json",
    ]);
    assert_eq!(run.stdout, "a.json: ok\n");
    assert!(
        run.stderr
            .contains("rampart: error: cannot read missing.json: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("rampart: error: cannot read latin1.json: the file is not UTF-8 text"),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, 2);
}

#[test]
fn validate_applies_the_rules_and_size_limit_of_the_kind() {
    // A valid identity policy of about 2,500 characters: over the session limit of 2048.
    let actions: Vec<String> = (0..120).map(|i| format!("\"ecs:Action{i:04}\"")).collect();
    let big = format!(
        r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}"#,
        actions.join(", ")
    );
    assert!(big.len() > 2048 && big.len() < 6144);
    let ws = Workspace::new(&[("big.json", &big), ("ecs.json", ECS_READ)]);

    let run = ws.run(&["policy", "validate", "big.json"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "big.json: ok\n"));

    let run = ws.run(&["policy", "validate", "--kind", "session", "big.json"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        format!(
            "big.json:1:1: error: the session policy is {} characters long; the limit is 2048 (at $)\n",
            big.len()
        )
    );

    let run = ws.run(&["policy", "validate", "--kind", "trust", "ecs.json"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("ecs.json:4:5: error: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("(at $.Statement[0].Resource)"),
        "{}",
        run.stdout
    );

    let run = ws.run(&["policy", "validate", "--kind", "root", "ecs.json"]);
    assert_eq!(run.code, 2, "an unknown kind is a usage error");
}

// -------------------------------------------------------------------------------------- eval

#[test]
fn eval_allow_reports_the_matching_statement_as_json() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ)]);
    let (code, v) = ws.eval_json(&[
        "--policy",
        "ecs.json",
        "--action",
        "ecs:DescribeInstances",
        "--resource",
        INSTANCE,
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "Allow");
    assert_eq!(
        v["decidedBy"],
        json!({"layer": "AccountIdentity", "policyType": "AccountLevelIdentityBasedPolicy"})
    );
    assert_eq!(
        v["matched"],
        json!([{
            "policy": "ecs.json", "statement": 1, "sid": "ReadEcs", "effect": "Allow",
            "layer": "AccountIdentity", "resource": INSTANCE
        }])
    );
    let explanation = v["explanation"].as_str().unwrap();
    assert!(
        explanation.starts_with(&format!("ecs:DescribeInstances on {INSTANCE} is allowed")),
        "{explanation}"
    );
    assert!(v.get("deniedResource").is_none());
}

#[test]
fn eval_explicit_deny_lists_every_matched_statement() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ), ("deny.json", DENY_IMAGES)]);
    let image = "acs:ecs:cn-hangzhou:123456789012:image/m-1";
    let (code, v) = ws.eval_json(&[
        "--policy",
        "ecs.json",
        "deny.json",
        "--action",
        "ecs:DescribeImages",
        "--resource",
        image,
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "ExplicitDeny");
    assert_eq!(v["decidedBy"]["layer"], "AccountIdentity");
    assert_eq!(v["deniedResource"], image);
    assert_eq!(
        v["matched"],
        json!([
            {"policy": "ecs.json", "statement": 1, "sid": "ReadEcs", "effect": "Allow",
             "layer": "AccountIdentity", "resource": image},
            {"policy": "deny.json", "statement": 1, "sid": "NoImages", "effect": "Deny",
             "layer": "AccountIdentity", "resource": image}
        ])
    );
    assert!(v["explanation"]
        .as_str()
        .unwrap()
        .contains("is explicitly denied"));
}

#[test]
fn eval_implicit_deny_matches_nothing() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ)]);
    let (code, v) = ws.eval_json(&[
        "--policy",
        "ecs.json",
        "--action",
        "ecs:StopInstance",
        "--resource",
        INSTANCE,
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "ImplicitDeny");
    assert_eq!(v["matched"], json!([]));
    assert_eq!(v["decidedBy"]["layer"], "AccountIdentity");
    assert!(v["explanation"]
        .as_str()
        .unwrap()
        .contains("is implicitly denied: no statement of account-level identity policies"));
}

#[test]
fn eval_text_output_names_decision_layer_matches_and_explanation() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ), ("deny.json", DENY_IMAGES)]);
    let run = ws.run(&[
        "policy",
        "eval",
        "--policy",
        "ecs.json",
        "--policy",
        "deny.json",
        "--action",
        "ecs:DescribeImages",
        "--resource",
        "*",
    ]);
    assert_eq!(run.code, 1);
    let expected_start = "decision:    ExplicitDeny\n\
         decided by:  account-level identity policies (AccountLevelIdentityBasedPolicy)\n\
         denied:      *\n\
         matched:\n  \
           Allow ecs.json statement 1 (Sid \"ReadEcs\") [account-level identity policies] on *\n  \
           Deny  deny.json statement 1 (Sid \"NoImages\") [account-level identity policies] on *\n\
         explanation: ecs:DescribeImages on * is explicitly denied";
    assert!(
        run.stdout.starts_with(expected_start),
        "{}\n---\n{expected_start}",
        run.stdout
    );
}

#[test]
fn eval_every_resource_must_be_allowed() {
    let ws = Workspace::new(&[("ecs.json", ECS_READ)]);
    let logs = "acs:oss:*:123456789012:logs/a.log";
    let other = "acs:oss:*:123456789012:secrets/b";
    let (code, v) = ws.eval_json(&[
        "--policy",
        "ecs.json",
        "--action",
        "oss:GetObject",
        "--resource",
        logs,
        "--resource",
        other,
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "ImplicitDeny");
    assert_eq!(v["deniedResource"], other);
    assert_eq!(v["matched"][0]["resource"], logs);
}

#[test]
fn eval_control_policy_levels_bound_the_principal() {
    let no_deletes = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "ecs:Delete*", "Resource": "*"}]}"#;
    let oss_only = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]}"#;
    let ws = Workspace::new(&[
        ("admin.json", ALLOW_ALL),
        ("root.json", ALLOW_ALL),
        ("no-deletes.json", no_deletes),
        ("oss-only.json", oss_only),
    ]);
    let base = ["--policy", "admin.json", "--resource", INSTANCE];

    let mut args = base.to_vec();
    args.extend([
        "--control",
        "root.json",
        "no-deletes.json",
        "--action",
        "ecs:DeleteInstance",
    ]);
    let (code, v) = ws.eval_json(&args);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "ExplicitDeny");
    assert_eq!(
        v["decidedBy"],
        json!({"layer": "ControlPolicy", "level": 1, "policyType": "ControlPolicy"})
    );
    let matched: Vec<(String, u64, String, Option<u64>)> = v["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["policy"].as_str().unwrap().to_owned(),
                m["statement"].as_u64().unwrap(),
                m["effect"].as_str().unwrap().to_owned(),
                m["level"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        [
            ("root.json".into(), 0, "Allow".into(), Some(0)),
            ("no-deletes.json".into(), 0, "Allow".into(), Some(1)),
            ("no-deletes.json".into(), 1, "Deny".into(), Some(1)),
        ]
    );

    // The same levels let other actions through to the identity policies.
    let mut args = base.to_vec();
    args.extend(["--control", "root.json", "--control", "no-deletes.json"]);
    args.extend(["--action", "ecs:RebootInstance"]);
    let (code, v) = ws.eval_json(&args);
    assert_eq!((code, &v["decision"]), (0, &json!("Allow")));
    assert_eq!(v["decidedBy"]["layer"], "AccountIdentity");

    // A level that does not allow the action denies it implicitly, even for an admin.
    let mut args = base.to_vec();
    args.extend([
        "--control",
        "root.json",
        "oss-only.json",
        "--action",
        "ecs:RebootInstance",
    ]);
    let (code, v) = ws.eval_json(&args);
    assert_eq!(code, 1);
    assert_eq!(v["decision"], "ImplicitDeny");
    assert_eq!(v["decidedBy"]["layer"], "ControlPolicy");
    assert_eq!(v["decidedBy"]["level"], 1);
}

#[test]
fn eval_session_policy_intersects_with_identity_policies() {
    let identity = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:*", "oss:GetObject"], "Resource": "*"}]}"#;
    let session = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:Describe*", "oss:PutObject"], "Resource": "*"}]}"#;
    let ws = Workspace::new(&[("identity.json", identity), ("session.json", session)]);
    let eval = |action: &str| {
        ws.eval_json(&[
            "--policy",
            "identity.json",
            "--session",
            "session.json",
            "--action",
            action,
            "--resource",
            "*",
        ])
    };

    let (code, v) = eval("ecs:DescribeInstances");
    assert_eq!((code, &v["decision"]), (0, &json!("Allow")));
    let layers: Vec<&str> = v["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["SessionPolicy", "AccountIdentity"]);

    // Granted by the identity policy, not by the session policy.
    let (code, v) = eval("oss:GetObject");
    assert_eq!((code, &v["decision"]), (1, &json!("ImplicitDeny")));
    assert_eq!(
        v["decidedBy"],
        json!({"layer": "SessionPolicy", "policyType": "SessionPolicy"})
    );

    // Granted by the session policy, not by the identity policy: a session never adds.
    let (code, v) = eval("oss:PutObject");
    assert_eq!((code, &v["decision"]), (1, &json!("ImplicitDeny")));
    assert_eq!(v["decidedBy"]["layer"], "AccountIdentity");
}

#[test]
fn eval_trust_policy_decides_role_assumption_for_the_caller() {
    let trust = r#"{"Version": "1", "Statement": [
        {"Sid": "Alice", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"RAM": "acs:ram::123456789012:user/alice"}},
        {"Sid": "Ecs", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "ecs.aliyuncs.com"}}]}"#;
    let assume = format!(
        r#"{{"Version": "1", "Statement": [
        {{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "{ROLE}"}}]}}"#
    );
    let ws = Workspace::new(&[("trust.json", trust), ("assume.json", &assume)]);
    let eval = |caller: &str, with_identity: bool| {
        let mut args = vec![
            "--resource-policy",
            "trust.json",
            "--caller",
            caller,
            "--action",
            "sts:AssumeRole",
            "--resource",
            ROLE,
        ];
        if with_identity {
            args.extend(["--policy", "assume.json"]);
        }
        ws.eval_json(&args)
    };

    let (code, v) = eval("acs:ram::123456789012:user/alice", true);
    assert_eq!((code, &v["decision"]), (0, &json!("Allow")));
    assert_eq!(
        v["decidedBy"],
        json!({"layer": "ResourcePolicy", "policyType": "AssumeRolePolicy"})
    );
    let matched: Vec<(&str, u64, &str)> = v["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["policy"].as_str().unwrap(),
                m["statement"].as_u64().unwrap(),
                m["layer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        [
            ("assume.json", 0, "AccountIdentity"),
            ("trust.json", 0, "ResourcePolicy")
        ]
    );

    // Not trusted: the identity policy alone is not enough.
    let (code, v) = eval("acs:ram::123456789012:user/bob", true);
    assert_eq!((code, &v["decision"]), (1, &json!("ImplicitDeny")));
    assert_eq!(v["decidedBy"]["layer"], "ResourcePolicy");

    // Trusted, but the caller's own policies do not allow sts:AssumeRole.
    let (code, v) = eval("acs:ram::123456789012:user/alice", false);
    assert_eq!((code, &v["decision"]), (1, &json!("ImplicitDeny")));
    assert_eq!(v["decidedBy"]["layer"], "AccountIdentity");

    // A service holds no identity policies: the trust policy alone decides.
    let (code, v) = eval("service:ecs.aliyuncs.com", false);
    assert_eq!((code, &v["decision"]), (0, &json!("Allow")));
    assert_eq!(v["matched"][0]["sid"], "Ecs");
    let (code, _) = eval("service:fc.aliyuncs.com", false);
    assert_eq!(code, 1);
}

#[test]
fn eval_rejects_malformed_callers_and_misused_trust_policies() {
    let trust = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": "acs:ram::123456789012:root"}}]}"#;
    let ws = Workspace::new(&[("trust.json", trust)]);
    let args = |caller: &'static str, action: &'static str| {
        vec![
            "policy",
            "eval",
            "--resource-policy",
            "trust.json",
            "--caller",
            caller,
            "--action",
            action,
            "--resource",
            ROLE,
        ]
    };
    let run = ws.run(&args("alice", "sts:AssumeRole"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("rampart: error: caller \"alice\" is not understood; write acs:ram::"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    let run = ws.run(&args(
        "acs:ram::123456789012:user/alice",
        "ecs:DescribeInstances",
    ));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("must be sts:AssumeRole"),
        "{}",
        run.stderr
    );

    // --caller without --resource-policy is a usage error.
    let run = ws.run(&[
        "policy",
        "eval",
        "--caller",
        "acs:ram::1:root",
        "--action",
        "a:b",
        "--resource",
        "*",
    ]);
    assert_eq!(run.code, 2);
}

#[test]
fn eval_repeated_context_keys_are_multi_valued() {
    let tags = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:RunInstances",
        "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"acs:TagKeys": ["team", "env"]},
        "StringEquals": {"acs:RequestTag/owner": "a=b"}}}]}"#;
    let ws = Workspace::new(&[("tags.json", tags)]);
    let eval = |context: &[&str]| {
        let mut args = vec![
            "--policy",
            "tags.json",
            "--action",
            "ecs:RunInstances",
            "--resource",
            "*",
            "--context",
            "acs:RequestTag/owner=a=b",
        ];
        for c in context {
            args.extend(["--context", c]);
        }
        let (_, v) = ws.eval_json(&args);
        v["decision"].as_str().unwrap().to_owned()
    };
    assert_eq!(eval(&["acs:TagKeys=team", "acs:TagKeys=env"]), "Allow");
    // Each order fails only if both values reach the engine.
    assert_eq!(
        eval(&["acs:TagKeys=team", "acs:TagKeys=cost"]),
        "ImplicitDeny"
    );
    assert_eq!(
        eval(&["acs:TagKeys=cost", "acs:TagKeys=team"]),
        "ImplicitDeny"
    );

    let run = ws.run(&[
        "policy",
        "eval",
        "--policy",
        "tags.json",
        "--action",
        "ecs:RunInstances",
        "--resource",
        "*",
        "--context",
        "no-equals-sign",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("KEY=VALUE"), "{}", run.stderr);
}

#[test]
fn eval_defaults_current_time_but_not_secure_transport() {
    let since_2020 = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:*",
        "Resource": "*", "Condition": {"DateGreaterThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}}}]}"#;
    let https_only = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:*",
        "Resource": "*", "Condition": {"Bool": {"acs:SecureTransport": "true"}}}]}"#;
    let ws = Workspace::new(&[("since.json", since_2020), ("https.json", https_only)]);
    let eval = |policy: &str, context: Option<&str>| {
        let mut args = vec![
            "--policy",
            policy,
            "--action",
            "ecs:DescribeInstances",
            "--resource",
            "*",
        ];
        if let Some(c) = context {
            args.extend(["--context", c]);
        }
        ws.eval_json(&args).1["decision"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(eval("since.json", None), "Allow");
    assert_eq!(
        eval("since.json", Some("acs:CurrentTime=2019-06-01T00:00:00Z")),
        "ImplicitDeny"
    );
    assert_eq!(eval("https.json", None), "ImplicitDeny");
    assert_eq!(
        eval("https.json", Some("acs:SecureTransport=true")),
        "Allow"
    );
}

#[test]
fn eval_invalid_or_missing_policy_files_are_errors() {
    let ws = Workspace::new(&[("bad.json", BAD_EFFECT), ("ecs.json", ECS_READ)]);
    let run = ws.run(&[
        "policy",
        "eval",
        "--policy",
        "ecs.json",
        "bad.json",
        "--session",
        "missing.json",
        "--action",
        "ecs:DescribeInstances",
        "--resource",
        "*",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "", "nothing is decided");
    assert!(
        run.stderr.contains(
            "bad.json:4:17: error: \"Effect\" must be \"Allow\" or \"Deny\" (case-sensitive), \
             found \"allow\" (at $.Statement[0].Effect)\n"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot read missing.json"),
        "{}",
        run.stderr
    );

    let run = ws.run(&["policy", "eval", "--policy", "ecs.json", "--resource", "*"]);
    assert_eq!(run.code, 2, "--action is required");
}

// -------------------------------------------------------------------------------------- lint

#[test]
fn lint_reports_allow_all_as_a_warning() {
    let ws = Workspace::new(&[("star.json", ALLOW_ALL), ("ecs.json", ECS_READ)]);
    let run = ws.run(&["policy", "lint", "star.json", "ecs.json"]);
    assert_eq!(run.code, 0, "warnings alone pass");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with("star.json:4:5: warning RP001[allow-all]: allows every action"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(" (at $.Statement[0])"), "{}", lines[0]);
    assert_eq!(lines[1], "ecs.json: ok");

    let run = ws.run(&["policy", "lint", "--deny-warnings", "star.json"]);
    assert_eq!(run.code, 1);
    let run = ws.run(&["policy", "lint", "--deny-warnings", "ecs.json"]);
    assert_eq!(run.code, 0);
}

#[test]
fn lint_reports_an_unknown_operator_as_an_invalid_document() {
    let text = r#"{
  "Version": "1",
  "Statement": [{
    "Effect": "Allow", "Action": "ecs:*", "Resource": "*",
    "Condition": { "StringEqualz": { "acs:SourceVpc": "vpc-1" } }
  }]
}"#;
    let ws = Workspace::new(&[("op.json", text)]);
    let run = ws.run(&["policy", "lint", "op.json"]);
    assert_eq!(run.code, 1);
    let rp010: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" error RP010[invalid-document]: "))
        .collect();
    assert_eq!(rp010.len(), 1, "{}", run.stdout);
    assert!(
        rp010[0].starts_with("op.json:5:20: error RP010"),
        "{}",
        rp010[0]
    );
    assert!(rp010[0].contains("StringEqualz"), "{}", rp010[0]);
    assert!(
        rp010[0].ends_with("(at $.Statement[0].Condition.StringEqualz)"),
        "{}",
        rp010[0]
    );

    let run = ws.run(&["policy", "lint", "nope.json"]);
    assert_eq!(run.code, 2);
}

#[test]
fn lint_kind_selects_the_rules() {
    let trust = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": "*"}]}"#;
    let ws = Workspace::new(&[("trust.json", trust)]);
    let run = ws.run(&["policy", "lint", "--kind", "trust", "trust.json"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(" warning RP005[trust-any-principal]: "),
        "{}",
        run.stdout
    );
    let run = ws.run(&["policy", "lint", "trust.json"]);
    assert_eq!(run.code, 1, "as an identity policy it is invalid");
}

// -------------------------------------------------------------------------------------- test

const CASES: &str = r#"
policies:
  ecs: { file: policies/ecs.json }
  deny-images: { file: policies/deny.json }
  inline:
    document:
      Version: "1"
      Statement:
        - Effect: Allow
          Action: oss:GetObject
          Resource: acs:oss:*:123456789012:logs/*
  session-text:
    kind: session
    document: '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]}'
  tags:
    document:
      Version: "1"
      Statement:
        - Effect: Allow
          Action: ecs:RunInstances
          Resource: "*"
          Condition:
            ForAllValues:StringEquals: { acs:TagKeys: [team, env] }
cases:
  - name: describe is allowed
    policies: [ecs]
    action: ecs:DescribeInstances
    resource: acs:ecs:cn-hangzhou:123456789012:instance/i-1
    expect: Allow
  - name: images are explicitly denied
    policies: [ecs, deny-images]
    action: ecs:DescribeImages
    resource: "*"
    expect: ExplicitDeny
  - name: inline logs read inside a session
    policies: inline
    session: session-text
    action: oss:GetObject
    resource: acs:oss:*:123456789012:logs/a.log
    expect: Allow
  - name: tag keys are multi-valued
    policies: tags
    action: ecs:RunInstances
    resource: "*"
    context: { acs:TagKeys: [team, cost] }
    expect: Deny
  - name: stopping is wrongly expected to be allowed
    policies: ecs
    action: ecs:StopInstance
    resource: acs:ecs:cn-hangzhou:123456789012:instance/i-1
    expect: Allow
  - name: refers to a policy that does not exist
    policies: [nope]
    action: ecs:StopInstance
    resource: "*"
    expect: Deny
"#;

fn cases_workspace(cases: &str) -> Workspace {
    Workspace::new(&[
        ("policies/ecs.json", ECS_READ),
        ("policies/deny.json", DENY_IMAGES),
        ("suite/cases.yaml", cases),
    ])
}

#[test]
fn test_reports_passes_failures_with_explanations_and_a_summary() {
    // The YAML is one directory down so file paths must resolve against it, not the cwd.
    let ws = cases_workspace(&CASES.replace("policies/", "../policies/"));
    let run = ws.run(&["policy", "test", "suite/cases.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "running 6 cases from suite/cases.yaml");
    for ok in [
        "ok   describe is allowed",
        "ok   images are explicitly denied",
        "ok   inline logs read inside a session",
        "ok   tag keys are multi-valued",
    ] {
        assert!(lines.contains(&ok), "missing {ok:?} in\n{}", run.stdout);
    }
    let fail = lines
        .iter()
        .position(|l| *l == "FAIL stopping is wrongly expected to be allowed")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(lines[fail + 1], "     expected:    Allow");
    assert_eq!(lines[fail + 2], "     decision:    ImplicitDeny");
    assert!(
        lines[fail + 1..].iter().any(|l| l.starts_with(
            "     explanation: ecs:StopInstance on acs:ecs:cn-hangzhou:123456789012:instance/i-1 \
             is implicitly denied: no statement of account-level identity policies allows it"
        )),
        "{}",
        run.stdout
    );
    assert!(lines.contains(&"FAIL refers to a policy that does not exist"));
    assert!(lines.contains(&"     error: no policy named \"nope\" under `policies`"));
    assert_eq!(*lines.last().unwrap(), "4 passed, 2 failed");
    assert_eq!(
        lines.iter().filter(|l| l.ends_with(" failed")).count(),
        1,
        "exactly one summary line"
    );
}

#[test]
fn test_passes_with_exit_0_when_every_case_passes() {
    let cases = CASES
        .replace(
            "expect: Allow\n  - name: refers",
            "expect: ImplicitDeny\n  - name: refers",
        )
        .replace("policies: [nope]", "policies: []");
    let ws = cases_workspace(&cases.replace("policies/", "../policies/"));
    let run = ws.run(&["policy", "test", "suite/cases.yaml"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.ends_with("\n6 passed, 0 failed\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAIL"));
}

#[test]
fn test_an_invalid_document_fails_with_its_diagnostics() {
    let cases = r#"
policies:
  bad: { file: bad.json }
  wrong-kind: { file: ecs.json, kind: session }
  version-number: { document: { Version: 1, Statement: [] } }
cases:
  - name: uses the bad document
    policies: bad
    action: ecs:DescribeInstances
    resource: "*"
    expect: ImplicitDeny
  - name: uses a session policy as an identity policy
    policies: wrong-kind
    action: ecs:DescribeInstances
    resource: "*"
    expect: ImplicitDeny
"#;
    let ws = Workspace::new(&[
        ("bad.json", BAD_EFFECT),
        ("ecs.json", ECS_READ),
        ("cases.yaml", cases),
    ]);
    let run = ws.run(&["policy", "test", "cases.yaml"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.contains(
            &"bad.json:4:17: error: \"Effect\" must be \"Allow\" or \"Deny\" (case-sensitive), \
              found \"allow\" (at $.Statement[0].Effect)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("cases.yaml: policies.version-number: error: ")
                && l.ends_with("(at $.Version)")
        ),
        "{}",
        run.stdout
    );
    assert!(
        lines.contains(&"FAIL uses the bad document"),
        "{}",
        run.stdout
    );
    assert!(
        lines.contains(
            &"     error: policy \"wrong-kind\" is declared as a session policy but used as an identity policy"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(*lines.last().unwrap(), "0 passed, 2 failed");
}

#[test]
fn test_unreadable_or_malformed_files_exit_2() {
    let ws = Workspace::new(&[
        (
            "typo.yaml",
            "cases:\n  - name: x\n    action: ecs:A\n    resourse: '*'\n    expect: Allow\n",
        ),
        (
            "missing-policy.yaml",
            "policies:\n  p: { file: nope.json }\ncases: []\n",
        ),
    ]);
    let run = ws.run(&["policy", "test", "missing.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read missing.yaml"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "0 passed, 0 failed\n");

    let run = ws.run(&["policy", "test", "typo.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("typo.yaml is not a policy test file")
            && run.stderr.contains("resourse"),
        "{}",
        run.stderr
    );

    let run = ws.run(&["policy", "test", "missing-policy.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read nope.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn test_trust_cases_and_current_time_default() {
    let cases = r#"
policies:
  trust:
    kind: trust
    document:
      Version: "1"
      Statement:
        - Effect: Allow
          Action: sts:AssumeRole
          Principal: { RAM: acs:ram::123456789012:user/alice }
  assume:
    document:
      Version: "1"
      Statement:
        - Effect: Allow
          Action: sts:AssumeRole
          Resource: "*"
          Condition: { DateGreaterThan: { acs:CurrentTime: "2020-01-01T00:00:00Z" } }
cases:
  - name: alice now
    policies: assume
    resource_policy: trust
    caller: acs:ram::123456789012:user/alice
    action: sts:AssumeRole
    resource: acs:ram::123456789012:role/ci
    expect: Allow
  - name: alice in 2019
    policies: assume
    resource_policy: trust
    caller: acs:ram::123456789012:user/alice
    action: sts:AssumeRole
    resource: acs:ram::123456789012:role/ci
    context: { acs:CurrentTime: "2019-01-01T00:00:00Z" }
    expect: ImplicitDeny
  - name: bob
    policies: assume
    resource_policy: trust
    caller: acs:ram::123456789012:user/bob
    action: sts:AssumeRole
    resource: acs:ram::123456789012:role/ci
    expect: ImplicitDeny
  - name: a caller without a trust policy
    policies: assume
    caller: acs:ram::123456789012:user/bob
    action: sts:AssumeRole
    resource: acs:ram::123456789012:role/ci
    expect: ImplicitDeny
"#;
    let ws = Workspace::new(&[("cases.yaml", cases)]);
    let run = ws.run(&["policy", "test", "cases.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"ok   alice now"), "{}", run.stdout);
    assert!(lines.contains(&"ok   alice in 2019"), "{}", run.stdout);
    assert!(lines.contains(&"ok   bob"), "{}", run.stdout);
    assert!(
        lines.contains(&"FAIL a caller without a trust policy"),
        "{}",
        run.stdout
    );
    assert_eq!(*lines.last().unwrap(), "3 passed, 1 failed");
}

#[test]
fn the_shipped_example_passes() {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = rampart_in(
        &root,
        &["policy", "test", "examples/policy-test/cases.yaml"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let summary = run.stdout.lines().last().unwrap();
    let (passed, failed) = summary.split_once(" passed, ").unwrap();
    assert!(passed.parse::<u32>().unwrap() >= 10, "{summary}");
    assert_eq!(failed, "0 failed");
    assert!(!run.stdout.contains("FAIL"));
}
