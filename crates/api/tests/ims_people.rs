//! IMS 2019-08-15's "people" actions through the dispatcher, on a real SQLite store: the same
//! data as RAM 2015-05-01 (each side reads what the other wrote), users named by
//! `UserPrincipalName` in the account's domain, the table's authorization and RAM's
//! self-service rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use rampart_model::Clock as _;
use serde_json::Value;
use support::{Client, Reply, Server};

async fn ims(s: &Server, c: &Client, action: &str, params: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Version", "2019-08-15")];
    all.extend_from_slice(params);
    s.call(c, action, &all).await
}

fn upn(root: &Client, name: &str) -> String {
    format!("{name}@{}.onaliyun.com", root.account_id)
}

/// The TOTP code of a device's base32 seed at `secs` (RFC 6238: SHA-1, 6 digits, 30 s).
fn totp(seed: &str, secs: u64) -> String {
    let secret = totp_rs::Secret::Encoded(seed.to_owned())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, "t".into())
        .generate(secs)
}

#[tokio::test]
async fn password_policy_is_one_document_for_ram_and_ims() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let fresh = ims(&s, &root, "GetPasswordPolicy", &[]).await.ok();
    let p = &fresh["PasswordPolicy"];
    assert_eq!(p["MinimumPasswordLength"], 8);
    assert_eq!(p["InitialPasswordAge"], 14);
    assert_eq!(p["HardExpire"], false);
    assert_eq!(p.as_object().unwrap().len(), 13, "{p}");

    s.call(
        &root,
        "SetPasswordPolicy",
        &[("HardExpiry", "true"), ("MinimumPasswordLength", "12")],
    )
    .await
    .ok();
    let p = ims(&s, &root, "GetPasswordPolicy", &[]).await.ok();
    assert_eq!(p["PasswordPolicy"]["HardExpire"], true, "{p}");
    assert_eq!(p["PasswordPolicy"]["MinimumPasswordLength"], 12);

    let set = ims(
        &s,
        &root,
        "SetPasswordPolicy",
        &[
            ("HardExpire", "false"),
            ("InitialPasswordAge", "30"),
            ("PasswordNotContainUserName", "true"),
            ("MinimumPasswordDifferentCharacter", "5"),
            ("RequireNumbers", "True"),
        ],
    )
    .await
    .ok();
    let p = &set["PasswordPolicy"];
    assert_eq!(
        (
            &p["HardExpire"],
            &p["InitialPasswordAge"],
            &p["PasswordNotContainUserName"],
            &p["MinimumPasswordDifferentCharacter"],
            &p["MinimumPasswordLength"],
        ),
        (
            &Value::Bool(false),
            &Value::from(30),
            &Value::Bool(true),
            &Value::from(5),
            &Value::from(12),
        )
    );
    let ram = s.call(&root, "GetPasswordPolicy", &[]).await.ok();
    let r = &ram["PasswordPolicy"];
    assert_eq!(r["HardExpiry"], false);
    assert_eq!(r["RequireNumbers"], true);
    assert!(r.get("InitialPasswordAge").is_none(), "RAM's shape: {r}");

    ims(
        &s,
        &root,
        "SetPasswordPolicy",
        &[("InitialPasswordAge", "91")],
    )
    .await
    .err(400, "InvalidParameter.InitialPasswordAge");
    ims(
        &s,
        &root,
        "SetPasswordPolicy",
        &[("MinimumPasswordDifferentCharacter", "9")],
    )
    .await
    .err(400, "InvalidParameter.MinimumPasswordDifferentCharacter");

    // The new rules apply to passwords set through either API.
    s.call(&root, "CreateUser", &[("UserName", "carol")])
        .await
        .ok();
    for weak in ["aaaaaaaaaaa1", "xxcarolxx1234"] {
        s.call(
            &root,
            "CreateLoginProfile",
            &[("UserName", "carol"), ("Password", weak)],
        )
        .await
        .err(400, "InvalidParameter.Password.TooWeak");
    }
    ims(
        &s,
        &root,
        "CreateLoginProfile",
        &[
            ("UserPrincipalName", &upn(&root, "carol")),
            ("Password", "Xk4-pq9z!Lm2"),
        ],
    )
    .await
    .ok();
}

