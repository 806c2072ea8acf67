//! Every call is authorized by the caller's policies, compiled sets are cached, and no change
//! to attachments, versions or memberships ever leaves a stale allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::Server;

const READ_USERS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:ListUsers","ram:GetUser"],"Resource":"*"}]}"#;
const DENY_GET_BOB: &str = r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:GetUser","Resource":"acs:ram:*:*:user/bob"}]}"#;

#[tokio::test]
async fn denied_then_allowed_by_a_system_policy_then_denied_again() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[]).await.ok();
    // Read-only: no writes.
    let denied = s
        .call(&alice, "CreateUser", &[("UserName", "eve")])
        .await
        .err(403, "NoPermission");
    assert_eq!(denied["AccessDeniedDetail"]["AuthAction"], "ram:CreateUser");
    // The cached allow is dropped the moment the policy is detached.
    s.call(
        &root,
        "DetachPolicyFromUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
}

#[tokio::test]
async fn group_policies_apply_and_leaving_the_group_revokes_them() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&root, "CreateGroup", &[("GroupName", "readers")])
        .await
        .ok();
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "read-users"), ("PolicyDocument", READ_USERS)],
    )
    .await
    .ok();
    s.call(
        &root,
        "AttachPolicyToGroup",
        &[
            ("GroupName", "readers"),
            ("PolicyType", "Custom"),
            ("PolicyName", "read-users"),
        ],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "AddUserToGroup",
        &[("GroupName", "readers"), ("UserName", "alice")],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[]).await.ok();
    s.call(
        &root,
        "RemoveUserFromGroup",
        &[("GroupName", "readers"), ("UserName", "alice")],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
}

#[tokio::test]
async fn a_new_default_version_takes_effect_at_once() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "p"), ("PolicyDocument", READ_USERS)],
    )
    .await
    .ok();
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "Custom"),
            ("PolicyName", "p"),
        ],
    )
    .await
    .ok();
    s.call(&alice, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    let nothing =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}"#;
    let v2 = s
        .call(
            &root,
            "CreatePolicyVersion",
            &[
                ("PolicyName", "p"),
                ("PolicyDocument", nothing),
                ("SetAsDefault", "True"),
            ],
        )
        .await
        .ok();
    assert_eq!(v2["PolicyVersion"]["VersionId"], "v2");
    assert_eq!(v2["PolicyVersion"]["IsDefaultVersion"], true);
    s.call(&alice, "GetUser", &[("UserName", "alice")])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "SetDefaultPolicyVersion",
        &[("PolicyName", "p"), ("VersionId", "v1")],
    )
    .await
    .ok();
    s.call(&alice, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
}

#[tokio::test]
async fn explicit_deny_wins_and_is_explained() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "read"), ("PolicyDocument", READ_USERS)],
    )
    .await
    .ok();
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "no-bob"), ("PolicyDocument", DENY_GET_BOB)],
    )
    .await
    .ok();
    for p in ["read", "no-bob"] {
        s.call(
            &root,
            "AttachPolicyToUser",
            &[
                ("UserName", "alice"),
                ("PolicyType", "Custom"),
                ("PolicyName", p),
            ],
        )
        .await
        .ok();
    }
    s.call(&alice, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    let denied = s
        .call(&alice, "GetUser", &[("UserName", "bob")])
        .await
        .err(403, "NoPermission");
    let detail = &denied["AccessDeniedDetail"];
    assert_eq!(detail["NoPermissionType"], "ExplicitDeny");
    let encoded = detail["EncodedDiagnosticMessage"]
        .as_str()
        .unwrap()
        .to_owned();

    // Decoding needs permission too: alice has none, root has all.
    s.call(
        &alice,
        "DecodeDiagnosticMessage",
        &[("EncodedDiagnosticMessage", &encoded)],
    )
    .await
    .err(403, "NoPermission");
    let decoded = s
        .call(
            &root,
            "DecodeDiagnosticMessage",
            &[("EncodedDiagnosticMessage", &encoded)],
        )
        .await
        .ok();
    let d = &decoded["DecodedDiagnosticMessage"];
    assert_eq!(d["AuthAction"], "ram:GetUser");
    assert_eq!(d["ExplicitDeny"], true);
    assert!(d["AuthResource"].as_str().unwrap().ends_with(":user/bob"));
    assert_eq!(d["MatchedPolicies"][0]["PolicyIdentifier"], "no-bob");
    // Another account cannot read it, and a tampered message is refused.
    let other = s.account("other").await;
    s.call(
        &other,
        "DecodeDiagnosticMessage",
        &[("EncodedDiagnosticMessage", &encoded)],
    )
    .await
    .err(400, "InvalidParameter.EncodedDiagnosticMessage");
    let mut bad = encoded.clone();
    bad.replace_range(10..11, if &encoded[10..11] == "A" { "B" } else { "A" });
    s.call(
        &root,
        "DecodeDiagnosticMessage",
        &[("EncodedDiagnosticMessage", &bad)],
    )
    .await
    .err(400, "InvalidParameter.EncodedDiagnosticMessage");
}

