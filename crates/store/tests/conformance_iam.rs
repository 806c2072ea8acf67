//! The storage conformance suite for groups, roles, policies, attachments, login profiles,
//! settings, MFA devices and tags: every case on SQLite and on PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_iam`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::sync::Arc;

use rampart_model::{AccountId, MasterKey, NewAccessKey, PolicyType, Timestamp};
use rampart_store::{
    Entity, GroupUpdate, LoginProfileUpdate, Marker, NewAccount, NewGroup, NewLoginProfile,
    NewPolicy, NewRole, NewUser, Page, PolicyRef, PrincipalKey, PrincipalRef, Quota, RoleUpdate,
    Store, StoreError, UserUpdate,
};
use support::Backend;

conformance!(
    concurrent_creates_of_one_name_have_one_winner,
    group_membership_rules,
    delete_conflicts_name_their_blocker,
    policy_versions_limit_rotation_and_default,
    attachments_effective_policies_and_epoch,
    custom_policies_never_cross_accounts,
    system_policies_are_shared_and_immutable,
    listings_paginate_in_name_order,
    login_profiles_settings_and_alias,
    mfa_devices_bind_once,
    tags_are_all_or_nothing_and_limited,
    epoch_moves_on_every_permission_change_and_is_shared,
    system_and_custom_attachment_limits_are_separate,
    limits_hold_under_concurrency,
    attach_races_policy_deletion_safely,
    effective_policies_are_per_principal,
    role_session_state_follows_the_role_id,
);

fn t0() -> Timestamp {
    Timestamp::parse("2024-01-01T12:00:00Z").unwrap()
}

async fn account(store: &dyn Store, name: &str) -> AccountId {
    let master = MasterKey::generate(1).unwrap();
    let (key, _) = NewAccessKey::generate(&master).unwrap();
    store
        .create_account(NewAccount { name: name.into() }, key, t0())
        .await
        .unwrap()
        .0
        .id
}

async fn user(store: &dyn Store, account: &AccountId, name: &str) {
    store
        .create_user(
            account,
            NewUser {
                user_name: name.into(),
                ..NewUser::default()
            },
            t0(),
        )
        .await
        .unwrap();
}

fn group(name: &str) -> NewGroup {
    NewGroup {
        group_name: name.into(),
        comments: String::new(),
    }
}

fn role(name: &str) -> NewRole {
    NewRole {
        role_name: name.into(),
        description: String::new(),
        assume_role_policy_document: "{}".into(),
        max_session_duration: 3600,
        allow_console_login: false,
        tags: Vec::new(),
    }
}

fn policy(name: &str, doc: &str) -> NewPolicy {
    NewPolicy {
        policy_name: name.into(),
        description: String::new(),
        document: doc.into(),
        tags: Vec::new(),
    }
}

fn custom(name: &str) -> PolicyRef<'_> {
    PolicyRef {
        policy_type: PolicyType::Custom,
        policy_name: name,
    }
}

fn system(name: &str) -> PolicyRef<'_> {
    PolicyRef {
        policy_type: PolicyType::System,
        policy_name: name,
    }
}

