//! STS: AssumeRole's two-sided authorization, session credentials accepted on every product,
//! live role permissions intersected with the session policy, and every way a token fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Client, Server, Session};

const STS: &str = "2015-04-01";
const RAM: &str = "2015-05-01";

fn trust(principal: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":["{principal}"]}}{condition}}}]}}"#
    )
}

async fn role(s: &Server, root: &Client, name: &str, trust: &str, max: &str) {
    s.call(
        root,
        "CreateRole",
        &[
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust),
            ("MaxSessionDuration", max),
        ],
    )
    .await
    .ok();
}

async fn attach(
    s: &Server,
    root: &Client,
    action: &str,
    kind: &str,
    who: (&str, &str),
    policy: (&str, &str),
) {
    s.call(
        root,
        action,
        &[
            (who.0, who.1),
            ("PolicyType", kind),
            ("PolicyName", policy.0),
        ],
    )
    .await
    .ok();
    let _ = policy.1;
}

async fn custom_policy(s: &Server, root: &Client, name: &str, doc: &str) {
    s.call(
        root,
        "CreatePolicy",
        &[("PolicyName", name), ("PolicyDocument", doc)],
    )
    .await
    .ok();
}

const ASSUME_ANY: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

/// Account `acme` with user alice allowed to assume roles, and role `ops` trusting the
/// account, holding RAM read-only access.
async fn setup(s: &Server) -> (Client, Client) {
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    custom_policy(s, &root, "assume-any", ASSUME_ANY).await;
    attach(
        s,
        &root,
        "AttachPolicyToUser",
        "Custom",
        ("UserName", "alice"),
        ("assume-any", ""),
    )
    .await;
    let t = trust(&format!("acs:ram::{}:root", root.account_id), "");
    role(s, &root, "ops", &t, "7200").await;
    attach(
        s,
        &root,
        "AttachPolicyToRole",
        "System",
        ("RoleName", "ops"),
        ("AliyunRAMReadOnlyAccess", ""),
    )
    .await;
    (root, alice)
}

fn ops_arn(root: &Client) -> String {
    format!("acs:ram::{}:role/ops", root.account_id)
}

async fn assume(s: &Server, who: &Client, arn: &str, extra: &[(&str, &str)]) -> Session {
    let mut params = vec![("RoleArn", arn), ("RoleSessionName", "alice-session")];
    params.extend_from_slice(extra);
    let reply = s.sts(who, "AssumeRole", &params).await.ok();
    Session::from_reply(&who.account_id, &reply)
}

