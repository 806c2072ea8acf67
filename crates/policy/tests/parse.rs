//! Validation: what each document kind accepts and refuses, and where the diagnostics point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use rampart_policy::{Effect, Policy, PolicyKind, Principal};

fn errors(text: &str, kind: PolicyKind) -> Vec<String> {
    match Policy::parse(text, kind) {
        Ok(_) => panic!("accepted as {kind:?}: {text}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn first_error(text: &str, kind: PolicyKind) -> String {
    errors(text, kind).remove(0)
}

#[test]
fn accepts_scalars_or_lists_everywhere() {
    let p = Policy::parse(
        r#"{"Version":"1","Statement":{"Effect":"Deny","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/*",
            "Condition":{"StringEquals":{"acs:ResourceTag/team":"dev"},"NumericLessThan":{"ecs:n":5}}}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.statements.len(), 1);
    let st = &p.statements[0];
    assert_eq!(st.effect, Effect::Deny);
    assert_eq!(st.action.values[0].value, "ecs:*");
    assert_eq!(st.conditions.len(), 2);
    assert_eq!(st.conditions[1].values, vec!["5".to_string()]);
}

#[test]
fn diagnostics_point_at_the_text() {
    let text = "{\n  \"Version\": \"1\",\n  \"Statement\": [{\n    \"Effect\": \"allow\",\n    \"Action\": \"ecs:*\",\n    \"Resource\": \"*\"\n  }]\n}";
    let e = Policy::parse(text, PolicyKind::Identity).unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((d.location.line, d.location.column), (4, 15));
    assert_eq!(d.path, "$.Statement[0].Effect");
    assert!(d.message.contains("\"Allow\" or \"Deny\""), "{}", d.message);
    assert!(d.message.contains("\"allow\""), "{}", d.message);
    // The error's Display is the MalformedPolicyDocument message.
    assert!(e.to_string().starts_with("4:15: "), "{e}");
}

#[test]
fn reports_every_problem_at_once() {
    let text = r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"bad action","Resource":"*"},
        {"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEqual":{"a:b":"c"}}}]}"#;
    let errs = errors(text, PolicyKind::Identity);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].contains("\"Version\" must be the string \"1\""));
    assert!(errs[1].contains("$.Statement[0].Action"));
    assert!(errs[2].contains("unknown condition operator \"StringEqual\""));
}

#[test]
fn refuses_malformed_documents_with_clear_messages() {
    let id = PolicyKind::Identity;
    let cases: &[(&str, &str)] = &[
        ("", "invalid JSON"),
        ("[]", "a policy must be a JSON object"),
        (r#"{"Version":"1","Statement":[],}"#, "invalid JSON"),
        (r#"{"Statement":[]}"#, "missing \"Version\""),
        (
            r#"{"Version":1,"Statement":[]}"#,
            "\"Version\" must be the string \"1\", found 1",
        ),
        (r#"{"Version":"1"}"#, "missing \"Statement\""),
        (
            r#"{"version":"1","Statement":[]}"#,
            "case-sensitive: \"Version\"",
        ),
        (
            r#"{"Version":"1","Statement":"x"}"#,
            "\"Statement\" must be a list",
        ),
        (
            r#"{"Version":"1","Statement":[1]}"#,
            "a statement must be an object",
        ),
        (
            r#"{"Version":"1","Statement":[{"Action":"ecs:*","Resource":"*"}]}"#,
            "missing \"Effect\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
            "missing \"Action\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*"}]}"#,
            "missing \"Resource\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","NotAction":"x:y","Resource":"*"}]}"#,
            "exactly one of \"Action\" and \"NotAction\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","NotResource":"*"}]}"#,
            "exactly one of \"Resource\" and \"NotResource\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
            "the list is empty",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]}"#,
            "expected a string, found a number",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs","Resource":"*"}]}"#,
            "not of the form <service>:<action>",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:","Resource":"*"}]}"#,
            "not of the form <service>:<action>",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:s3:::b"}]}"#,
            "is not \"*\" or an ARN",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"acs:ecs:*"}]}"#,
            "is not \"*\" or an ARN",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Principal":"*"}]}"#,
            "\"Principal\" belongs only in trust policies",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Extra":1}]}"#,
            "unknown statement element \"Extra\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","action":"ecs:*","Resource":"*"}]}"#,
            "case-sensitive: \"Action\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":[]}]}"#,
            "\"Condition\" must be an object",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"stringequals":{"a:b":"c"}}}]}"#,
            "case-sensitive: \"StringEquals\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEqualsIfExists":{"a:b":"c"}}}]}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"Null":{"a:b":"true"}}}]}"#,
            "unknown condition operator \"Null\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{}}}]}"#,
            "names no condition key",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"SourceIp":"x"}}}]}"#,
            "condition key \"SourceIp\" is malformed",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"acs:Source Ip":"x"}}}]}"#,
            "is malformed",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"a:b":[]}}}]}"#,
            "list of values is empty",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"a:b":{"x":1}}}}]}"#,
            "must be a string or a list of strings",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"a:b":[null]}}}]}"#,
            "must be a string, found null",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}}]}"#,
            "is not an IPv4 or IPv6 address or CIDR block",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"2001:db8::/129"}}}]}"#,
            "is not an IPv4 or IPv6 address",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2019-02-30T00:00:00Z"}}}]}"#,
            "is not an ISO 8601 date",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"NumericLessThan":{"ecs:n":"ten"}}}]}"#,
            "is not a number",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"Bool":{"acs:MFAPresent":"yes"}}}]}"#,
            "is not \"true\" or \"false\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"a:b":"1","a:b":"2"}}}]}"#,
            "duplicate member \"a:b\"",
        ),
    ];
    for (text, want) in cases {
        let got = first_error(text, id);
        assert!(
            got.contains(want),
            "for {text}\n  want …{want}…\n  got  {got}"
        );
    }
}