async fn concurrent_creates_of_one_name_have_one_winner(b: &Backend) {
    let acct = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let other: Arc<dyn Store> = Arc::new(b.reopen().await);
    for round in 0..5 {
        let name = format!("Same-{round}");
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
        let (a1, a2) = (acct.clone(), acct.clone());
        let (n1, n2) = (name.clone(), name.to_lowercase());
        let g1 = tokio::spawn(async move { s1.create_group(&a1, group(&n1), t0()).await });
        let g2 = tokio::spawn(async move { s2.create_group(&a2, group(&n2), t0()).await });
        let results = [g1.await.unwrap(), g2.await.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(results
            .iter()
            .any(|r| r == &Err(StoreError::AlreadyExists(Entity::Group))));

        let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
        let (a1, a2) = (acct.clone(), acct.clone());
        let (n1, n2) = (name.clone(), name.clone());
        let r1 = tokio::spawn(async move { s1.create_role(&a1, role(&n1), t0()).await });
        let r2 = tokio::spawn(async move { s2.create_role(&a2, role(&n2), t0()).await });
        let results = [r1.await.unwrap(), r2.await.unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);

        let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
        let (a1, a2) = (acct.clone(), acct.clone());
        let (n1, n2) = (name.clone(), name.clone());
        let p1 = tokio::spawn(async move { s1.create_policy(&a1, policy(&n1, "{}"), t0()).await });
        let p2 = tokio::spawn(async move { s2.create_policy(&a2, policy(&n2, "{}"), t0()).await });
        let results = [p1.await.unwrap(), p2.await.unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    }
}

async fn group_membership_rules(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    s.create_group(&acct, group("devs"), t0()).await.unwrap();
    s.add_user_to_group(&acct, "DEVS", "Alice", t0())
        .await
        .unwrap();
    assert_eq!(
        s.add_user_to_group(&acct, "devs", "alice", t0()).await,
        Err(StoreError::AlreadyExists(Entity::UserGroup))
    );
    assert_eq!(
        s.add_user_to_group(&acct, "nope", "alice", t0()).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        s.add_user_to_group(&acct, "devs", "nobody", t0()).await,
        Err(StoreError::NotFound(Entity::User))
    );
    let groups = s.list_groups_for_user(&acct, "alice").await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].0.group_name, "devs");
    let members = s
        .list_users_for_group(&acct, "devs", &Page::default())
        .await
        .unwrap();
    assert_eq!(members.items[0].0.user_name, "alice");
    // The quota of groups per user.
    for i in 0..9 {
        let g = format!("g{i}");
        s.create_group(&acct, group(&g), t0()).await.unwrap();
        s.add_user_to_group(&acct, &g, "alice", t0()).await.unwrap();
    }
    s.create_group(&acct, group("eleventh"), t0())
        .await
        .unwrap();
    assert!(matches!(
        s.add_user_to_group(&acct, "eleventh", "alice", t0()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::GroupsPerUser,
            limit: 10
        })
    ));
    s.remove_user_from_group(&acct, "devs", "alice")
        .await
        .unwrap();
    assert_eq!(
        s.remove_user_from_group(&acct, "devs", "alice").await,
        Err(StoreError::NotFound(Entity::UserGroup))
    );
    // Renames keep memberships (they are by id) and refuse taken names.
    let renamed = s
        .update_group(
            &acct,
            "g0",
            GroupUpdate {
                new_group_name: Some("zero".into()),
                new_comments: Some("c".into()),
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        (renamed.group_name.as_str(), renamed.comments.as_str()),
        ("zero", "c")
    );
    assert_eq!(
        s.list_users_for_group(&acct, "zero", &Page::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.update_group(
            &acct,
            "zero",
            GroupUpdate {
                new_group_name: Some("G1".into()),
                new_comments: None
            },
            t0()
        )
        .await,
        Err(StoreError::AlreadyExists(Entity::Group))
    );
}

async fn delete_conflicts_name_their_blocker(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    s.create_group(&acct, group("devs"), t0()).await.unwrap();
    s.create_role(&acct, role("ops"), t0()).await.unwrap();
    s.create_policy(&acct, policy("p", "{}"), t0())
        .await
        .unwrap();
    s.add_user_to_group(&acct, "devs", "alice", t0())
        .await
        .unwrap();
    let conflict = |entity, blocker| Err(StoreError::DeleteConflict { entity, blocker });
    assert_eq!(
        s.delete_user(&acct, "alice").await,
        conflict(Entity::User, Entity::Group)
    );
    assert_eq!(
        s.delete_group(&acct, "devs").await,
        conflict(Entity::Group, Entity::User)
    );
    s.remove_user_from_group(&acct, "devs", "alice")
        .await
        .unwrap();
    for p in [
        PrincipalRef::User("alice"),
        PrincipalRef::Group("devs"),
        PrincipalRef::Role("ops"),
    ] {
        s.attach_policy(&acct, p, custom("p"), None, t0())
            .await
            .unwrap();
    }
    assert_eq!(
        s.delete_user(&acct, "alice").await,
        conflict(Entity::User, Entity::Policy)
    );
    assert_eq!(
        s.delete_group(&acct, "devs").await,
        conflict(Entity::Group, Entity::Policy)
    );
    assert_eq!(
        s.delete_role(&acct, "ops").await,
        conflict(Entity::Role, Entity::Policy)
    );
    assert_eq!(
        s.delete_policy(&acct, "p", true).await,
        conflict(Entity::Policy, Entity::User)
    );
    s.detach_policy(&acct, PrincipalRef::User("alice"), custom("p"), None)
        .await
        .unwrap();
    assert_eq!(
        s.delete_policy(&acct, "p", true).await,
        conflict(Entity::Policy, Entity::Group)
    );
    s.detach_policy(&acct, PrincipalRef::Group("devs"), custom("p"), None)
        .await
        .unwrap();
    assert_eq!(
        s.delete_policy(&acct, "p", true).await,
        conflict(Entity::Policy, Entity::Role)
    );
    s.detach_policy(&acct, PrincipalRef::Role("ops"), custom("p"), None)
        .await
        .unwrap();
    // Login profile and MFA block a user's deletion too.
    let profile = NewLoginProfile {
        password_hash: "$argon2id$x".into(),
        password_reset_required: false,
        mfa_bind_required: false,
        active: true,
    };
    s.create_login_profile(&acct, "alice", profile, t0())
        .await
        .unwrap();
    assert_eq!(
        s.delete_user(&acct, "alice").await,
        conflict(Entity::User, Entity::LoginProfile)
    );
    s.delete_login_profile(&acct, "alice").await.unwrap();
    s.create_virtual_mfa_device(&acct, "phone", vec![1, 2, 3], t0())
        .await
        .unwrap();
    s.bind_mfa_device(&acct, "alice", "phone", t0())
        .await
        .unwrap();
    assert_eq!(
        s.delete_user(&acct, "alice").await,
        conflict(Entity::User, Entity::UserMfaDevice)
    );
    s.unbind_mfa_device(&acct, "alice").await.unwrap();
    s.delete_user(&acct, "alice").await.unwrap();
    s.delete_group(&acct, "devs").await.unwrap();
    s.delete_role(&acct, "ops").await.unwrap();
    s.delete_policy(&acct, "p", false).await.unwrap();
    assert_eq!(
        s.get_policy(&acct, custom("p")).await.map(|_| ()),
        Err(StoreError::NotFound(Entity::Policy))
    );
}

async fn policy_versions_limit_rotation_and_default(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    s.create_policy(&acct, policy("p", "doc1"), t0())
        .await
        .unwrap();
    for i in 2..=5 {
        let v = s
            .create_policy_version(&acct, "p", &format!("doc{i}"), false, false, t0())
            .await
            .unwrap();
        assert_eq!(v.version_id, format!("v{i}"));
        assert!(!v.is_default);
    }
    assert!(matches!(
        s.create_policy_version(&acct, "p", "doc6", false, false, t0())
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::VersionsPerPolicy,
            limit: 5
        })
    ));
    // Rotation deletes the oldest non-default version (v2; v1 is the default).
    let v6 = s
        .create_policy_version(&acct, "p", "doc6", true, true, t0())
        .await
        .unwrap();
    assert_eq!((v6.version_id.as_str(), v6.is_default), ("v6", true));
    let ids: Vec<String> = s
        .list_policy_versions(&acct, custom("p"))
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    assert_eq!(ids, ["v6", "v5", "v4", "v3", "v1"]);
    let (p, default) = s.get_policy(&acct, custom("p")).await.unwrap();
    assert_eq!(
        (p.default_version.as_str(), default.document.as_str()),
        ("v6", "doc6")
    );
    assert_eq!(
        s.delete_policy_version(&acct, "p", "v6").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::Policy,
            blocker: Entity::PolicyDefaultVersion
        })
    );
    s.delete_policy_version(&acct, "p", "v1").await.unwrap();
    assert_eq!(
        s.get_policy_version(&acct, custom("p"), "v1").await,
        Err(StoreError::NotFound(Entity::PolicyVersion))
    );
    // Ids are never reused.
    let next = s
        .create_policy_version(&acct, "p", "doc7", false, false, t0())
        .await
        .unwrap();
    assert_eq!(next.version_id, "v7");
    assert_eq!(
        s.set_default_policy_version(&acct, "p", "v2", t0()).await,
        Err(StoreError::NotFound(Entity::PolicyVersion))
    );
    assert_eq!(
        s.delete_policy(&acct, "p", false).await,
        Err(StoreError::DeleteConflict {
            entity: Entity::Policy,
            blocker: Entity::PolicyVersion
        })
    );
    s.delete_policy(&acct, "p", true).await.unwrap();
}