#[tokio::test]
async fn security_preference_is_one_document_for_ram_and_ims() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let fresh = ims(&s, &root, "GetSecurityPreference", &[]).await.ok();
    let p = &fresh["SecurityPreference"];
    assert_eq!(
        p["LoginProfilePreference"]["MFAOperationForLogin"],
        "independent"
    );
    assert_eq!(p["MaxIdleDays"]["MaxIdleDaysForUsers"], 730);
    assert_eq!(p["MFAPreference"]["AllowUserToManageMFADevices"], true);
    assert_eq!(
        p["PersonalInfoPreference"]["AllowUserToManagePersonalDingTalk"],
        true
    );

    s.call(
        &root,
        "SetSecurityPreference",
        &[
            ("AllowUserToManageAccessKeys", "true"),
            ("LoginSessionDuration", "3"),
        ],
    )
    .await
    .ok();
    let p = ims(&s, &root, "GetSecurityPreference", &[]).await.ok();
    let p = &p["SecurityPreference"];
    assert_eq!(
        p["AccessKeyPreference"]["AllowUserToManageAccessKeys"],
        true
    );
    assert_eq!(p["LoginProfilePreference"]["LoginSessionDuration"], 3);

    let set = ims(
        &s,
        &root,
        "SetSecurityPreference",
        &[
            ("EnforceMFAForLogin", "true"),
            ("MaxIdleDaysForAccessKeys", "90"),
            ("AllowUserToChangePassword", "false"),
            ("VerificationTypes", r#"["sms","email"]"#),
        ],
    )
    .await
    .ok();
    let p = &set["SecurityPreference"];
    assert_eq!(
        p["LoginProfilePreference"]["MFAOperationForLogin"],
        "mandatory"
    );
    assert_eq!(p["MaxIdleDays"]["MaxIdleDaysForAccessKeys"], 90);
    assert_eq!(
        p["VerificationPreference"]["VerificationTypes"],
        serde_json::json!(["sms", "email"])
    );
    let p = ims(
        &s,
        &root,
        "SetSecurityPreference",
        &[("MFAOperationForLogin", "adaptive")],
    )
    .await
    .ok();
    assert_eq!(
        p["SecurityPreference"]["LoginProfilePreference"]["MFAOperationForLogin"],
        "adaptive"
    );
    let ram = s.call(&root, "GetSecurityPreference", &[]).await.ok();
    let r = &ram["SecurityPreference"];
    assert_eq!(
        r["LoginProfilePreference"]["AllowUserToChangePassword"],
        false
    );
    assert_eq!(r["LoginProfilePreference"]["LoginSessionDuration"], 3);
    assert!(r.get("MaxIdleDays").is_none(), "RAM's shape: {r}");

    for (param, value) in [
        ("MFAOperationForLogin", "always"),
        ("MaxIdleDaysForUsers", "100"),
        ("OperationForRiskLogin", "x"),
        ("VerificationTypes", "[1]"),
        ("LoginNetworkMasks", "10.0.0.0/8;nonsense"),
    ] {
        let code = format!("InvalidParameter.{param}");
        ims(&s, &root, "SetSecurityPreference", &[(param, value)])
            .await
            .err(400, &code);
    }
}