#[tokio::test]
async fn resource_patterns_scope_what_a_user_may_touch() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    let own_keys = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:*AccessKey*","Resource":"acs:ram:*:{}:user/alice"}}]}}"#,
        root.account_id
    );
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "own-keys"), ("PolicyDocument", &own_keys)],
    )
    .await
    .ok();
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "Custom"),
            ("PolicyName", "own-keys"),
        ],
    )
    .await
    .ok();
    // Omitting UserName means herself.
    let keys = s.call(&alice, "ListAccessKeys", &[]).await.ok();
    assert_eq!(keys["AccessKeys"]["AccessKey"].as_array().unwrap().len(), 1);
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    s.call(&alice, "CreateAccessKey", &[("UserName", "bob")])
        .await
        .err(403, "NoPermission");
    let mine = s.call(&alice, "CreateAccessKey", &[]).await.ok();
    assert!(mine["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("LTAI"));
}

#[tokio::test]
async fn another_accounts_policies_cannot_be_attached_or_seen() {
    let s = Server::start().await;
    let a = s.account("a").await;
    let b = s.account("b").await;
    s.call(
        &a,
        "CreatePolicy",
        &[
            ("PolicyName", "secret-policy"),
            ("PolicyDocument", READ_USERS),
        ],
    )
    .await
    .ok();
    s.call(&b, "CreateUser", &[("UserName", "bob")]).await.ok();
    s.call(
        &b,
        "AttachPolicyToUser",
        &[
            ("UserName", "bob"),
            ("PolicyType", "Custom"),
            ("PolicyName", "secret-policy"),
        ],
    )
    .await
    .err(404, "EntityNotExist.Policy");
    s.call(
        &b,
        "GetPolicy",
        &[("PolicyType", "Custom"), ("PolicyName", "secret-policy")],
    )
    .await
    .err(404, "EntityNotExist.Policy");
    let listed = s
        .call(&b, "ListPolicies", &[("PolicyType", "Custom")])
        .await
        .ok();
    assert_eq!(listed["Policies"]["Policy"].as_array().unwrap().len(), 0);
    // System policies are visible to both.
    let system = s
        .call(&b, "ListPolicies", &[("PolicyType", "System")])
        .await
        .ok();
    assert!(system["Policies"]["Policy"].as_array().unwrap().len() >= 5);
    // B may use the same name for its own policy.
    s.call(
        &b,
        "CreatePolicy",
        &[
            ("PolicyName", "secret-policy"),
            ("PolicyDocument", READ_USERS),
        ],
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_detach_on_one_node_is_seen_by_another_at_once() {
    let a = Server::start().await;
    let b = a.second_node().await;
    let root = a.account("acme").await;
    let alice = a.user_with_key(&root, "alice").await;
    a.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    // Node B compiles and caches alice's set.
    b.call(&alice, "ListUsers", &[]).await.ok();
    b.call(&alice, "ListUsers", &[]).await.ok();
    a.call(
        &root,
        "DetachPolicyFromUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    b.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    // And a nonce spent on one node is spent on the other.
    let raw = a.signed(&root, "ListUsers", &[], "cross-node-nonce");
    a.send(raw.clone()).await.ok();
    b.send(raw).await.err(400, "SignatureNonceUsed");
}

#[tokio::test]
async fn users_manage_their_own_keys_when_the_security_preference_allows() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    // RAM's default: users may not manage their own keys.
    s.call(&alice, "ListAccessKeys", &[])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageAccessKeys", "true")],
    )
    .await
    .ok();
    let own = s.call(&alice, "ListAccessKeys", &[]).await.ok();
    assert_eq!(own["AccessKeys"]["AccessKey"].as_array().unwrap().len(), 1);
    s.call(&alice, "CreateAccessKey", &[("UserName", "ALICE")])
        .await
        .ok();
    // Only her own: someone else's keys still need a policy.
    s.call(&alice, "CreateAccessKey", &[("UserName", "bob")])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageAccessKeys", "False")],
    )
    .await
    .ok();
    s.call(&alice, "ListAccessKeys", &[])
        .await
        .err(403, "NoPermission");
}

#[tokio::test]
async fn users_manage_their_own_mfa_by_default_and_no_one_elses() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    // Allowed (RAM's default AllowUserToManageMFADevices=true): she has no device.
    s.call(&alice, "GetUserMFAInfo", &[("UserName", "alice")])
        .await
        .err(404, "EntityNotExist.User.MFADevice");
    s.call(
        &alice,
        "CreateVirtualMFADevice",
        &[("VirtualMFADeviceName", "alice-phone")],
    )
    .await
    .ok();
    s.call(&alice, "GetUserMFAInfo", &[("UserName", "bob")])
        .await
        .err(403, "NoPermission");
    s.call(&alice, "UnbindMFADevice", &[("UserName", "bob")])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageMFADevices", "false")],
    )
    .await
    .ok();
    s.call(&alice, "GetUserMFAInfo", &[("UserName", "alice")])
        .await
        .err(403, "NoPermission");
}