async fn attachments_effective_policies_and_epoch(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    let alice_id = s
        .get_user(&acct, "alice")
        .await
        .unwrap()
        .user_id
        .to_string();
    let key = PrincipalKey::User(alice_id);
    s.create_group(&acct, group("devs"), t0()).await.unwrap();
    s.create_policy(&acct, policy("direct", "D1"), t0())
        .await
        .unwrap();
    s.create_policy(&acct, policy("via-group", "G1"), t0())
        .await
        .unwrap();

    let mut epoch = s.authz_epoch(&acct).await.unwrap();
    // Every change below must move the epoch; reads must not.
    macro_rules! bumps {
        ($e:expr) => {{
            $e.await.unwrap();
            let now = s.authz_epoch(&acct).await.unwrap();
            assert!(now > epoch, "{} did not bump the epoch", stringify!($e));
            epoch = now;
        }};
    }
    bumps!(s.attach_policy(
        &acct,
        PrincipalRef::User("alice"),
        custom("direct"),
        None,
        t0()
    ));
    bumps!(s.attach_policy(
        &acct,
        PrincipalRef::Group("devs"),
        custom("via-group"),
        None,
        t0()
    ));
    s.effective_policies(&acct, &key).await.unwrap();
    s.list_policies_for(&acct, PrincipalRef::User("alice"))
        .await
        .unwrap();
    assert_eq!(
        s.authz_epoch(&acct).await.unwrap(),
        epoch,
        "reads do not bump"
    );

    let names = |v: Vec<rampart_store::EffectivePolicy>| {
        v.into_iter()
            .map(|p| (p.policy_name, p.document, p.via_group))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.effective_policies(&acct, &key).await.unwrap()),
        [("direct".to_owned(), "D1".to_owned(), None)]
    );
    bumps!(s.add_user_to_group(&acct, "devs", "alice", t0()));
    let mut eff = names(s.effective_policies(&acct, &key).await.unwrap());
    eff.sort();
    assert_eq!(
        eff,
        [
            ("direct".to_owned(), "D1".to_owned(), None),
            (
                "via-group".to_owned(),
                "G1".to_owned(),
                Some("devs".to_owned())
            ),
        ]
    );
    bumps!(s.create_policy_version(&acct, "direct", "D2", true, false, t0()));
    assert!(
        names(s.effective_policies(&acct, &key).await.unwrap()).contains(&(
            "direct".to_owned(),
            "D2".to_owned(),
            None
        ))
    );
    bumps!(s.set_default_policy_version(&acct, "direct", "v1", t0()));
    bumps!(s.remove_user_from_group(&acct, "devs", "alice"));
    bumps!(s.detach_policy(&acct, PrincipalRef::User("alice"), custom("direct"), None));
    assert!(s.effective_policies(&acct, &key).await.unwrap().is_empty());
    assert_eq!(
        s.detach_policy(&acct, PrincipalRef::User("alice"), custom("direct"), None)
            .await,
        Err(StoreError::NotFound(Entity::UserPolicy))
    );
    // Resource-group scope is a separate attachment.
    s.attach_policy(
        &acct,
        PrincipalRef::User("alice"),
        custom("direct"),
        Some("rg-1"),
        t0(),
    )
    .await
    .unwrap();
    let eff = s.effective_policies(&acct, &key).await.unwrap();
    assert_eq!(eff[0].resource_group_id.as_deref(), Some("rg-1"));
    s.create_role(&acct, role("ops"), t0()).await.unwrap();
    bumps!(s.update_role(
        &acct,
        "ops",
        RoleUpdate {
            new_assume_role_policy_document: Some("{\"x\":1}".into()),
            ..RoleUpdate::default()
        },
        t0()
    ));
    bumps!(s.delete_role(&acct, "ops"));
    assert!(epoch >= 8, "eight changes, eight bumps at least");
    // The limit of custom policies attached to one principal.
    for i in 0..10 {
        let n = format!("q{i}");
        s.create_policy(&acct, policy(&n, "{}"), t0())
            .await
            .unwrap();
        let r = s
            .attach_policy(&acct, PrincipalRef::Group("devs"), custom(&n), None, t0())
            .await;
        if i < 9 {
            r.unwrap();
        } else {
            assert!(matches!(
                r,
                Err(StoreError::LimitExceeded {
                    quota: Quota::CustomPoliciesPerPrincipal(_),
                    limit: 10
                })
            ));
        }
    }
}