#[tokio::test]
async fn login_profiles_by_upn_are_ram_login_profiles() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    let name = upn(&root, "alice");
    let created = ims(
        &s,
        &root,
        "CreateLoginProfile",
        &[
            ("UserPrincipalName", &name),
            ("Password", "first-Pass-1"),
            ("MFABindRequired", "true"),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    let p = &created["LoginProfile"];
    assert_eq!(p["UserPrincipalName"], name);
    assert_eq!(p["Status"], "Inactive");
    assert_eq!(p["PasswordStatus"], "InitialValid");
    assert_eq!(p["MFABindRequired"], true);
    assert_eq!(p["PasswordResetRequired"], false);
    assert_eq!(p["UpdateDate"], "2026-11-22T10:00:00Z");

    let ram = s
        .call(&root, "GetLoginProfile", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(ram["LoginProfile"]["UserName"], "alice");
    assert_eq!(ram["LoginProfile"]["MFABindRequired"], true);
    let stored = rampart_store::LoginProfileRepo::get_login_profile(
        &s.store,
        &root.account_id.parse().unwrap(),
        "alice",
    )
    .await
    .unwrap();
    assert!(!stored.active, "Status is on the store's LoginProfile");

    // The initial password expires after InitialPasswordAge (14 days by default).
    s.clock.advance(Duration::from_secs(15 * 86_400));
    let got = ims(
        &s,
        &root,
        "GetLoginProfile",
        &[("UserPrincipalName", &name)],
    )
    .await
    .ok();
    assert_eq!(got["LoginProfile"]["PasswordStatus"], "InitialExpired");
    assert_eq!(got["LoginProfile"]["Status"], "Inactive");

    // Re-enabling console logon makes the password an initial one again.
    let upd = ims(
        &s,
        &root,
        "UpdateLoginProfile",
        &[("UserPrincipalName", &name), ("Status", "Active")],
    )
    .await
    .ok();
    assert_eq!(upd["LoginProfile"]["Status"], "Active");
    assert_eq!(upd["LoginProfile"]["PasswordStatus"], "InitialValid");

    // The user's own password is no longer initial; reuse is refused as in RAM.
    ims(
        &s,
        &alice,
        "ChangePassword",
        &[
            ("OldPassword", "first-Pass-1"),
            ("NewPassword", "first-Pass-1"),
        ],
    )
    .await
    .err(400, "InvalidParameter.Password.Reused");
    ims(
        &s,
        &alice,
        "ChangePassword",
        &[
            ("OldPassword", "first-Pass-1"),
            ("NewPassword", "second-Pass-2"),
        ],
    )
    .await
    .ok();
    let got = ims(
        &s,
        &root,
        "GetLoginProfile",
        &[("UserPrincipalName", &name)],
    )
    .await
    .ok();
    assert_eq!(got["LoginProfile"]["PasswordStatus"], "NotInitial");
    s.call(
        &root,
        "SetSecurityPreference",
        &[("AllowUserToChangePassword", "false")],
    )
    .await
    .ok();
    ims(
        &s,
        &alice,
        "ChangePassword",
        &[
            ("OldPassword", "second-Pass-2"),
            ("NewPassword", "third-Pass-3"),
        ],
    )
    .await
    .err(403, "NoPermission");

    // A profile created through RAM is updated and deleted through IMS.
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    s.call(
        &root,
        "CreateLoginProfile",
        &[("UserName", "bob"), ("Password", "bobs-Pass-1")],
    )
    .await
    .ok();
    let bob = upn(&root, "BOB");
    let got = ims(&s, &root, "GetLoginProfile", &[("UserPrincipalName", &bob)])
        .await
        .ok();
    assert_eq!(got["LoginProfile"]["Status"], "Active");
    assert_eq!(got["LoginProfile"]["UserPrincipalName"], upn(&root, "bob"));
    ims(
        &s,
        &root,
        "DeleteLoginProfile",
        &[("UserPrincipalName", &bob)],
    )
    .await
    .ok();
    s.call(&root, "GetLoginProfile", &[("UserName", "bob")])
        .await
        .err(404, "EntityNotExist.User.LoginProfile");
    ims(&s, &root, "GetLoginProfile", &[("UserPrincipalName", &bob)])
        .await
        .err(404, "EntityNotExist.User.LoginProfile");
    ims(
        &s,
        &root,
        "UpdateLoginProfile",
        &[("UserPrincipalName", &name), ("Status", "Paused")],
    )
    .await
    .err(400, "InvalidParameter.Status");
}

#[tokio::test]
async fn upns_must_be_in_the_account_domain() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    let domain = format!("{}.onaliyun.com", root.account_id);
    let got = ims(&s, &root, "GetDefaultDomain", &[]).await.ok();
    assert_eq!(got["DefaultDomainName"], domain);

    let get = |upn: String| {
        let (s, root) = (&s, &root);
        async move { ims(s, root, "GetLoginProfile", &[("UserPrincipalName", &upn)]).await }
    };
    get("alice@other.onaliyun.com".into())
        .await
        .err(400, "InvalidParameter.UserPrincipalName.Domain");
    get("alice".into())
        .await
        .err(400, "InvalidParameter.UserPrincipalName.Format");
    get(format!("al ice@{domain}"))
        .await
        .err(400, "InvalidParameter.UserPrincipalName.InvalidChars");
    get(format!("ghost@{domain}"))
        .await
        .err(404, "EntityNotExist.User");
    get(format!("alice@{}", domain.to_uppercase()))
        .await
        .err(404, "EntityNotExist.User.LoginProfile");
    ims(&s, &root, "GetLoginProfile", &[])
        .await
        .err(400, "MissingParameter");

    // The default domain is the account alias's.
    let set = ims(
        &s,
        &root,
        "SetDefaultDomain",
        &[("DefaultDomainName", "acme-corp.onaliyun.com")],
    )
    .await
    .ok();
    assert_eq!(set["DefaultDomainName"], "acme-corp.onaliyun.com");
    let alias = s.call(&root, "GetAccountAlias", &[]).await.ok();
    assert_eq!(alias["AccountAlias"], "acme-corp");
    get(format!("alice@{domain}"))
        .await
        .err(400, "InvalidParameter.UserPrincipalName.Domain");
    get("alice@acme-corp.onaliyun.com".into())
        .await
        .err(404, "EntityNotExist.User.LoginProfile");
    ims(
        &s,
        &root,
        "SetDefaultDomain",
        &[("DefaultDomainName", "acme.example.com")],
    )
    .await
    .err(400, "InvalidParameter.DefaultDomainName.Format");
    ims(
        &s,
        &root,
        "SetDefaultDomain",
        &[("DefaultDomainName", &domain)],
    )
    .await
    .ok();
    let alias = s.call(&root, "GetAccountAlias", &[]).await.ok();
    assert_eq!(alias["AccountAlias"], "");
}

#[tokio::test]
async fn ram_users_need_policies_except_for_their_own_keys_and_mfa() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    s.call(&root, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    let (me, bob) = (upn(&root, "alice"), upn(&root, "bob"));
    for (action, params) in [
        ("GetPasswordPolicy", vec![]),
        (
            "SetSecurityPreference",
            vec![("AllowUserToManageAccessKeys", "true")],
        ),
        ("GetLoginProfile", vec![("UserPrincipalName", bob.as_str())]),
        (
            "CreateLoginProfile",
            vec![
                ("UserPrincipalName", me.as_str()),
                ("Password", "x-Pass-123"),
            ],
        ),
        ("GetDefaultDomain", vec![]),
        ("ListVirtualMFADevices", vec![]),
        ("GetUserMFAInfo", vec![("UserPrincipalName", bob.as_str())]),
        ("ListAccessKeys", vec![("UserPrincipalName", bob.as_str())]),
    ] {
        ims(&s, &alice, action, &params)
            .await
            .err(403, "NoPermission");
    }
    // Her own keys: refused by RAM's default preference, then allowed by it.
    ims(&s, &alice, "ListAccessKeys", &[])
        .await
        .err(403, "NoPermission");
    ims(
        &s,
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageAccessKeys", "true")],
    )
    .await
    .ok();
    let own = ims(&s, &alice, "ListAccessKeys", &[]).await.ok();
    let keys = own["AccessKeys"]["AccessKey"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["AccessKeyId"], alice.key_id.as_str());
    assert!(keys[0]["UpdateDate"].as_str().unwrap().ends_with('Z'));
    ims(&s, &alice, "ListAccessKeys", &[("UserPrincipalName", &me)])
        .await
        .ok();
    ims(
        &s,
        &alice,
        "CreateAccessKey",
        &[("UserPrincipalName", &bob)],
    )
    .await
    .err(403, "NoPermission");
    // Her own MFA: allowed by default, an empty UPN meaning herself.
    let info = ims(&s, &alice, "GetUserMFAInfo", &[]).await.ok();
    assert_eq!(info["IsMFAEnable"], false);
    ims(
        &s,
        &root,
        "SetSecurityPreference",
        &[("AllowUserToManageMFADevices", "false")],
    )
    .await
    .ok();
    ims(&s, &alice, "GetUserMFAInfo", &[])
        .await
        .err(403, "NoPermission");

    // A policy opens the rest.
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ("UserName", "alice"),
        ],
    )
    .await
    .ok();
    ims(&s, &alice, "GetPasswordPolicy", &[]).await.ok();
    ims(&s, &alice, "GetUserMFAInfo", &[("UserPrincipalName", &bob)])
        .await
        .ok();
}

