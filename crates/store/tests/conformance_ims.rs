//! The storage conformance suite for what IMS adds to login profiles: `Status` (active) and
//! the initial-password mark behind `PasswordStatus`. Every case on SQLite and on
//! PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_ims`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use rampart_model::{AccountId, MasterKey, NewAccessKey, Timestamp};
use rampart_store::{LoginProfileUpdate, NewAccount, NewLoginProfile, NewUser, Store};
use support::Backend;

conformance!(
    login_profile_status_is_stored_and_updated,
    initial_password_mark_follows_who_set_the_password,
);

fn at(secs: u64) -> Timestamp {
    Timestamp::parse("2025-03-01T08:00:00Z")
        .unwrap()
        .checked_add(std::time::Duration::from_secs(secs))
        .unwrap()
}

/// An account with the user `alice` and her login profile, created at `at(0)`.
async fn alice_with_profile(store: &dyn Store, active: bool) -> AccountId {
    let master = MasterKey::from_slice(1, &[9; 32]).unwrap();
    let (key, _) = NewAccessKey::generate(&master).unwrap();
    let (acct, _) = store
        .create_account(NewAccount { name: "ims".into() }, key, at(0))
        .await
        .unwrap();
    let new_user = NewUser {
        user_name: "alice".into(),
        ..NewUser::default()
    };
    store.create_user(&acct.id, new_user, at(0)).await.unwrap();
    let profile = NewLoginProfile {
        password_hash: "$argon2id$v=19$initial".into(),
        password_reset_required: false,
        mfa_bind_required: false,
        active,
    };
    let created = store
        .create_login_profile(&acct.id, "alice", profile, at(0))
        .await
        .unwrap();
    assert_eq!(created.active, active);
    assert_eq!(
        created.initial_since,
        Some(at(0)),
        "created: an initial password"
    );
    acct.id
}

async fn login_profile_status_is_stored_and_updated(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = alice_with_profile(s, false).await;
    let got = s.get_login_profile(&a, "ALICE").await.unwrap();
    assert!(!got.active);
    let update = LoginProfileUpdate {
        active: Some(true),
        ..LoginProfileUpdate::default()
    };
    let updated = s
        .update_login_profile(&a, "alice", update, at(5))
        .await
        .unwrap();
    assert!(updated.active);
    assert_eq!(
        updated.initial_since,
        Some(at(0)),
        "status alone keeps the mark"
    );
    // Other updates leave the status alone.
    let flags = LoginProfileUpdate {
        mfa_bind_required: Some(true),
        ..LoginProfileUpdate::default()
    };
    let updated = s
        .update_login_profile(&a, "alice", flags, at(6))
        .await
        .unwrap();
    assert!(updated.active && updated.mfa_bind_required);
    assert_eq!(s.get_login_profile(&a, "alice").await.unwrap(), updated);
}

async fn initial_password_mark_follows_who_set_the_password(b: &Backend) {
    let s: &dyn Store = &b.store;
    let a = alice_with_profile(s, true).await;
    let by_user = LoginProfileUpdate {
        password_hash: Some("$argon2id$v=19$mine".into()),
        password_initial: Some(false),
        ..LoginProfileUpdate::default()
    };
    let got = s
        .update_login_profile(&a, "alice", by_user, at(60))
        .await
        .unwrap();
    assert_eq!(got.initial_since, None);
    assert_eq!(
        s.get_login_profile(&a, "alice")
            .await
            .unwrap()
            .initial_since,
        None
    );
    let by_admin = LoginProfileUpdate {
        password_hash: Some("$argon2id$v=19$reset".into()),
        password_initial: Some(true),
        ..LoginProfileUpdate::default()
    };
    let got = s
        .update_login_profile(&a, "alice", by_admin, at(120))
        .await
        .unwrap();
    assert_eq!(got.initial_since, Some(at(120)));
    let untouched = LoginProfileUpdate {
        password_reset_required: Some(true),
        ..LoginProfileUpdate::default()
    };
    let got = s
        .update_login_profile(&a, "alice", untouched, at(180))
        .await
        .unwrap();
    assert_eq!(got.initial_since, Some(at(120)));
    assert!(got.active);
}
