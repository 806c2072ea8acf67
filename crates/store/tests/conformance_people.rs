//! The storage conformance suite for the people and account-settings part of RAM: login
//! profiles and password history, settings and the account alias, virtual MFA devices and
//! used TOTP codes, resource tags. Every case on SQLite and on PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_people`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_model::{AccountId, MasterKey, NewAccessKey, Timestamp};
use rampart_store::{
    Entity, LoginProfileUpdate, NewAccount, NewLoginProfile, NewUser, Page, Quota, Quotas,
    ResourceTag, Store, StoreError, StoreOptions, TotpUse, TOTP_STEPS_KEPT,
};
use support::Backend;

conformance!(
    settings_are_unset_until_written_then_replaced,
    alias_is_unique_across_the_installation,
    concurrent_alias_claims_have_one_winner,
    login_profile_lifecycle,
    password_history_is_written_with_the_password,
    password_history_is_bounded_and_goes_with_the_user,
    mfa_bind_rules,
    concurrent_binds_have_one_winner,
    devices_by_name_or_serial,
    mfa_device_quota,
    delete_user_blocked_by_login_profile_and_mfa,
    tag_limit_counts_distinct_keys,
    tagging_is_all_or_nothing,
    untag_keys_or_all,
    tag_listing_pages_in_name_then_key_order,
    tag_listing_filters,
    totp_steps_are_single_use,
    concurrent_totp_use_has_one_winner,
    totp_uses_go_with_the_device,
    accounts_are_isolated,
);

// ---------------------------------------------------------------------------------------
// Helpers

/// 2024-01-01T12:00:00Z.
fn t0() -> Timestamp {
    Timestamp::parse("2024-01-01T12:00:00Z").unwrap()
}

fn at_secs(secs: u64) -> Timestamp {
    t0().checked_add(std::time::Duration::from_secs(secs))
        .unwrap()
}