async fn custom_policies_never_cross_accounts(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    s.create_policy(&a, policy("mine", "A"), t0())
        .await
        .unwrap();
    user(s, &other, "bob").await;
    s.create_group(&other, group("g"), t0()).await.unwrap();
    assert_eq!(
        s.attach_policy(
            &other,
            PrincipalRef::User("bob"),
            custom("mine"),
            None,
            t0()
        )
        .await,
        Err(StoreError::NotFound(Entity::Policy))
    );
    user(s, &a, "alice").await;
    assert_eq!(
        s.add_user_to_group(&other, "g", "alice", t0()).await,
        Err(StoreError::NotFound(Entity::User))
    );
    assert_eq!(
        s.get_policy(&other, custom("mine")).await.map(|_| ()),
        Err(StoreError::NotFound(Entity::Policy))
    );
    let listed = s
        .list_policies(&other, Some(PolicyType::Custom), &Page::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    // The same name is free in the other account; the two stay distinct.
    s.create_policy(&other, policy("mine", "B"), t0())
        .await
        .unwrap();
    assert_eq!(
        s.get_policy(&a, custom("mine")).await.unwrap().1.document,
        "A"
    );
    assert_eq!(
        s.get_policy(&other, custom("mine"))
            .await
            .unwrap()
            .1
            .document,
        "B"
    );
    // Epochs are per account.
    let before = s.authz_epoch(&a).await.unwrap();
    s.attach_policy(
        &other,
        PrincipalRef::User("bob"),
        custom("mine"),
        None,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(s.authz_epoch(&a).await.unwrap(), before);
}

async fn system_policies_are_shared_and_immutable(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    s.upsert_system_policy("AdministratorAccess", "all", "ADMIN1", t0())
        .await
        .unwrap();
    s.upsert_system_policy("AdministratorAccess", "all", "ADMIN1", t0())
        .await
        .unwrap();
    for acct in [&a, &other] {
        let (p, v) = s
            .get_policy(acct, system("AdministratorAccess"))
            .await
            .unwrap();
        assert_eq!(
            (p.policy_type, v.document.as_str()),
            (PolicyType::System, "ADMIN1")
        );
    }
    user(s, &a, "alice").await;
    s.attach_policy(
        &a,
        PrincipalRef::User("alice"),
        system("AdministratorAccess"),
        None,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_policy(&a, system("AdministratorAccess"))
            .await
            .unwrap()
            .0
            .attachment_count,
        1
    );
    assert_eq!(
        s.get_policy(&other, system("AdministratorAccess"))
            .await
            .unwrap()
            .0
            .attachment_count,
        0,
        "counts are per account"
    );
    // A changed document reaches every account's epoch.
    let (ea, eb) = (
        s.authz_epoch(&a).await.unwrap(),
        s.authz_epoch(&other).await.unwrap(),
    );
    s.upsert_system_policy("AdministratorAccess", "all", "ADMIN2", t0())
        .await
        .unwrap();
    assert!(s.authz_epoch(&a).await.unwrap() > ea);
    assert!(s.authz_epoch(&other).await.unwrap() > eb);
    // No custom-policy operation reaches a system policy, and its name is taken.
    assert_eq!(
        s.create_policy_version(&a, "AdministratorAccess", "x", true, false, t0())
            .await,
        Err(StoreError::NotFound(Entity::Policy))
    );
    assert_eq!(
        s.delete_policy(&a, "AdministratorAccess", true).await,
        Err(StoreError::NotFound(Entity::Policy))
    );
    assert_eq!(
        s.create_policy(&a, policy("administratoraccess", "x"), t0())
            .await
            .map(|_| ()),
        Err(StoreError::AlreadyExists(Entity::Policy))
    );
}

async fn listings_paginate_in_name_order(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    s.upsert_system_policy("SysB", "", "{}", t0())
        .await
        .unwrap();
    s.upsert_system_policy("SysA", "", "{}", t0())
        .await
        .unwrap();
    for n in ["c", "A", "b"] {
        s.create_group(&acct, group(n), t0()).await.unwrap();
        s.create_role(&acct, role(n), t0()).await.unwrap();
        s.create_policy(&acct, policy(n, "{}"), t0()).await.unwrap();
    }
    let mut names = Vec::new();
    let mut page = Page::first(2);
    loop {
        let l = s.list_groups(&acct, &page).await.unwrap();
        names.extend(l.items.iter().map(|g| g.group_name.clone()));
        match l.marker {
            Some(m) => page = Page::new(Some(Marker::parse(&m.encode()).unwrap()), 2),
            None => break,
        }
    }
    assert_eq!(names, ["A", "b", "c"]);
    let roles = s.list_roles(&acct, &Page::first(2)).await.unwrap();
    assert_eq!(roles.items.len(), 2);
    assert!(roles.is_truncated());
    // System first, then custom, each by name, across pages.
    let mut all = Vec::new();
    let mut page = Page::first(2);
    loop {
        let l = s.list_policies(&acct, None, &page).await.unwrap();
        all.extend(
            l.items
                .iter()
                .map(|p| (p.policy_type, p.policy_name.clone())),
        );
        match l.marker {
            Some(m) => page = Page::new(Some(m), 2),
            None => break,
        }
    }
    let expected: Vec<(PolicyType, String)> = [
        (PolicyType::System, "SysA"),
        (PolicyType::System, "SysB"),
        (PolicyType::Custom, "A"),
        (PolicyType::Custom, "b"),
        (PolicyType::Custom, "c"),
    ]
    .into_iter()
    .map(|(t, n)| (t, n.to_owned()))
    .collect();
    assert_eq!(all, expected);
}

async fn login_profiles_settings_and_alias(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    user(s, &a, "alice").await;
    let profile = NewLoginProfile {
        password_hash: "$argon2id$v=19$h1".into(),
        password_reset_required: true,
        mfa_bind_required: false,
        active: true,
    };
    s.create_login_profile(&a, "alice", profile.clone(), t0())
        .await
        .unwrap();
    assert_eq!(
        s.create_login_profile(&a, "alice", profile.clone(), t0())
            .await
            .map(|_| ()),
        Err(StoreError::AlreadyExists(Entity::LoginProfile))
    );
    assert_eq!(
        s.create_login_profile(&other, "alice", profile, t0())
            .await
            .map(|_| ()),
        Err(StoreError::NotFound(Entity::User))
    );
    let updated = s
        .update_login_profile(
            &a,
            "alice",
            LoginProfileUpdate {
                password_hash: Some("$argon2id$v=19$h2".into()),
                password_reset_required: Some(false),
                mfa_bind_required: None,
                ..LoginProfileUpdate::default()
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(updated.password_hash, "$argon2id$v=19$h2");
    assert!(!updated.password_reset_required);

    assert_eq!(s.get_setting(&a, "password_policy").await.unwrap(), None);
    s.put_setting(&a, "password_policy", "{\"x\":1}")
        .await
        .unwrap();
    s.put_setting(&a, "password_policy", "{\"x\":2}")
        .await
        .unwrap();
    assert_eq!(
        s.get_setting(&a, "password_policy")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"x\":2}")
    );
    assert_eq!(
        s.get_setting(&other, "password_policy").await.unwrap(),
        None
    );

    s.set_account_alias(&a, "acme-corp").await.unwrap();
    assert_eq!(
        s.set_account_alias(&other, "acme-corp").await,
        Err(StoreError::AlreadyExists(Entity::AccountAlias))
    );
    assert_eq!(s.find_account_by_alias("acme-corp").await.unwrap(), a);
    s.clear_account_alias(&a).await.unwrap();
    assert_eq!(s.get_account_alias(&a).await.unwrap(), None);
    s.set_account_alias(&other, "acme-corp").await.unwrap();
}

async fn mfa_devices_bind_once(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    user(s, &acct, "bob").await;
    s.create_virtual_mfa_device(&acct, "one", vec![1], t0())
        .await
        .unwrap();
    s.create_virtual_mfa_device(&acct, "two", vec![2], t0())
        .await
        .unwrap();
    assert_eq!(
        s.create_virtual_mfa_device(&acct, "ONE", vec![3], t0())
            .await
            .map(|_| ()),
        Err(StoreError::AlreadyExists(Entity::VirtualMfaDevice))
    );
    s.bind_mfa_device(&acct, "alice", "one", t0())
        .await
        .unwrap();
    assert_eq!(
        s.bind_mfa_device(&acct, "alice", "two", t0()).await,
        Err(StoreError::AlreadyExists(Entity::UserMfaDevice))
    );
    assert_eq!(
        s.bind_mfa_device(&acct, "bob", "one", t0()).await,
        Err(StoreError::AlreadyExists(Entity::VirtualMfaDeviceUser))
    );
    assert_eq!(
        s.delete_virtual_mfa_device(&acct, "one").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::VirtualMfaDevice,
            blocker: Entity::User
        })
    );
    let d = s.get_user_mfa_device(&acct, "alice").await.unwrap();
    assert_eq!(d.serial_number, format!("acs:ram::{acct}:mfa/one"));
    assert_eq!(d.sealed_seed, vec![1]);
    let listed = s.list_virtual_mfa_devices(&acct).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].user.as_ref().map(|u| u.1.as_str()), Some("alice"));
    s.unbind_mfa_device(&acct, "alice").await.unwrap();
    assert_eq!(
        s.unbind_mfa_device(&acct, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    );
    s.delete_virtual_mfa_device(&acct, "one").await.unwrap();
}