#[test]
fn trust_policy_rules() {
    let t = PolicyKind::Trust;
    let ok = Policy::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1:root"],"Service":"ecs.aliyuncs.com"}}]}"#,
        t,
    )
    .unwrap();
    match &ok.statements[0].principal {
        Some(Principal::Entries {
            ram,
            service,
            federated,
        }) => {
            assert_eq!(ram, &vec!["acs:ram::1:root".to_string()]);
            assert_eq!(service, &vec!["ecs.aliyuncs.com".to_string()]);
            assert!(federated.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(Policy::parse(r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRoleWithOIDC","Principal":{"Federated":"acs:ram::1:oidc-provider/x"}}}"#, t).is_ok());
    assert!(Policy::parse(
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:*","Principal":"*"}}"#,
        t
    )
    .is_ok());
    let p = Policy::parse(r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"*"}}}"#, t).unwrap();
    assert_eq!(p.statements[0].principal, Some(Principal::Any));
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            "missing \"Principal\"",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*","Resource":"*"}}"#,
            "a trust policy has no \"Resource\"",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"ecs:*","Principal":"*"}}"#,
            "may only name \"sts:AssumeRole\"",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","NotAction":"ecs:*","Principal":"*"}}"#,
            "not \"NotAction\"",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"x"}}}"#,
            "unknown principal type \"AWS\"",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{}}}"#,
            "\"Principal\" must be \"*\" or an object",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":""}}}"#,
            "must not be empty",
        ),
        (
            r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"everyone"}}"#,
            "\"Principal\" must be \"*\"",
        ),
    ];
    for (text, want) in cases {
        let got = first_error(text, t);
        assert!(
            got.contains(want),
            "for {text}\n  want …{want}…\n  got  {got}"
        );
    }
}

#[test]
fn session_and_control_policies_follow_identity_rules() {
    for kind in [PolicyKind::Session, PolicyKind::Control] {
        assert!(Policy::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:*","Resource":"*"}]}"#,
            kind
        )
        .is_ok());
        assert!(first_error(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:*"}]}"#,
            kind
        )
        .contains("missing \"Resource\""));
        assert!(first_error(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:*","Resource":"*","Principal":"*"}]}"#, kind).contains("only in trust policies"));
    }
}

#[test]
fn size_limits() {
    let pad = |n: usize| {
        format!(
            r#"{{"Version":"1","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"ecs:*","Resource":"*"}}]}}"#,
            "x".repeat(n)
        )
    };
    let base = pad(0).chars().count();
    assert!(PolicyKind::Identity.check_size(&pad(6144 - base)).is_ok());
    let e = PolicyKind::Identity
        .check_size(&pad(6145 - base))
        .unwrap_err();
    assert_eq!((e.limit, e.actual), (6144, 6145));
    assert!(PolicyKind::Session.check_size(&pad(2048 - base)).is_ok());
    assert!(PolicyKind::Session.check_size(&pad(2049 - base)).is_err());
    // Characters, not bytes.
    let wide = format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"ecs:*","Resource":"*"}}]}}"#,
        "é".repeat(2048 - base)
    );
    assert!(PolicyKind::Session.check_size(&wide).is_ok());
    assert!(wide.len() > 2048);
    assert_eq!(
        e.to_string(),
        "the identity policy is 6145 characters long; the limit is 6144"
    );
}

#[test]
fn hostile_input_is_refused_not_crashed_on() {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(first_error(&deep, PolicyKind::Identity).contains("deeper"));
    let huge_pattern = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{}:*","Resource":"*"}}]}}"#,
        "a*".repeat(3000)
    );
    assert!(Policy::parse(&huge_pattern, PolicyKind::Identity).is_ok());
    assert!(Policy::parse("\u{feff}{}", PolicyKind::Identity).is_err());
}
