//! The linter: each rule fires where it should, and stays quiet on the clean counterpart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use rampart_policy::lint::{lint_text, Severity};
use rampart_policy::PolicyKind;

fn codes(text: &str, kind: PolicyKind) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = lint_text(text, kind).iter().map(|f| f.code).collect();
    c.sort_unstable();
    c
}

fn id(statements: &str) -> String {
    format!(r#"{{"Version":"1","Statement":[{statements}]}}"#)
}

#[test]
fn rules_fire_and_stay_quiet() {
    let t = PolicyKind::Trust;
    let i = PolicyKind::Identity;
    let cases: &[(PolicyKind, String, &[&str])] = &[
        (i, id(r#"{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#), &["RP001"]),
        (i, id(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#), &["RP001"]),
        (i, id(r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"*","Resource":"acs:ecs:*:*:instance/*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","NotAction":"ram:*","Resource":"*"}"#), &["RP002"]),
        (i, id(r#"{"Effect":"Deny","NotAction":"ram:*","Resource":"*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"oss:*","NotResource":"acs:oss:*:*:secret/*"}"#), &["RP003"]),
        (i, id(r#"{"Effect":"Allow","Action":"ram:*","Resource":"*"}"#), &["RP004"]),
        (i, id(r#"{"Effect":"Allow","Action":["STS:*","ecs:*"],"Resource":"*"}"#), &["RP004"]),
        (i, id(r#"{"Effect":"Allow","Action":"*:*","Resource":"acs:ram:*:*:*"}"#), &["RP004"]),
        (i, id(r#"{"Effect":"Allow","Action":"ram:Get*","Resource":"*"}"#), &[]),
        (i, id(r#"{"Effect":"Deny","Action":"ram:*","Resource":"*"}"#), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*"}}"#.into(), &["RP005"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"}}}"#.into(), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:saml-provider/idp"}}}"#.into(), &["RP006"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:saml-provider/idp"},"Condition":{"StringEquals":{"saml:recipient":"https://signin.alibabacloud.com/saml-role/sso"}}}}"#.into(), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:oidc-provider/gh"},"Condition":{"StringEquals":{"oidc:iss":"https://x"}}}}"#.into(), &["RP006"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:oidc-provider/gh"},"Condition":{"StringEquals":{"oidc:iss":"https://x","oidc:aud":"sts.aliyuncs.com"},"StringLike":{"oidc:sub":"repo:a/*"}}}}"#.into(), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:oidc-provider/gh"},"Condition":{"StringNotEquals":{"oidc:iss":"x","oidc:aud":"y"}}}}"#.into(), &["RP006"]),
        (i, id(r#"{"Effect":"Allow","NotAction":"*","Resource":"*"}"#), &["RP002", "RP007"]),
        (i, id(r#"{"Effect":"Deny","Action":"ecs:*","NotResource":"*"}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"ecs:tag":"a"},"StringNotEquals":{"ecs:tag":["a","b"]}}}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"ecs:tag":["a","c"]},"StringNotEquals":{"ecs:tag":["a","b"]}}}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"NumericGreaterThan":{"ecs:n":"10"},"NumericLessThan":{"ecs:n":"5"}}}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"NumericGreaterThanEquals":{"ecs:n":"5"},"NumericLessThanEquals":{"ecs:n":"5"}}}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"NumericGreaterThan":{"ecs:n":"5"},"NumericLessThan":{"ecs:n":"5"}}}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2020-01-01"},"DateLessThan":{"acs:CurrentTime":"2019-01-01"}}}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.1.0.0/16"},"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#), &["RP007"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"acs:SourceIp":"10.1.0.0/16"}}}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"},{"Effect":"Allow","Resource":"*","Action":"ECS:*"}"#), &["RP008"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"},{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}"#), &["RP009"]),
        (i, id(r#"{"Effect":"Deny","Action":"ecs:*","Resource":"*"},{"Effect":"Allow","Action":"ecs:DescribeInstances","Resource":"*"}"#), &["RP009"]),
        (i, id(r#"{"Effect":"Deny","Action":"ecs:*","Resource":"*","Condition":{"Bool":{"acs:MFAPresent":"false"}}},{"Effect":"Allow","Action":"ecs:DescribeInstances","Resource":"*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:*:a/*"},{"Effect":"Allow","Action":"oss:Get*","Resource":"acs:oss:*:*:b/*"}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Conditionx":{}}"#), &["RP010"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}"#), &["RP010"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"acs:SourceIP":"x"}}}"#), &[]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"acs:SorceIp":"x"}}}"#), &["RP011"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"IpAddress":{"acs:CurrentTime":"10.0.0.1"}}}"#), &["RP011"]),
        (i, id(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"acs:ResourceTag/team":"dev","oidc:foo":"x"}}}"#), &["RP011"]),
        (i, id(""), &["RP012"]),
        // Found by the corpus review: broad grants spelled other ways, open principals, and
        // wildcard conditions that pin nothing.
        (i, id(r#"{"Effect":"Allow","Action":"*:*","Resource":"*"}"#), &["RP001"]),
        (i, id(r#"{"Effect":"Allow","Action":"*","Resource":"acs:*:*:*:*"}"#), &["RP001"]),
        (PolicyKind::Control, id(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#), &[]),
        (PolicyKind::Control, id(r#"{"Effect":"Allow","NotAction":"ram:*","Resource":"*"}"#), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::*:root"}}}"#.into(), &["RP005"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1234567890123456:user/*"}}}"#.into(), &[]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"*.aliyuncs.com"}}}"#.into(), &["RP005"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"*"}}}"#.into(), &["RP005"]),
        (t, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":"acs:ram::1:oidc-provider/gh"},"Condition":{"StringLike":{"oidc:iss":"*","oidc:aud":"*"}}}}"#.into(), &["RP006"]),
        (i, id(r#"{"Effect":"Deny","Action":"oss:*","Resource":"acs:oss:*:*:*"},{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:photos/*"}"#), &["RP009"]),
        (i, id(r#"{"Effect":"Allow","Action":"ram:PassRole","Resource":"*","Condition":{"StringEquals":{"acs:Service":"fc.aliyuncs.com"}}}"#), &[]),
        (PolicyKind::Session, id(&format!(r#"{{"Sid":"{}","Effect":"Allow","Action":"ecs:*","Resource":"*"}}"#, "x".repeat(2100))), &["RP013"]),
    ];
    for (kind, text, want) in cases {
        assert_eq!(codes(text, *kind), *want, "{kind:?} {text}");
    }
}

#[test]
fn findings_carry_location_severity_and_readable_text() {
    let text = "{\"Version\":\"1\",\"Statement\":[\n {\"Effect\":\"Allow\",\"Action\":\"ecs:*\",\"Resource\":\"*\"},\n {\"Effect\":\"Allow\",\"Action\":[\"ram:*\"],\"Resource\":\"*\"}]}";
    let f = lint_text(text, PolicyKind::Identity);
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(
        (f.code, f.name, f.severity),
        ("RP004", "broad-iam", Severity::Warning)
    );
    assert_eq!(f.path, "$.Statement[1].Action[0]");
    assert_eq!((f.location.line, f.location.column), (3, 30));
    assert_eq!(
        f.to_string(),
        "3:30: warning RP004[broad-iam]: \"ram:*\" allows every ram action: whoever holds it can grant itself any permission; name the actions needed (at $.Statement[1].Action[0])"
    );
    let invalid = lint_text(
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Alow\"}]}",
        PolicyKind::Identity,
    );
    assert!(invalid
        .iter()
        .all(|f| f.code == "RP010" && f.severity == Severity::Error));
    assert!(invalid.len() >= 2);
}