async fn tags_are_all_or_nothing_and_limited(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    let names = vec!["r1".to_owned(), "r2".to_owned()];
    let tags: Vec<(String, String)> = (0..19).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    s.tag_resources(&acct, "role", &names[..1], &tags)
        .await
        .unwrap();
    // r1 would get a 21st tag; r2 would be fine: neither changes.
    let two = vec![
        ("x".to_owned(), "1".to_owned()),
        ("y".to_owned(), "2".to_owned()),
    ];
    assert!(matches!(
        s.tag_resources(&acct, "role", &names, &two).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::TagsPerResource,
            ..
        })
    ));
    assert!(s.tags_for(&acct, "role", "r2").await.unwrap().is_empty());
    assert_eq!(s.tags_for(&acct, "role", "r1").await.unwrap().len(), 19);
    // Overwrite keeps the count.
    s.tag_resources(&acct, "role", &names[..1], &[("k0".into(), "new".into())])
        .await
        .unwrap();
    let t = s.tags_for(&acct, "role", "R1").await.unwrap();
    assert_eq!(t.len(), 19);
    assert!(t.contains(&("k0".to_owned(), "new".to_owned())));
    // Listing pages through every tag in (resource, key) order, with filters.
    let mut seen = 0;
    let mut page = Page::first(7);
    loop {
        let l = s
            .list_tag_resources(&acct, "role", None, None, &page)
            .await
            .unwrap();
        seen += l.items.len();
        match l.marker {
            Some(m) => page = Page::new(Some(m), 7),
            None => break,
        }
    }
    assert_eq!(seen, 19);
    let only = s
        .list_tag_resources(
            &acct,
            "role",
            Some(&names[..1]),
            Some(&["k3".to_owned()]),
            &Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(only.items.len(), 1);
    s.untag_resources(&acct, "role", &names[..1], Some(&["k0".to_owned()]))
        .await
        .unwrap();
    assert_eq!(s.tags_for(&acct, "role", "r1").await.unwrap().len(), 18);
    s.untag_resources(&acct, "role", &names[..1], None)
        .await
        .unwrap();
    assert!(s.tags_for(&acct, "role", "r1").await.unwrap().is_empty());
    // A role is created with its tags in one transaction: too many tags, and neither exists.
    let mut tagged = role("tagged");
    tagged.tags = (0..21).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(matches!(
        s.create_role(&acct, tagged.clone(), t0()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::TagsPerResource,
            ..
        })
    ));
    assert_eq!(
        s.get_role(&acct, "tagged").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::Role))
    );
    tagged.tags.truncate(2);
    s.create_role(&acct, tagged, t0()).await.unwrap();
    let many = s
        .tags_for_names(&acct, "role", &["TAGGED".to_owned(), "r2".to_owned()])
        .await
        .unwrap();
    assert_eq!(many.get("tagged").map(Vec::len), Some(2));
    assert!(!many.contains_key("r2"), "no tags, no entry");
    assert!(s
        .tags_for_names(&acct, "role", &[])
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------
// Authorization epoch, limits and races

async fn epoch_moves_on_every_permission_change_and_is_shared(b: &Backend) {
    let s: &dyn Store = &b.store;
    // Another server process on the same database.
    let other = b.reopen().await;
    let o: &dyn Store = &other;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    user(s, &acct, "bob").await;
    s.create_group(&acct, group("devs"), t0()).await.unwrap();
    s.create_role(&acct, role("ops"), t0()).await.unwrap();
    s.create_policy(&acct, policy("p", "v1"), t0())
        .await
        .unwrap();
    s.upsert_system_policy("ReadOnlyAccess", "", "R1", t0())
        .await
        .unwrap();

    let mut epoch = s.authz_epoch(&acct).await.unwrap();
    macro_rules! bumps {
        ($e:expr) => {{
            $e.await.unwrap();
            let now = s.authz_epoch(&acct).await.unwrap();
            assert!(now > epoch, "{} did not bump the epoch", stringify!($e));
            assert_eq!(
                o.authz_epoch(&acct).await.unwrap(),
                now,
                "another handle reads the same epoch"
            );
            epoch = now;
        }};
    }
    macro_rules! keeps {
        ($e:expr) => {{
            $e.await.unwrap();
            assert_eq!(
                s.authz_epoch(&acct).await.unwrap(),
                epoch,
                "{} changed the epoch",
                stringify!($e)
            );
        }};
    }
    let alice = PrincipalKey::User(
        s.get_user(&acct, "alice")
            .await
            .unwrap()
            .user_id
            .to_string(),
    );

    // Reads never move it.
    keeps!(s.get_user(&acct, "alice"));
    keeps!(s.get_group(&acct, "devs"));
    keeps!(s.list_groups(&acct, &Page::default()));
    keeps!(s.list_groups_for_user(&acct, "alice"));
    keeps!(s.list_users_for_group(&acct, "devs", &Page::default()));
    keeps!(s.get_policy(&acct, custom("p")));
    keeps!(s.list_policies(&acct, None, &Page::default()));
    keeps!(s.list_policy_versions(&acct, custom("p")));
    keeps!(s.list_policies_for(&acct, PrincipalRef::User("alice")));
    keeps!(s.list_entities_for_policy(&acct, custom("p")));
    keeps!(s.effective_policies(&acct, &alice));
    // Nor does re-installing an unchanged system policy.
    keeps!(s.upsert_system_policy("ReadOnlyAccess", "", "R1", t0()));

    bumps!(s.add_user_to_group(&acct, "devs", "alice", t0()));
    bumps!(s.attach_policy(&acct, PrincipalRef::Group("devs"), custom("p"), None, t0()));
    bumps!(o.attach_policy(
        &acct,
        PrincipalRef::User("alice"),
        system("ReadOnlyAccess"),
        None,
        t0()
    ));
    // A changed system policy document: seen by every account, through every handle.
    bumps!(o.upsert_system_policy("ReadOnlyAccess", "", "R2", t0()));
    let docs: Vec<String> = s
        .effective_policies(&acct, &alice)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.document)
        .collect();
    assert!(docs.contains(&"R2".to_owned()), "{docs:?}");
    bumps!(s.update_user(
        &acct,
        "alice",
        UserUpdate {
            new_user_name: Some("alice2".into()),
            ..UserUpdate::default()
        },
        t0()
    ));
    bumps!(s.update_group(
        &acct,
        "devs",
        GroupUpdate {
            new_group_name: Some("devs2".into()),
            new_comments: None,
        },
        t0()
    ));
    let via: Vec<Option<String>> = s
        .effective_policies(&acct, &alice)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.via_group)
        .collect();
    assert!(via.contains(&Some("devs2".to_owned())), "{via:?}");
    // Versions: a new default, rotation, deletion.
    bumps!(s.create_policy_version(&acct, "p", "v2", true, false, t0()));
    for i in 3..=5 {
        s.create_policy_version(&acct, "p", &format!("v{i}"), false, false, t0())
            .await
            .unwrap();
        epoch = s.authz_epoch(&acct).await.unwrap();
    }
    bumps!(s.create_policy_version(&acct, "p", "v6", false, true, t0()));
    bumps!(s.delete_policy_version(&acct, "p", "v3"));
    bumps!(s.set_default_policy_version(&acct, "p", "v4", t0()));
    // Deletions of principals and policies.
    bumps!(s.detach_policy(&acct, PrincipalRef::Group("devs2"), custom("p"), None));
    bumps!(s.detach_policy(
        &acct,
        PrincipalRef::User("alice2"),
        system("ReadOnlyAccess"),
        None
    ));
    bumps!(s.remove_user_from_group(&acct, "devs2", "alice2"));
    bumps!(s.delete_group(&acct, "devs2"));
    bumps!(s.delete_user(&acct, "alice2"));
    bumps!(s.delete_policy(&acct, "p", true));
    bumps!(s.update_role(
        &acct,
        "ops",
        RoleUpdate {
            new_assume_role_policy_document: Some("{\"v\":2}".into()),
            ..RoleUpdate::default()
        },
        t0()
    ));
    bumps!(s.delete_role(&acct, "ops"));
    // A failed change leaves it alone.
    assert!(s.delete_user(&acct, "nobody").await.is_err());
    assert_eq!(s.authz_epoch(&acct).await.unwrap(), epoch);
    assert_eq!(
        s.authz_epoch(&unknown()).await,
        Err(StoreError::NotFound(Entity::Account))
    );
    other.close().await;
}