#[tokio::test]
async fn virtual_mfa_and_access_keys_through_ims() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    let name = upn(&root, "alice");
    let mut serials = Vec::new();
    for device in ["d-2", "d-1", "d-3"] {
        let d = ims(
            &s,
            &root,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", device)],
        )
        .await
        .ok();
        serials.push((
            d["VirtualMFADevice"]["SerialNumber"]
                .as_str()
                .unwrap()
                .to_owned(),
            d["VirtualMFADevice"]["Base32StringSeed"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    let (serial, seed) = serials[1].clone();
    assert_eq!(serial, format!("acs:ram::{}:mfa/d-1", root.account_id));
    let now = u64::try_from(s.clock.now().unix_secs()).unwrap();
    let bind = |c1: String, c2: String| {
        let (s, root, name, serial) = (&s, &root, name.clone(), serial.clone());
        async move {
            ims(
                s,
                root,
                "BindMFADevice",
                &[
                    ("UserPrincipalName", &name),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", &c1),
                    ("AuthenticationCode2", &c2),
                ],
            )
            .await
        }
    };
    bind(totp(&seed, now), totp(&seed, now - 30))
        .await
        .err(403, "CheckAuthenticationCodeFail");
    bind(totp(&seed, now - 30), totp(&seed, now)).await.ok();

    let info = ims(&s, &root, "GetUserMFAInfo", &[("UserPrincipalName", &name)])
        .await
        .ok();
    assert_eq!(info["IsMFAEnable"], true);
    assert_eq!(info["MFADevice"]["SerialNumber"], serial);
    assert_eq!(info["MFADevice"]["Type"], "VMFA");
    let ram = s
        .call(&root, "GetUserMFAInfo", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(ram["MFADevice"]["SerialNumber"], serial);

    // Paged, in name order, the bound device naming its user by UPN.
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let mut params = vec![("MaxItems", "2")];
        if !marker.is_empty() {
            params.push(("Marker", &marker));
        }
        let page = ims(&s, &root, "ListVirtualMFADevices", &params).await.ok();
        for d in page["VirtualMFADevices"]["VirtualMFADevice"]
            .as_array()
            .unwrap()
        {
            seen.push(d.clone());
        }
        if page["IsTruncated"] != true {
            break;
        }
        marker = page["Marker"].as_str().unwrap().to_owned();
    }
    let names: Vec<&str> = seen
        .iter()
        .map(|d| {
            d["SerialNumber"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["d-1", "d-2", "d-3"]);
    assert_eq!(seen[0]["User"]["UserPrincipalName"], name);
    assert!(seen[0]["ActivateDate"].as_str().unwrap().ends_with('Z'));
    assert!(seen[1].get("User").is_none());

    let unbound = ims(
        &s,
        &root,
        "UnbindMFADevice",
        &[("UserPrincipalName", &name)],
    )
    .await
    .ok();
    assert_eq!(unbound["MFADevice"]["SerialNumber"], serial);
    ims(
        &s,
        &root,
        "DeleteVirtualMFADevice",
        &[("SerialNumber", &serial)],
    )
    .await
    .ok();

    // AccessKeys by UPN; an empty UPN is the root identity's own.
    let created = ims(
        &s,
        &root,
        "CreateAccessKey",
        &[("UserPrincipalName", &name)],
    )
    .await
    .ok();
    let id = created["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["AccessKey"]["Status"], "Active");
    assert!(
        created["AccessKey"]["AccessKeySecret"]
            .as_str()
            .unwrap()
            .len()
            >= 30
    );
    ims(
        &s,
        &root,
        "UpdateAccessKey",
        &[
            ("UserPrincipalName", &name),
            ("UserAccessKeyId", &id),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    let ram = s
        .call(&root, "ListAccessKeys", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(ram["AccessKeys"]["AccessKey"][0]["Status"], "Inactive");
    let used = ims(
        &s,
        &root,
        "GetAccessKeyLastUsed",
        &[("UserPrincipalName", &name), ("UserAccessKeyId", &id)],
    )
    .await
    .ok();
    assert_eq!(used["AccessKeyLastUsed"]["LastUsedDate"], "");
    let mine = ims(&s, &root, "ListAccessKeys", &[]).await.ok();
    let mine = mine["AccessKeys"]["AccessKey"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["AccessKeyId"], root.key_id.as_str());
    // Another owner's key is not found under this one.
    ims(&s, &root, "DeleteAccessKey", &[("UserAccessKeyId", &id)])
        .await
        .err(404, "EntityNotExist.User.AccessKey");
    ims(
        &s,
        &root,
        "DeleteAccessKey",
        &[("UserPrincipalName", &name), ("UserAccessKeyId", &id)],
    )
    .await
    .ok();
    ims(
        &s,
        &root,
        "ListAccessKeys",
        &[("UserPrincipalName", "alice@elsewhere.onaliyun.com")],
    )
    .await
    .err(400, "InvalidParameter.UserPrincipalName.Domain");
}