#[tokio::test]
async fn assume_role_issues_credentials_that_work_on_every_product() {
    let s = Server::start().await;
    let (root, alice) = setup(&s).await;
    let reply = s
        .sts(
            &alice,
            "AssumeRole",
            &[
                ("RoleArn", &ops_arn(&root)),
                ("RoleSessionName", "alice-session"),
                ("DurationSeconds", "1800"),
                ("SourceIdentity", "alice@corp"),
            ],
        )
        .await
        .ok();
    let metrics = s.api.state().metrics.render();
    assert!(
        metrics.contains("rampart_sts_credentials_issued_total{action=\"AssumeRole\"} 1\n"),
        "{metrics}"
    );
    let c = &reply["Credentials"];
    assert!(c["AccessKeyId"].as_str().unwrap().starts_with("STS."));
    assert_eq!(c["AccessKeySecret"].as_str().unwrap().len(), 30);
    // Thirty minutes after the server's clock (2026-11-22T10:00:00Z), second precision.
    assert_eq!(c["Expiration"], "2026-11-22T10:30:00Z");
    assert_eq!(reply["SourceIdentity"], "alice@corp");
    assert_eq!(
        reply["AssumedRoleUser"]["Arn"],
        format!("acs:ram::{}:role/ops/alice-session", root.account_id)
    );
    let role = s.call(&root, "GetRole", &[("RoleName", "ops")]).await.ok();
    let role_id = role["Role"]["RoleId"].as_str().unwrap().to_owned();
    assert_eq!(
        reply["AssumedRoleUser"]["AssumedRoleId"],
        format!("{role_id}:alice-session")
    );
    let session = Session::from_reply(&root.account_id, &reply);

    // The session's identity, V1 and V3.
    for who in [
        s.call_session(&session, STS, "GetCallerIdentity", &[])
            .await
            .ok(),
        s.call_session_v3(&session, STS, "GetCallerIdentity", &[])
            .await
            .ok(),
    ] {
        assert_eq!(who["IdentityType"], "AssumedRoleUser");
        assert_eq!(who["AccountId"], root.account_id.as_str());
        assert_eq!(who["RoleId"], role_id.as_str());
        assert_eq!(who["PrincipalId"], format!("{role_id}:alice-session"));
        assert_eq!(
            who["Arn"],
            format!(
                "acs:ram::{}:assumed-role/ops/alice-session",
                root.account_id
            )
        );
        assert!(who.get("UserId").is_none());
    }
    // The role's read-only policy applies to RAM calls, V1 and V3; writes are refused.
    s.call_session(&session, RAM, "ListUsers", &[]).await.ok();
    s.call_session_v3(&session, RAM, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    let denied = s
        .call_session(&session, RAM, "CreateUser", &[("UserName", "eve")])
        .await
        .err(403, "NoPermission");
    let detail = &denied["AccessDeniedDetail"];
    assert_eq!(detail["AuthPrincipalType"], "AssumedRoleUser");
    assert_eq!(detail["AuthPrincipalDisplayName"], "ops:alice-session");
    assert_eq!(detail["AuthPrincipalOwnerId"], root.account_id.as_str());

    // Another node, with no shared cache, accepts the same credentials.
    let node2 = s.second_node().await;
    node2
        .call_session(&session, RAM, "ListUsers", &[])
        .await
        .ok();

    // Root and user identities, for comparison.
    let who = s.sts(&root, "GetCallerIdentity", &[]).await.ok();
    assert_eq!(who["IdentityType"], "Account");
    assert_eq!(who["UserId"], root.account_id.as_str());
    assert_eq!(who["Arn"], format!("acs:ram::{}:root", root.account_id));
    let who = s.sts(&alice, "GetCallerIdentity", &[]).await.ok();
    assert_eq!(who["IdentityType"], "RAMUser");
    assert_eq!(
        who["Arn"],
        format!("acs:ram::{}:user/alice", root.account_id)
    );
    assert_eq!(who["PrincipalId"], who["UserId"]);
}

#[tokio::test]
async fn role_permissions_are_live_and_intersected_with_the_session_policy() {
    let s = Server::start().await;
    let (root, alice) = setup(&s).await;
    let only_get =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"*"}]}"#;
    let narrow = assume(&s, &alice, &ops_arn(&root), &[("Policy", only_get)]).await;
    let full = assume(&s, &alice, &ops_arn(&root), &[]).await;
    narrow
        .client
        .key_id
        .ne(&full.client.key_id)
        .then_some(())
        .unwrap();
    s.call_session(&narrow, RAM, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    let denied = s
        .call_session(&narrow, RAM, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    assert_eq!(denied["AccessDeniedDetail"]["PolicyType"], "SessionPolicy");
    s.call_session(&full, RAM, "ListUsers", &[]).await.ok();
    // A session policy cannot add what the role lacks.
    let wide =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}"#;
    let wide = assume(&s, &alice, &ops_arn(&root), &[("Policy", wide)]).await;
    s.call_session(&wide, RAM, "CreateUser", &[("UserName", "eve")])
        .await
        .err(403, "NoPermission");

    // Detaching the role's policy takes effect on live sessions at once.
    s.call(
        &root,
        "DetachPolicyFromRole",
        &[
            ("RoleName", "ops"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    s.call_session(&full, RAM, "ListUsers", &[])
        .await
        .err(403, "NoPermission");

    // Deleting the role ends its sessions, and a new role of the same name does not revive
    // them.
    s.call(&root, "DeleteRole", &[("RoleName", "ops")])
        .await
        .ok();
    let t = trust(&format!("acs:ram::{}:root", root.account_id), "");
    role(&s, &root, "ops", &t, "3600").await;
    s.call_session(&full, STS, "GetCallerIdentity", &[])
        .await
        .err(400, "InvalidSecurityToken.Expired");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_codes() {
    let s = Server::start().await;
    let (root, alice) = setup(&s).await;
    let session = assume(&s, &alice, &ops_arn(&root), &[("DurationSeconds", "900")]).await;

    // An STS key without its token.
    s.call(&session.client, "ListUsers", &[])
        .await
        .err(400, "MissingSecurityToken");
    // A token altered in its sealed part.
    let mut tampered = session.clone();
    let mut bytes = tampered.token.into_bytes();
    let i = bytes.len() - 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    tampered.token = String::from_utf8(bytes).unwrap();
    s.call_session(&tampered, RAM, "ListUsers", &[])
        .await
        .err(400, "InvalidSecurityToken.Malformed");
    // Someone else's token with this key (re-signed with this key's secret).
    let other = assume(&s, &alice, &ops_arn(&root), &[]).await;
    let mut swapped = session.clone();
    swapped.token = other.token.clone();
    s.call_session(&swapped, RAM, "ListUsers", &[])
        .await
        .err(400, "InvalidSecurityToken.MismatchWithAccessKey");
    // A forged secret with the right token: the signature fails.
    let mut forged = session.clone();
    forged.client.secret = "x".repeat(30);
    assert_eq!(
        s.call_session(&forged, RAM, "ListUsers", &[]).await.code(),
        "SignatureDoesNotMatch"
    );
    // A replayed nonce.
    let raw = s.signed_as(
        &session.client,
        Some(&session.token),
        RAM,
        "ListUsers",
        &[],
        "sts-replay",
    );
    s.send(raw.clone()).await.ok();
    s.send(raw).await.err(400, "SignatureNonceUsed");

    // Fifteen minutes later the session has expired.
    s.clock.advance(Duration::from_secs(900));
    s.call_session(&session, RAM, "ListUsers", &[])
        .await
        .err(400, "InvalidSecurityToken.Expired");
    // The longer one is still good, under a later sealing key period.
    s.call_session(&other, RAM, "ListUsers", &[]).await.ok();
}

#[tokio::test]
async fn assume_role_parameters_and_refusals() {
    let s = Server::start().await;
    let (root, alice) = setup(&s).await;
    let arn = ops_arn(&root);
    let call = |params: Vec<(&'static str, String)>| {
        let s = &s;
        let alice = &alice;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.sts(alice, "AssumeRole", &p).await
        }
    };
    let base = |extra: &[(&'static str, &str)]| {
        let mut v = vec![
            ("RoleArn", arn.clone()),
            ("RoleSessionName", "alice-session".to_owned()),
        ];
        v.extend(extra.iter().map(|(k, x)| (*k, (*x).to_owned())));
        v
    };
    // Duration bounds: 900 to the role's maximum (7200 here).
    call(base(&[("DurationSeconds", "899")]))
        .await
        .err(400, "InvalidParameter.DurationSeconds");
    call(base(&[("DurationSeconds", "7201")]))
        .await
        .err(400, "InvalidParameter.DurationSeconds");
    call(base(&[("DurationSeconds", "7200")])).await.ok();
    // Session policy: grammar and size.
    call(base(&[("Policy", "{not json")]))
        .await
        .err(400, "InvalidParameter.PolicyGrammar");
    let big = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:GetUser","Resource":"acs:ram:*:*:user/{}"}}]}}"#,
        "a".repeat(2048)
    );
    call(base(&[("Policy", &big)]))
        .await
        .err(400, "InvalidParameter.PolicySize");
    // Names and ARNs.
    call(vec![
        ("RoleArn", "acs:ram::x:role/ops".into()),
        ("RoleSessionName", "s1".into()),
    ])
    .await
    .err(400, "InvalidParameter.RoleArn");
    call(vec![
        ("RoleArn", arn.clone()),
        ("RoleSessionName", "a b".into()),
    ])
    .await
    .err(400, "InvalidParameter.RoleSessionName");
    call(vec![
        ("RoleArn", format!("acs:ram::{}:role/nope", root.account_id)),
        ("RoleSessionName", "s1".into()),
    ])
    .await
    .err(404, "EntityNotExist.Role");

    // The root identity can never assume a role.
    let refused = s
        .sts(
            &root,
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "root-session")],
        )
        .await
        .err(403, "NoPermission");
    assert!(refused["Message"].as_str().unwrap().contains("root"));

    // Without an identity policy allowing sts:AssumeRole, a trusted user is refused.
    let bob = s.user_with_key(&root, "bob").await;
    let refused = s
        .sts(
            &bob,
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "bob")],
        )
        .await
        .err(403, "NoPermission");
    assert_eq!(
        refused["AccessDeniedDetail"]["AuthAction"],
        "sts:AssumeRole"
    );
    assert_eq!(
        refused["AccessDeniedDetail"]["PolicyType"],
        "AccountLevelIdentityBasedPolicy"
    );

    // A role trusting only bob refuses alice, on the trust side, with a diagnostic.
    let only_bob = trust(&format!("acs:ram::{}:user/bob", root.account_id), "");
    role(&s, &root, "bobs", &only_bob, "3600").await;
    let refused = s
        .sts(
            &alice,
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{}:role/bobs", root.account_id),
                ),
                ("RoleSessionName", "alice"),
            ],
        )
        .await
        .err(403, "NoPermission");
    assert_eq!(
        refused["AccessDeniedDetail"]["PolicyType"],
        "AssumeRolePolicy"
    );
    let encoded = refused["AccessDeniedDetail"]["EncodedDiagnosticMessage"]
        .as_str()
        .unwrap();
    let diagnostic = rampart_api::authz::decode_diagnostic(&s.master, encoded).unwrap();
    assert_eq!(
        diagnostic.auth_resource,
        format!("acs:ram::{}:role/bobs", root.account_id)
    );
    assert!(!diagnostic.explanation.is_empty());
}