fn unknown() -> AccountId {
    AccountId::parse("9999999999999999").unwrap()
}

async fn system_and_custom_attachment_limits_are_separate(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    s.create_role(&acct, role("ops"), t0()).await.unwrap();
    for i in 0..21 {
        s.upsert_system_policy(&format!("Sys{i:02}"), "", "{}", t0())
            .await
            .unwrap();
    }
    for i in 0..20 {
        s.attach_policy(
            &acct,
            PrincipalRef::Role("ops"),
            system(&format!("Sys{i:02}")),
            None,
            t0(),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.attach_policy(
            &acct,
            PrincipalRef::Role("ops"),
            system("Sys20"),
            None,
            t0()
        )
        .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::SystemPoliciesPerPrincipal(rampart_store::PrincipalKind::Role),
            limit: 20
        })
    );
    // Detaching frees a place.
    s.detach_policy(&acct, PrincipalRef::Role("ops"), system("Sys00"), None)
        .await
        .unwrap();
    s.attach_policy(
        &acct,
        PrincipalRef::Role("ops"),
        system("Sys20"),
        None,
        t0(),
    )
    .await
    .unwrap();
    // Custom policies have their own count.
    s.create_policy(&acct, policy("mine", "{}"), t0())
        .await
        .unwrap();
    s.attach_policy(&acct, PrincipalRef::Role("ops"), custom("mine"), None, t0())
        .await
        .unwrap();
    assert_eq!(
        s.list_policies_for(&acct, PrincipalRef::Role("ops"))
            .await
            .unwrap()
            .len(),
        21
    );
    assert_eq!(
        s.attach_policy(&acct, PrincipalRef::Role("ops"), custom("mine"), None, t0())
            .await,
        Err(StoreError::AlreadyExists(Entity::RolePolicy))
    );
}