#[tokio::test]
async fn a_key_disabled_on_one_node_is_refused_by_another_that_cached_it() {
    let a = Server::start().await;
    let b = a.second_node().await;
    let root = a.account("acme").await;
    let alice = a.user_with_key(&root, "alice").await;
    a.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("UserName", "alice"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    b.call(&alice, "ListUsers", &[]).await.ok();
    a.call(
        &root,
        "UpdateAccessKey",
        &[
            ("UserName", "alice"),
            ("UserAccessKeyId", &alice.key_id),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    b.call(&alice, "ListUsers", &[])
        .await
        .err(400, "InvalidAccessKeyId.Inactive");
    a.call(
        &root,
        "UpdateAccessKey",
        &[
            ("UserName", "alice"),
            ("UserAccessKeyId", &alice.key_id),
            ("Status", "Active"),
        ],
    )
    .await
    .ok();
    b.call(&alice, "ListUsers", &[]).await.ok();
    // A rename is seen too: self-service decisions use the name as of the request.
    a.call(
        &root,
        "UpdateUser",
        &[("UserName", "alice"), ("NewUserName", "alicia")],
    )
    .await
    .ok();
    let keys = b
        .call(&alice, "ListAccessKeys", &[("UserName", "alicia")])
        .await
        .ok();
    assert_eq!(keys["AccessKeys"]["AccessKey"].as_array().unwrap().len(), 1);
    a.call(
        &root,
        "DeleteAccessKey",
        &[("UserName", "alicia"), ("UserAccessKeyId", &alice.key_id)],
    )
    .await
    .ok();
    b.call(&alice, "ListUsers", &[])
        .await
        .err(404, "InvalidAccessKeyId.NotFound");
}