#[tokio::test]
async fn external_id_chaining_and_cross_account() {
    let s = Server::start().await;
    let (root, alice) = setup(&s).await;
    // ExternalId through the trust policy's condition.
    let cond = r#","Condition":{"StringEquals":{"sts:ExternalId":"abc-123"}}"#;
    let t = trust(&format!("acs:ram::{}:root", root.account_id), cond);
    role(&s, &root, "partner", &t, "3600").await;
    let partner = format!("acs:ram::{}:role/partner", root.account_id);
    s.sts(
        &alice,
        "AssumeRole",
        &[("RoleArn", &partner), ("RoleSessionName", "pp")],
    )
    .await
    .err(403, "NoPermission");
    let refused = s
        .sts(
            &alice,
            "AssumeRole",
            &[
                ("RoleArn", &partner),
                ("RoleSessionName", "pp"),
                ("ExternalId", "wrong-id"),
            ],
        )
        .await
        .err(403, "NoPermission");
    // The sealed diagnostic names the condition and the value it saw.
    let encoded = refused["AccessDeniedDetail"]["EncodedDiagnosticMessage"]
        .as_str()
        .unwrap();
    let explanation = rampart_api::authz::decode_diagnostic(&s.master, encoded)
        .unwrap()
        .explanation;
    assert!(
        explanation.contains(r#"condition StringEquals sts:ExternalId ["abc-123"] is not met (sts:ExternalId is ["wrong-id"])"#),
        "{explanation}"
    );
    s.sts(
        &alice,
        "AssumeRole",
        &[
            ("RoleArn", &partner),
            ("RoleSessionName", "pp"),
            ("ExternalId", "abc-123"),
        ],
    )
    .await
    .ok();

    // Role chaining: a role that trusts the `ops` role, assumed from an `ops` session, for
    // at most an hour even though its own maximum is longer.
    let t = trust(&format!("acs:ram::{}:role/ops", root.account_id), "");
    role(&s, &root, "next", &t, "43200").await;
    custom_policy(&s, &root, "assume-any-2", ASSUME_ANY).await;
    attach(
        &s,
        &root,
        "AttachPolicyToRole",
        "Custom",
        ("RoleName", "ops"),
        ("assume-any-2", ""),
    )
    .await;
    let ops = assume(&s, &alice, &ops_arn(&root), &[("SourceIdentity", "alice")]).await;
    let next = format!("acs:ram::{}:role/next", root.account_id);
    s.call_session(
        &ops,
        STS,
        "AssumeRole",
        &[
            ("RoleArn", &next),
            ("RoleSessionName", "hop"),
            ("DurationSeconds", "3601"),
        ],
    )
    .await
    .err(400, "InvalidParameter.DurationSeconds");
    let hop = s
        .call_session(
            &ops,
            STS,
            "AssumeRole",
            &[("RoleArn", &next), ("RoleSessionName", "hop")],
        )
        .await
        .ok();
    // The source identity follows the chain.
    assert_eq!(hop["SourceIdentity"], "alice");
    let hop = Session::from_reply(&root.account_id, &hop);
    let who = s
        .call_session(&hop, STS, "GetCallerIdentity", &[])
        .await
        .ok();
    assert_eq!(
        who["Arn"],
        format!("acs:ram::{}:assumed-role/next/hop", root.account_id)
    );
    // Alice herself is not trusted by `next`.
    s.sts(
        &alice,
        "AssumeRole",
        &[("RoleArn", &next), ("RoleSessionName", "direct")],
    )
    .await
    .err(403, "NoPermission");
    // A role session has no access keys of its own: omitting UserName never reaches the
    // account's root keys.
    s.call_session(&ops, RAM, "ListAccessKeys", &[])
        .await
        .err(400, "MissingParameter");

    // Cross-account: a role in account B trusting account A.
    let other = s.account("other").await;
    let t = trust(&format!("acs:ram::{}:root", root.account_id), "");
    role(&s, &other, "shared", &t, "3600").await;
    attach(
        &s,
        &other,
        "AttachPolicyToRole",
        "System",
        ("RoleName", "shared"),
        ("AliyunRAMReadOnlyAccess", ""),
    )
    .await;
    let shared = format!("acs:ram::{}:role/shared", other.account_id);
    let cross = assume(&s, &alice, &shared, &[]).await;
    let who = s
        .call_session(&cross, STS, "GetCallerIdentity", &[])
        .await
        .ok();
    assert_eq!(who["AccountId"], other.account_id.as_str());
    // The session acts in B: B's users are visible, A's are not named.
    s.call(&other, "CreateUser", &[("UserName", "carol")])
        .await
        .ok();
    let users = s.call_session(&cross, RAM, "ListUsers", &[]).await.ok();
    let names: Vec<&str> = users["Users"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol"]);
    // A role in B that does not trust A refuses, even though alice's policy allows it.
    let t = trust(&format!("acs:ram::{}:root", other.account_id), "");
    role(&s, &other, "private", &t, "3600").await;
    let refused = s
        .sts(
            &alice,
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{}:role/private", other.account_id),
                ),
                ("RoleSessionName", "xx"),
            ],
        )
        .await
        .err(403, "NoPermission");
    assert_eq!(
        refused["AccessDeniedDetail"]["PolicyType"],
        "AssumeRolePolicy"
    );
}