async fn limits_hold_under_concurrency(b: &Backend) {
    let acct = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let other: Arc<dyn Store> = Arc::new(b.reopen().await);
    user(&*store, &acct, "alice").await;
    for i in 0..11 {
        let n = format!("p{i}");
        store
            .create_policy(&acct, policy(&n, "{}"), t0())
            .await
            .unwrap();
        store.create_group(&acct, group(&n), t0()).await.unwrap();
        if i < 9 {
            store
                .attach_policy(&acct, PrincipalRef::User("alice"), custom(&n), None, t0())
                .await
                .unwrap();
            store
                .add_user_to_group(&acct, &n, "alice", t0())
                .await
                .unwrap();
        }
    }
    let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
    let (a1, a2) = (acct.clone(), acct.clone());
    let t1 = tokio::spawn(async move {
        s1.attach_policy(&a1, PrincipalRef::User("alice"), custom("p9"), None, t0())
            .await
    });
    let t2 = tokio::spawn(async move {
        s2.attach_policy(&a2, PrincipalRef::User("alice"), custom("p10"), None, t0())
            .await
    });
    let results = [t1.await.unwrap(), t2.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().any(|r| matches!(
        r,
        Err(StoreError::LimitExceeded {
            quota: Quota::CustomPoliciesPerPrincipal(_),
            limit: 10
        })
    )));

    let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
    let (a1, a2) = (acct.clone(), acct.clone());
    let t1 = tokio::spawn(async move { s1.add_user_to_group(&a1, "p9", "alice", t0()).await });
    let t2 = tokio::spawn(async move { s2.add_user_to_group(&a2, "p10", "alice", t0()).await });
    let results = [t1.await.unwrap(), t2.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        store
            .list_groups_for_user(&acct, "alice")
            .await
            .unwrap()
            .len(),
        10
    );
    assert_eq!(
        store
            .list_policies_for(&acct, PrincipalRef::User("alice"))
            .await
            .unwrap()
            .len(),
        10
    );
}