async fn account(store: &dyn Store, name: &str) -> AccountId {
    let master = MasterKey::from_slice(1, &[7; 32]).unwrap();
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

fn profile(hash: &str) -> NewLoginProfile {
    NewLoginProfile {
        password_hash: hash.into(),
        password_reset_required: false,
        mfa_bind_required: false,
        active: true,
    }
}

fn set_password(hash: &str) -> LoginProfileUpdate {
    LoginProfileUpdate {
        password_hash: Some(hash.into()),
        ..LoginProfileUpdate::default()
    }
}

async fn history(s: &dyn Store, account: &AccountId, user: &str, limit: u32) -> Vec<String> {
    s.list_password_history(account, user, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.password_hash)
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn tag(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

fn bound_to(d: &rampart_model::VirtualMfaDevice) -> Option<&str> {
    d.user.as_ref().map(|(_, name, _)| name.as_str())
}

/// Every row of a listing, following markers with pages of `size`.
async fn all_tags(
    s: &dyn Store,
    account: &AccountId,
    kind: &str,
    names: Option<&[String]>,
    keys: Option<&[String]>,
    size: u32,
) -> Vec<ResourceTag> {
    let mut out = Vec::new();
    let mut page = Page::first(size);
    for _ in 0..1000 {
        let l = s
            .list_tag_resources(account, kind, names, keys, &page)
            .await
            .unwrap();
        assert!(l.items.len() <= size as usize);
        out.extend(l.items);
        match l.marker {
            Some(m) => page = Page::new(Some(m), size),
            None => return out,
        }
    }
    panic!("listing does not end");
}

fn pairs(rows: &[ResourceTag]) -> Vec<(String, String)> {
    rows.iter()
        .map(|t| (t.resource_name.clone(), t.tag_key.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Settings and alias

async fn settings_are_unset_until_written_then_replaced(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    // Never written: the API answers with RAM's defaults.
    assert_eq!(s.get_setting(&a, "password_policy").await, Ok(None));
    assert_eq!(s.get_account_alias(&a).await, Ok(None));

    s.put_setting(&a, "password_policy", r#"{"MinimumPasswordLength":12}"#)
        .await
        .unwrap();
    s.put_setting(&a, "security_preference", r#"{"LoginSessionDuration":3}"#)
        .await
        .unwrap();
    assert_eq!(
        s.get_setting(&a, "password_policy")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"MinimumPasswordLength":12}"#)
    );
    // A write replaces the whole document.
    s.put_setting(&a, "password_policy", r#"{"RequireNumbers":true}"#)
        .await
        .unwrap();
    assert_eq!(
        s.get_setting(&a, "password_policy")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"RequireNumbers":true}"#)
    );
    assert_eq!(
        s.get_setting(&a, "security_preference")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"LoginSessionDuration":3}"#)
    );
    // Per account.
    assert_eq!(s.get_setting(&other, "password_policy").await, Ok(None));
    assert_eq!(
        s.put_setting(&AccountId::parse("9999999999999999").unwrap(), "x", "{}")
            .await,
        Err(StoreError::NotFound(Entity::Account))
    );
    // Survives a restart.
    let again = b.reopen().await;
    assert_eq!(
        rampart_store::SettingsRepo::get_setting(&again, &a, "password_policy")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"RequireNumbers":true}"#)
    );
    again.close().await;
}

async fn alias_is_unique_across_the_installation(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    s.set_account_alias(&a, "acme").await.unwrap();
    assert_eq!(
        s.get_account_alias(&a).await.unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(s.find_account_by_alias("acme").await, Ok(a.clone()));
    assert_eq!(
        s.set_account_alias(&other, "acme").await,
        Err(StoreError::AlreadyExists(Entity::AccountAlias))
    );
    assert_eq!(s.get_account_alias(&other).await, Ok(None));
    // Setting the own alias again is fine; a new one replaces it and frees the old.
    s.set_account_alias(&a, "acme").await.unwrap();
    s.set_account_alias(&a, "acme-2").await.unwrap();
    assert_eq!(
        s.find_account_by_alias("acme").await,
        Err(StoreError::NotFound(Entity::Account))
    );
    s.set_account_alias(&other, "acme").await.unwrap();
    assert_eq!(s.find_account_by_alias("acme").await, Ok(other.clone()));
    assert_eq!(s.find_account_by_alias("acme-2").await, Ok(a.clone()));
    s.clear_account_alias(&a).await.unwrap();
    assert_eq!(s.get_account_alias(&a).await, Ok(None));
    assert_eq!(
        s.find_account_by_alias("acme-2").await,
        Err(StoreError::NotFound(Entity::Account))
    );
    assert_eq!(
        s.set_account_alias(&AccountId::parse("9999999999999999").unwrap(), "zzz")
            .await,
        Err(StoreError::NotFound(Entity::Account))
    );
}

async fn concurrent_alias_claims_have_one_winner(b: &Backend) {
    let s: &dyn Store = &b.store;
    let mut accounts = Vec::new();
    for i in 0..8 {
        accounts.push(account(s, &format!("acct{i}")).await);
    }
    // Two handles, as two server processes would have.
    let stores: [Arc<dyn Store>; 2] = [Arc::new(b.store.clone()), Arc::new(b.reopen().await)];
    let mut tasks = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        let store = Arc::clone(&stores[i % 2]);
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            store.set_account_alias(&a, "prize").await.map(|()| a)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => winners.push(a),
            Err(e) => assert_eq!(e, StoreError::AlreadyExists(Entity::AccountAlias)),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one account gets the alias");
    assert_eq!(
        s.find_account_by_alias("prize").await,
        Ok(winners[0].clone())
    );
    let mut holders = 0;
    for a in &accounts {
        if s.get_account_alias(a).await.unwrap().is_some() {
            holders += 1;
        }
    }
    assert_eq!(holders, 1);
}

// ---------------------------------------------------------------------------------------
// Login profiles and password history

async fn login_profile_lifecycle(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    user(s, &a, "Alice").await;
    assert_eq!(
        s.get_login_profile(&a, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::LoginProfile))
    );
    assert_eq!(
        s.create_login_profile(&a, "nobody", profile("h"), t0())
            .await
            .map(|_| ()),
        Err(StoreError::NotFound(Entity::User))
    );
    let created = s
        .create_login_profile(
            &a,
            "alice",
            NewLoginProfile {
                password_hash: "$argon2id$v=19$one".into(),
                password_reset_required: true,
                mfa_bind_required: false,
                active: true,
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(created.user_name, "Alice", "the name as first written");
    assert!(created.password_reset_required);
    assert!(!created.mfa_bind_required);
    assert_eq!(created.create_date, t0());
    assert_eq!(s.get_login_profile(&a, "ALICE").await, Ok(created.clone()));
    assert_eq!(
        s.create_login_profile(&a, "alice", profile("h"), t0())
            .await
            .map(|_| ()),
        Err(StoreError::AlreadyExists(Entity::LoginProfile))
    );

    // A partial update leaves the other fields alone.
    let later = at_secs(60);
    let updated = s
        .update_login_profile(
            &a,
            "alice",
            LoginProfileUpdate {
                mfa_bind_required: Some(true),
                ..LoginProfileUpdate::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(updated.password_hash, "$argon2id$v=19$one");
    assert!(updated.password_reset_required);
    assert!(updated.mfa_bind_required);
    assert_eq!(updated.create_date, t0());
    assert_eq!(updated.update_date, later);
    let updated = s
        .update_login_profile(
            &a,
            "alice",
            LoginProfileUpdate {
                password_hash: Some("$argon2id$v=19$two".into()),
                password_reset_required: Some(false),
                mfa_bind_required: None,
                ..LoginProfileUpdate::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(updated.password_hash, "$argon2id$v=19$two");
    assert!(!updated.password_reset_required);
    assert!(updated.mfa_bind_required);
    assert_eq!(s.get_login_profile(&a, "alice").await, Ok(updated));

    s.delete_login_profile(&a, "alice").await.unwrap();
    assert_eq!(
        s.delete_login_profile(&a, "alice").await,
        Err(StoreError::NotFound(Entity::LoginProfile))
    );
    assert_eq!(
        s.update_login_profile(&a, "alice", set_password("x"), later)
            .await
            .map(|_| ()),
        Err(StoreError::NotFound(Entity::LoginProfile))
    );
    assert_eq!(
        s.delete_login_profile(&a, "nobody").await,
        Err(StoreError::NotFound(Entity::User))
    );
}

async fn password_history_is_written_with_the_password(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    user(s, &a, "alice").await;
    assert!(history(s, &a, "alice", 24).await.is_empty());
    assert_eq!(
        s.list_password_history(&a, "nobody", 5).await,
        Err(StoreError::NotFound(Entity::User))
    );
    s.create_login_profile(&a, "alice", profile("h1"), t0())
        .await
        .unwrap();
    // Flags only: no new history entry.
    s.update_login_profile(
        &a,
        "alice",
        LoginProfileUpdate {
            password_reset_required: Some(true),
            ..LoginProfileUpdate::default()
        },
        at_secs(1),
    )
    .await
    .unwrap();
    s.update_login_profile(&a, "alice", set_password("h2"), at_secs(2))
        .await
        .unwrap();
    // Two changes in the same millisecond still keep their order.
    s.update_login_profile(&a, "alice", set_password("h3"), at_secs(3))
        .await
        .unwrap();
    s.update_login_profile(&a, "alice", set_password("h4"), at_secs(3))
        .await
        .unwrap();
    assert_eq!(
        history(s, &a, "alice", 24).await,
        strings(&["h4", "h3", "h2", "h1"])
    );
    assert_eq!(history(s, &a, "alice", 2).await, strings(&["h4", "h3"]));
    let entries = s.list_password_history(&a, "alice", 24).await.unwrap();
    assert_eq!(entries[2].set_date, at_secs(2));
    assert_eq!(entries[3].set_date, t0());
    // Deleting and re-creating the login profile does not reset the history.
    s.delete_login_profile(&a, "alice").await.unwrap();
    assert_eq!(history(s, &a, "alice", 24).await.len(), 4);
    s.create_login_profile(&a, "alice", profile("h5"), at_secs(4))
        .await
        .unwrap();
    assert_eq!(history(s, &a, "alice", 1).await, strings(&["h5"]));
    // A refused create writes nothing.
    assert!(s
        .create_login_profile(&a, "alice", profile("h6"), at_secs(5))
        .await
        .is_err());
    assert_eq!(history(s, &a, "alice", 1).await, strings(&["h5"]));
}

async fn password_history_is_bounded_and_goes_with_the_user(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    user(s, &a, "alice").await;
    user(s, &a, "bob").await;
    s.create_login_profile(&a, "alice", profile("p0"), t0())
        .await
        .unwrap();
    s.create_login_profile(&a, "bob", profile("bob0"), t0())
        .await
        .unwrap();
    for i in 1..30u64 {
        s.update_login_profile(&a, "alice", set_password(&format!("p{i}")), at_secs(i))
            .await
            .unwrap();
    }
    let kept = history(s, &a, "alice", 1000).await;
    assert_eq!(kept.len(), 24, "the newest 24 are kept");
    assert_eq!(kept.first().map(String::as_str), Some("p29"));
    assert_eq!(kept.last().map(String::as_str), Some("p6"));
    // Bob's history is his own.
    assert_eq!(history(s, &a, "bob", 1000).await, strings(&["bob0"]));

    // Deleting the user removes its history: a new user of the same name starts clean.
    s.delete_login_profile(&a, "alice").await.unwrap();
    s.delete_user(&a, "alice").await.unwrap();
    user(s, &a, "alice").await;
    assert!(history(s, &a, "alice", 1000).await.is_empty());
}

// ---------------------------------------------------------------------------------------
// Virtual MFA devices

async fn mfa_bind_rules(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    user(s, &a, "alice").await;
    user(s, &a, "bob").await;
    let one = s
        .create_virtual_mfa_device(&a, "One", vec![1, 2, 3], t0())
        .await
        .unwrap();
    assert_eq!(one.serial_number, format!("acs:ram::{a}:mfa/One"));
    assert_eq!(one.user, None);
    assert_eq!(one.activate_date, None);
    s.create_virtual_mfa_device(&a, "two", vec![4], t0())
        .await
        .unwrap();
    assert_eq!(
        s.create_virtual_mfa_device(&a, "ONE", vec![9], t0())
            .await
            .map(|_| ()),
        Err(StoreError::AlreadyExists(Entity::VirtualMfaDevice))
    );
    assert_eq!(
        s.get_user_mfa_device(&a, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    );
    assert_eq!(
        s.bind_mfa_device(&a, "nobody", "one", t0()).await,
        Err(StoreError::NotFound(Entity::User))
    );
    assert_eq!(
        s.bind_mfa_device(&a, "alice", "three", t0()).await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );

    let bound_at = at_secs(30);
    s.bind_mfa_device(&a, "alice", "one", bound_at)
        .await
        .unwrap();
    let d = s.get_user_mfa_device(&a, "ALICE").await.unwrap();
    assert_eq!(d.name, "One");
    assert_eq!(bound_to(&d), Some("alice"));
    assert_eq!(d.activate_date, Some(bound_at));
    assert_eq!(d.sealed_seed, vec![1, 2, 3]);
    // One device per user, one user per device.
    assert_eq!(
        s.bind_mfa_device(&a, "alice", "two", t0()).await,
        Err(StoreError::AlreadyExists(Entity::UserMfaDevice))
    );
    assert_eq!(
        s.bind_mfa_device(&a, "bob", "one", t0()).await,
        Err(StoreError::AlreadyExists(Entity::VirtualMfaDeviceUser))
    );
    assert_eq!(
        s.bind_mfa_device(&a, "alice", "one", t0()).await,
        Err(StoreError::AlreadyExists(Entity::UserMfaDevice))
    );
    assert_eq!(
        s.get_user_mfa_device(&a, "bob").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    );
    // Deletion is blocked while bound.
    assert_eq!(
        s.delete_virtual_mfa_device(&a, "one").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::VirtualMfaDevice,
            blocker: Entity::User,
        })
    );
    let listed = s.list_virtual_mfa_devices(&a).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["One", "two"]
    );
    assert_eq!(bound_to(&listed[0]), Some("alice"));
    assert_eq!(bound_to(&listed[1]), None);

    // Unbinding returns the device and frees both sides.
    let was = s.unbind_mfa_device(&a, "alice").await.unwrap();
    assert_eq!(was.serial_number, one.serial_number);
    assert_eq!(
        s.unbind_mfa_device(&a, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    );
    let d = s.get_virtual_mfa_device(&a, "one").await.unwrap();
    assert_eq!(d.user, None);
    assert_eq!(d.activate_date, None);
    s.bind_mfa_device(&a, "bob", "one", t0()).await.unwrap();
    s.bind_mfa_device(&a, "alice", "two", t0()).await.unwrap();
    s.unbind_mfa_device(&a, "bob").await.unwrap();
    s.delete_virtual_mfa_device(&a, "one").await.unwrap();
    assert_eq!(
        s.delete_virtual_mfa_device(&a, "one").await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
    assert_eq!(
        s.get_virtual_mfa_device(&a, "one").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
}

async fn concurrent_binds_have_one_winner(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    for i in 0..6 {
        user(s, &a, &format!("u{i}")).await;
        s.create_virtual_mfa_device(&a, &format!("d{i}"), vec![1], t0())
            .await
            .unwrap();
    }
    let stores: [Arc<dyn Store>; 2] = [Arc::new(b.store.clone()), Arc::new(b.reopen().await)];

    // Six users race for one device.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = Arc::clone(&stores[i % 2]);
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            store
                .bind_mfa_device(&a, &format!("u{i}"), "d0", t0())
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, StoreError::AlreadyExists(Entity::VirtualMfaDeviceUser)),
        }
    }
    assert_eq!(ok, 1, "one user gets the device");
    let winner = bound_to(&s.get_virtual_mfa_device(&a, "d0").await.unwrap())
        .unwrap()
        .to_owned();

    // One user (not the winner) races for five devices.
    let loser = if winner == "u5" { "u4" } else { "u5" };
    let mut tasks = Vec::new();
    for i in 1..6 {
        let store = Arc::clone(&stores[i % 2]);
        let a = a.clone();
        let loser = loser.to_owned();
        tasks.push(tokio::spawn(async move {
            store
                .bind_mfa_device(&a, &loser, &format!("d{i}"), t0())
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, StoreError::AlreadyExists(Entity::UserMfaDevice)),
        }
    }
    assert_eq!(ok, 1, "a user gets one device");
    let bound = s
        .list_virtual_mfa_devices(&a)
        .await
        .unwrap()
        .iter()
        .filter(|d| bound_to(d) == Some(loser))
        .count();
    assert_eq!(bound, 1);
}

async fn devices_by_name_or_serial(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    user(s, &a, "alice").await;
    let d = s
        .create_virtual_mfa_device(&a, "Phone", vec![1], t0())
        .await
        .unwrap();
    let serial = d.serial_number.clone();
    assert_eq!(s.get_virtual_mfa_device(&a, &serial).await, Ok(d.clone()));
    assert_eq!(s.get_virtual_mfa_device(&a, "phone").await, Ok(d.clone()));
    // Another account's serial, or a malformed one, names nothing here.
    let foreign = format!("acs:ram::{other}:mfa/Phone");
    for bad in [
        foreign.as_str(),
        "acs:ram::",
        "acs:ram::x:mfa/",
        "acs:ram::1:role/x",
    ] {
        assert_eq!(
            s.get_virtual_mfa_device(&a, bad).await.map(|_| ()),
            Err(StoreError::NotFound(Entity::VirtualMfaDevice)),
            "{bad}"
        );
    }
    assert_eq!(
        s.bind_mfa_device(&a, "alice", &foreign, t0()).await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
    s.bind_mfa_device(&a, "alice", &serial, t0()).await.unwrap();
    assert_eq!(
        s.delete_virtual_mfa_device(&a, &serial).await,
        Err(StoreError::DeleteConflict {
            entity: Entity::VirtualMfaDevice,
            blocker: Entity::User,
        })
    );
    s.unbind_mfa_device(&a, "alice").await.unwrap();
    s.delete_virtual_mfa_device(&a, &serial).await.unwrap();
    assert!(s.list_virtual_mfa_devices(&a).await.unwrap().is_empty());
}

async fn mfa_device_quota(b: &Backend) {
    let s = b
        .reopen_with(StoreOptions {
            quotas: Quotas {
                mfa_devices_per_account: 2,
                ..Quotas::default()
            },
            ..StoreOptions::default()
        })
        .await;
    let s: &dyn Store = &s;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    s.create_virtual_mfa_device(&a, "d1", vec![1], t0())
        .await
        .unwrap();
    s.create_virtual_mfa_device(&a, "d2", vec![1], t0())
        .await
        .unwrap();
    assert_eq!(
        s.create_virtual_mfa_device(&a, "d3", vec![1], t0())
            .await
            .map(|_| ()),
        Err(StoreError::LimitExceeded {
            quota: Quota::MfaDevicesPerAccount,
            limit: 2,
        })
    );
    // Per account, and freed by deletion.
    s.create_virtual_mfa_device(&other, "d3", vec![1], t0())
        .await
        .unwrap();
    s.delete_virtual_mfa_device(&a, "d1").await.unwrap();
    s.create_virtual_mfa_device(&a, "d3", vec![1], t0())
        .await
        .unwrap();
    assert_eq!(
        Quotas::default().mfa_devices_per_account,
        5000,
        "RAM's quota"
    );
}

async fn delete_user_blocked_by_login_profile_and_mfa(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    user(s, &a, "alice").await;
    s.create_login_profile(&a, "alice", profile("h"), t0())
        .await
        .unwrap();
    assert_eq!(
        s.delete_user(&a, "alice").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::User,
            blocker: Entity::LoginProfile,
        })
    );
    s.delete_login_profile(&a, "alice").await.unwrap();
    s.create_virtual_mfa_device(&a, "d", vec![1], t0())
        .await
        .unwrap();
    s.bind_mfa_device(&a, "alice", "d", t0()).await.unwrap();
    assert_eq!(
        s.delete_user(&a, "alice").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::User,
            blocker: Entity::UserMfaDevice,
        })
    );
    assert!(s.get_user(&a, "alice").await.is_ok(), "nothing was deleted");
    s.unbind_mfa_device(&a, "alice").await.unwrap();
    s.delete_user(&a, "alice").await.unwrap();
    assert_eq!(
        s.get_user(&a, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::User))
    );
    // The unbound device outlives the user.
    assert_eq!(
        s.get_virtual_mfa_device(&a, "d").await.map(|d| d.user),
        Ok(None)
    );
}

// ---------------------------------------------------------------------------------------
// Tags

async fn tag_limit_counts_distinct_keys(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let r = strings(&["r1"]);
    let twenty: Vec<_> = (0..20).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    s.tag_resources(&a, "role", &r, &twenty).await.unwrap();
    // Overwriting existing keys keeps the count at 20.
    s.tag_resources(&a, "role", &r, &[tag("k00", "new"), tag("k19", "new")])
        .await
        .unwrap();
    let tags = s.tags_for(&a, "role", "R1").await.unwrap();
    assert_eq!(tags.len(), 20);
    assert!(tags.contains(&tag("k00", "new")));
    assert!(tags.contains(&tag("k19", "new")));
    assert!(tags.contains(&tag("k01", "v")));
    // The 21st distinct key is refused, with the values above unchanged.
    assert_eq!(
        s.tag_resources(&a, "role", &r, &[tag("k01", "changed"), tag("k20", "v")])
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::TagsPerResource,
            limit: 20,
        })
    );
    let after = s.tags_for(&a, "role", "r1").await.unwrap();
    assert_eq!(after, tags);
    // The same resource name of the other type is another resource.
    s.tag_resources(&a, "policy", &r, &[tag("k20", "v")])
        .await
        .unwrap();
    assert_eq!(s.tags_for(&a, "policy", "r1").await.unwrap().len(), 1);
    // Tag keys are case-sensitive: "K00" is a new key.
    assert!(s
        .tag_resources(&a, "role", &r, &[tag("K00", "v")])
        .await
        .is_err());
}

async fn tagging_is_all_or_nothing(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let nineteen: Vec<_> = (0..19).map(|i| tag(&format!("k{i}"), "v")).collect();
    s.tag_resources(&a, "role", &strings(&["full"]), &nineteen)
        .await
        .unwrap();
    // "fresh" comes first and would be fine; "full" would reach 21: neither changes.
    let names = strings(&["fresh", "full", "zed"]);
    assert_eq!(
        s.tag_resources(&a, "role", &names, &[tag("x", "1"), tag("y", "2")])
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::TagsPerResource,
            limit: 20,
        })
    );
    assert!(s.tags_for(&a, "role", "fresh").await.unwrap().is_empty());
    assert!(s.tags_for(&a, "role", "zed").await.unwrap().is_empty());
    assert_eq!(s.tags_for(&a, "role", "full").await.unwrap(), {
        let mut t = nineteen.clone();
        t.sort();
        t
    });
    // One tag fits everywhere.
    s.tag_resources(&a, "role", &names, &[tag("x", "1")])
        .await
        .unwrap();
    for n in &names {
        assert!(s
            .tags_for(&a, "role", n)
            .await
            .unwrap()
            .contains(&tag("x", "1")));
    }
}

async fn untag_keys_or_all(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let names = strings(&["p1", "p2"]);
    s.tag_resources(
        &a,
        "policy",
        &names,
        &[tag("a", "1"), tag("b", "2"), tag("c", "3")],
    )
    .await
    .unwrap();
    s.tag_resources(&a, "role", &strings(&["p1"]), &[tag("a", "1")])
        .await
        .unwrap();
    // Unknown keys and untagged resources are no error.
    s.untag_resources(
        &a,
        "policy",
        &strings(&["P1", "nothing"]),
        Some(&strings(&["a", "zz"])),
    )
    .await
    .unwrap();
    assert_eq!(
        s.tags_for(&a, "policy", "p1").await.unwrap(),
        vec![tag("b", "2"), tag("c", "3")]
    );
    assert_eq!(s.tags_for(&a, "policy", "p2").await.unwrap().len(), 3);
    s.untag_resources(&a, "policy", &names, None).await.unwrap();
    assert!(s.tags_for(&a, "policy", "p1").await.unwrap().is_empty());
    assert!(s.tags_for(&a, "policy", "p2").await.unwrap().is_empty());
    // Only the named type.
    assert_eq!(
        s.tags_for(&a, "role", "p1").await.unwrap(),
        vec![tag("a", "1")]
    );
}

async fn tag_listing_pages_in_name_then_key_order(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    // Names where one is a prefix of another followed by "-" or ".", which sort before
    // "/": pagination must compare (name, key) pairs, not a joined string.
    let names = ["a", "a-b", "a.c", "ab", "B", "b-1"];
    for (i, n) in names.iter().enumerate() {
        let tags: Vec<_> = (0..=i % 3)
            .map(|j| tag(&format!("k{j}"), &format!("{n}:{j}")))
            .chain([tag("x/y", "slash")])
            .collect();
        s.tag_resources(&a, "role", &strings(&[n]), &tags)
            .await
            .unwrap();
    }
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_by_key(|n| n.to_ascii_lowercase());
    for n in sorted {
        let mut keys: Vec<String> = s
            .tags_for(&a, "role", n)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        expected.extend(keys.into_iter().map(|k| (n.to_owned(), k)));
    }
    assert_eq!(expected.len(), 6 + 1 + 2 + 3 + 1 + 2 + 3);
    for size in [1, 2, 3, 5, 7, 100] {
        let rows = all_tags(s, &a, "role", None, None, size).await;
        assert_eq!(pairs(&rows), expected, "page size {size}");
        assert!(rows.iter().all(|t| t.resource_type == "role"));
    }
    let first = all_tags(s, &a, "role", None, None, 100).await;
    assert_eq!(first[0].resource_name, "a");
    assert_eq!(first[0].tag_value, "a:0");
    // The other type has nothing.
    assert!(all_tags(s, &a, "policy", None, None, 10).await.is_empty());

    // A page boundary survives changes behind it: nothing is seen twice or skipped.
    let p1 = s
        .list_tag_resources(&a, "role", None, None, &Page::first(4))
        .await
        .unwrap();
    s.tag_resources(&a, "role", &strings(&["a"]), &[tag("k9", "late")])
        .await
        .unwrap();
    s.untag_resources(&a, "role", &strings(&["ab"]), None)
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut page = Page::new(p1.marker.clone(), 4);
    loop {
        let l = s
            .list_tag_resources(&a, "role", None, None, &page)
            .await
            .unwrap();
        rest.extend(l.items);
        match l.marker {
            Some(m) => page = Page::new(Some(m), 4),
            None => break,
        }
    }
    let seen: Vec<_> = pairs(&p1.items).into_iter().chain(pairs(&rest)).collect();
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    assert!(!seen.iter().any(|(n, _)| n == "ab"));
    assert!(seen.contains(&("a-b".to_owned(), "x/y".to_owned())));
}

async fn tag_listing_filters(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    for n in ["r1", "r2", "r3"] {
        s.tag_resources(
            &a,
            "role",
            &strings(&[n]),
            &[tag("env", n), tag("team", "x")],
        )
        .await
        .unwrap();
    }
    let by_name = all_tags(
        s,
        &a,
        "role",
        Some(&strings(&["R3", "r1", "none"])),
        None,
        1,
    )
    .await;
    assert_eq!(
        pairs(&by_name),
        vec![
            ("r1".to_owned(), "env".to_owned()),
            ("r1".to_owned(), "team".to_owned()),
            ("r3".to_owned(), "env".to_owned()),
            ("r3".to_owned(), "team".to_owned()),
        ]
    );
    let by_key = all_tags(s, &a, "role", None, Some(&strings(&["env"])), 2).await;
    assert_eq!(
        by_key
            .iter()
            .map(|t| (t.resource_name.as_str(), t.tag_value.as_str()))
            .collect::<Vec<_>>(),
        [("r1", "r1"), ("r2", "r2"), ("r3", "r3")]
    );
    let both = all_tags(
        s,
        &a,
        "role",
        Some(&strings(&["r2"])),
        Some(&strings(&["team", "missing"])),
        10,
    )
    .await;
    assert_eq!(pairs(&both), vec![("r2".to_owned(), "team".to_owned())]);
    // Keys are exact.
    assert!(all_tags(s, &a, "role", None, Some(&strings(&["ENV"])), 10)
        .await
        .is_empty());
    // An empty filter matches nothing.
    assert!(all_tags(s, &a, "role", Some(&[]), None, 10)
        .await
        .is_empty());
    assert!(all_tags(s, &a, "role", None, Some(&[]), 10)
        .await
        .is_empty());
    // Long filters (RAM allows 50 names) stay one statement.
    let many: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
    assert_eq!(
        all_tags(s, &a, "role", Some(&many), None, 100).await.len(),
        6
    );
}

// ---------------------------------------------------------------------------------------
// TOTP codes

async fn totp_steps_are_single_use(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let d = s
        .create_virtual_mfa_device(&a, "d", vec![1], t0())
        .await
        .unwrap();
    s.create_virtual_mfa_device(&a, "e", vec![1], t0())
        .await
        .unwrap();
    let step = 56_800_000;
    assert_eq!(s.record_totp_use(&a, "d", step).await, Ok(TotpUse::Fresh));
    assert_eq!(
        s.record_totp_use(&a, "D", step).await,
        Ok(TotpUse::Replayed)
    );
    assert_eq!(
        s.record_totp_use(&a, &d.serial_number, step).await,
        Ok(TotpUse::Replayed)
    );
    // Another step, or another device, is another code.
    assert_eq!(
        s.record_totp_use(&a, "d", step + 1).await,
        Ok(TotpUse::Fresh)
    );
    assert_eq!(s.record_totp_use(&a, "e", step).await, Ok(TotpUse::Fresh));
    assert_eq!(
        s.record_totp_use(&a, "d", step - 1).await,
        Ok(TotpUse::Fresh)
    );
    // Remembered across handles and restarts.
    let again = b.reopen().await;
    assert_eq!(
        rampart_store::MfaRepo::record_totp_use(&again, &a, "d", step + 1).await,
        Ok(TotpUse::Replayed)
    );
    again.close().await;
    // Steps far behind the newest are forgotten (callers accept only steps near now).
    let far = step + TOTP_STEPS_KEPT + 1;
    assert_eq!(s.record_totp_use(&a, "d", far).await, Ok(TotpUse::Fresh));
    assert_eq!(s.record_totp_use(&a, "d", step).await, Ok(TotpUse::Fresh));
    assert_eq!(s.record_totp_use(&a, "d", far).await, Ok(TotpUse::Replayed));
    // Unknown devices.
    assert_eq!(
        s.record_totp_use(&a, "nothing", step).await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
}

async fn concurrent_totp_use_has_one_winner(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    s.create_virtual_mfa_device(&a, "d", vec![1], t0())
        .await
        .unwrap();
    let stores: [Arc<dyn Store>; 2] = [Arc::new(b.store.clone()), Arc::new(b.reopen().await)];
    for step in [100u64, 101, 102] {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = Arc::clone(&stores[i % 2]);
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                store.record_totp_use(&a, "d", step).await.unwrap()
            }));
        }
        let mut fresh = 0;
        for t in tasks {
            if t.await.unwrap() == TotpUse::Fresh {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1, "step {step}: one request accepts the code");
    }
}