async fn attach_races_policy_deletion_safely(b: &Backend) {
    let acct = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let other: Arc<dyn Store> = Arc::new(b.reopen().await);
    user(&*store, &acct, "alice").await;
    for round in 0..10 {
        let name = format!("p{round}");
        store
            .create_policy(&acct, policy(&name, "{}"), t0())
            .await
            .unwrap();
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&other));
        let (a1, a2) = (acct.clone(), acct.clone());
        let (n1, n2) = (name.clone(), name.clone());
        let attach = tokio::spawn(async move {
            s1.attach_policy(&a1, PrincipalRef::User("alice"), custom(&n1), None, t0())
                .await
        });
        let delete = tokio::spawn(async move { s2.delete_policy(&a2, &n2, false).await });
        let (attached, deleted) = (attach.await.unwrap(), delete.await.unwrap());
        match (&attached, &deleted) {
            (
                Ok(()),
                Err(StoreError::DeleteConflict {
                    entity: Entity::Policy,
                    blocker: Entity::User,
                }),
            ) => {
                store
                    .detach_policy(&acct, PrincipalRef::User("alice"), custom(&name), None)
                    .await
                    .unwrap();
            }
            (Err(StoreError::NotFound(Entity::Policy)), Ok(())) => {}
            other => panic!("round {round}: {other:?}"),
        }
    }
}

async fn effective_policies_are_per_principal(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    user(s, &acct, "alice").await;
    user(s, &acct, "bob").await;
    let role = s.create_role(&acct, role("ops"), t0()).await.unwrap();
    s.create_group(&acct, group("devs"), t0()).await.unwrap();
    for n in ["for-alice", "for-devs", "for-ops"] {
        s.create_policy(&acct, policy(n, n), t0()).await.unwrap();
    }
    s.attach_policy(
        &acct,
        PrincipalRef::User("alice"),
        custom("for-alice"),
        None,
        t0(),
    )
    .await
    .unwrap();
    s.attach_policy(
        &acct,
        PrincipalRef::Group("devs"),
        custom("for-devs"),
        None,
        t0(),
    )
    .await
    .unwrap();
    s.attach_policy(
        &acct,
        PrincipalRef::Role("ops"),
        custom("for-ops"),
        None,
        t0(),
    )
    .await
    .unwrap();
    s.add_user_to_group(&acct, "devs", "bob", t0())
        .await
        .unwrap();
    let names = |v: Vec<rampart_store::EffectivePolicy>| {
        let mut n: Vec<String> = v.into_iter().map(|p| p.document).collect();
        n.sort();
        n
    };
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let user = s.get_user(&acct, name).await.unwrap();
        ids.push(PrincipalKey::User(user.user_id.to_string()));
    }
    let (alice, bob) = (ids[0].clone(), ids[1].clone());
    assert_eq!(
        names(s.effective_policies(&acct, &alice).await.unwrap()),
        ["for-alice"]
    );
    assert_eq!(
        names(s.effective_policies(&acct, &bob).await.unwrap()),
        ["for-devs"]
    );
    let ops = PrincipalKey::Role(role.role_id.to_string());
    assert_eq!(
        names(s.effective_policies(&acct, &ops).await.unwrap()),
        ["for-ops"]
    );
    // Another account sees nothing through the same ids.
    let other = account(s, "other").await;
    assert!(s
        .effective_policies(&other, &alice)
        .await
        .unwrap()
        .is_empty());
    assert!(s.effective_policies(&other, &ops).await.unwrap().is_empty());
}

async fn role_session_state_follows_the_role_id(b: &Backend) {
    let s: &dyn Store = &b.store;
    let acct = account(s, "acme").await;
    let other = account(s, "other").await;
    let ops = s.create_role(&acct, role("ops"), t0()).await.unwrap();
    let epoch = s.authz_epoch(&acct).await.unwrap();
    assert_eq!(
        s.role_session_state(&acct, &ops.role_id).await.unwrap(),
        Some(("ops".to_owned(), epoch))
    );
    // Another account's sessions never reach this role.
    assert_eq!(
        s.role_session_state(&other, &ops.role_id).await.unwrap(),
        None
    );
    s.delete_role(&acct, "ops").await.unwrap();
    assert_eq!(
        s.role_session_state(&acct, &ops.role_id).await.unwrap(),
        None
    );
    // A new role of the same name is a new identity: the old sessions stay dead.
    let again = s.create_role(&acct, role("ops"), t0()).await.unwrap();
    assert_ne!(again.role_id, ops.role_id);
    assert_eq!(
        s.role_session_state(&acct, &ops.role_id).await.unwrap(),
        None
    );
    assert!(s
        .role_session_state(&acct, &again.role_id)
        .await
        .unwrap()
        .is_some());
}