async fn totp_uses_go_with_the_device(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let other = account(s, "b").await;
    s.create_virtual_mfa_device(&a, "d", vec![1], t0())
        .await
        .unwrap();
    s.create_virtual_mfa_device(&other, "d", vec![1], t0())
        .await
        .unwrap();
    assert_eq!(s.record_totp_use(&a, "d", 7).await, Ok(TotpUse::Fresh));
    // Same device name in another account: its own codes.
    assert_eq!(s.record_totp_use(&other, "d", 7).await, Ok(TotpUse::Fresh));
    let foreign = format!("acs:ram::{other}:mfa/d");
    assert_eq!(
        s.record_totp_use(&a, &foreign, 8).await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
    // A device deleted and created again under the same name starts clean, and its used
    // codes never block the deletion.
    s.delete_virtual_mfa_device(&a, "d").await.unwrap();
    assert_eq!(
        s.record_totp_use(&a, "d", 7).await,
        Err(StoreError::NotFound(Entity::VirtualMfaDevice))
    );
    s.create_virtual_mfa_device(&a, "d", vec![2], t0())
        .await
        .unwrap();
    assert_eq!(s.record_totp_use(&a, "d", 7).await, Ok(TotpUse::Fresh));
    assert_eq!(
        s.record_totp_use(&other, "d", 7).await,
        Ok(TotpUse::Replayed)
    );
}

// ---------------------------------------------------------------------------------------
// Isolation

async fn accounts_are_isolated(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = account(s, "a").await;
    let z = account(s, "z").await;
    for acct in [&a, &z] {
        user(s, acct, "alice").await;
        s.create_virtual_mfa_device(acct, "d", vec![1], t0())
            .await
            .unwrap();
        s.tag_resources(acct, "role", &strings(&["r"]), &[tag("k", acct.as_str())])
            .await
            .unwrap();
    }
    s.create_login_profile(&a, "alice", profile("ha"), t0())
        .await
        .unwrap();
    assert_eq!(
        s.get_login_profile(&z, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::LoginProfile))
    );
    assert!(history(s, &z, "alice", 10).await.is_empty());
    s.bind_mfa_device(&a, "alice", "d", t0()).await.unwrap();
    assert_eq!(
        s.get_user_mfa_device(&z, "alice").await.map(|_| ()),
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    );
    assert_eq!(
        s.get_virtual_mfa_device(&z, "d").await.map(|d| d.user),
        Ok(None)
    );
    // z's alice can take z's device; a's device stays a's.
    s.bind_mfa_device(&z, "alice", "d", t0()).await.unwrap();
    s.delete_login_profile(&a, "alice").await.unwrap();
    s.unbind_mfa_device(&z, "alice").await.unwrap();
    s.delete_virtual_mfa_device(&z, "d").await.unwrap();
    assert_eq!(
        bound_to(&s.get_virtual_mfa_device(&a, "d").await.unwrap()),
        Some("alice")
    );
    // Tags of a resource name are per account.
    s.untag_resources(&z, "role", &strings(&["r"]), None)
        .await
        .unwrap();
    assert_eq!(
        s.tags_for(&a, "role", "r").await.unwrap(),
        vec![tag("k", a.as_str())]
    );
    let rows = all_tags(s, &a, "role", None, None, 10).await;
    assert_eq!(rows.len(), 1);
    assert!(all_tags(s, &z, "role", None, None, 10).await.is_empty());
}
