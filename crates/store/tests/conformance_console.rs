//! The storage conformance suite for console sessions and sign-in records: every case on
//! SQLite and on PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_console`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rampart_model::{AccountId, AuditRecord, MasterKey, NewAccessKey, Timestamp};
use rampart_store::{
    AuditRepo, AuditSlot, ConsoleRepo, ConsoleSession, Entity, NewAccount, NewUser,
    SessionIdentity, SessionStage, Store, StoreError, TotpUse, UserRepo,
};
use serde_json::json;
use support::Backend;

conformance!(
    sessions_are_stored_touched_replaced_and_purged,
    a_sign_in_sets_last_login_with_its_event_and_session,
    failures_are_counted_from_the_trail,
    root_credentials_are_set_bound_and_steps_move_forward,
    root_and_role_sessions_keep_who_they_are,
);

fn t0() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

async fn account_with_user(store: &dyn Store) -> AccountId {
    let master = MasterKey::generate(1).unwrap();
    let (key, _) = NewAccessKey::generate(&master).unwrap();
    let id = store
        .create_account(
            NewAccount {
                name: "acme".into(),
            },
            key,
            t0(),
        )
        .await
        .unwrap()
        .0
        .id;
    store
        .create_user(
            &id,
            NewUser {
                user_name: "Alice".into(),
                ..NewUser::default()
            },
            t0(),
        )
        .await
        .unwrap();
    id
}

fn session(account: &AccountId, token: &str, stage: SessionStage) -> ConsoleSession {
    ConsoleSession {
        token_hash: token.to_owned(),
        account_id: account.clone(),
        user_name: "Alice".into(),
        identity: SessionIdentity::User,
        stage,
        mfa: true,
        csrf: format!("csrf-{token}"),
        created_at: t0(),
        last_seen: t0(),
        expires_at: t0().saturating_add(Duration::from_secs(3600)),
        idle: Duration::from_secs(600),
    }
}

fn sign_in_event(account: &AccountId, id: &str, at: Timestamp, error: Option<&str>) -> AuditRecord {
    let mut event = json!({
        "eventId": id,
        "recipientAccountId": account.as_str(),
        "eventTime": at.to_string(),
        "eventName": "ConsoleSignin",
        "eventRW": "Write",
        "serviceName": "AasSub",
        "userIdentity": {"userName": "Alice"},
    });
    if let Some(code) = error {
        event["errorCode"] = json!(code);
    }
    AuditRecord::from_event(&event, at).unwrap()
}

async fn sessions_are_stored_touched_replaced_and_purged(b: &Backend) {
    let acct = account_with_user(&b.store).await;
    let pending = session(&acct, "h1", SessionStage::Mfa);
    b.store
        .create_console_session(&pending, None)
        .await
        .unwrap();
    assert_eq!(
        b.store.get_console_session("h1").await.unwrap(),
        Some(pending.clone())
    );
    let later = t0().saturating_add(Duration::from_secs(90));
    b.store.touch_console_session("h1", later).await.unwrap();
    assert_eq!(
        b.store
            .get_console_session("h1")
            .await
            .unwrap()
            .unwrap()
            .last_seen,
        later
    );
    // The next step replaces the pending session under a new token, atomically.
    let next = session(&acct, "h2", SessionStage::Password);
    b.store
        .create_console_session(&next, Some("h1"))
        .await
        .unwrap();
    assert_eq!(b.store.get_console_session("h1").await.unwrap(), None);
    assert_eq!(
        b.store
            .get_console_session("h2")
            .await
            .unwrap()
            .unwrap()
            .stage,
        SessionStage::Password
    );
    b.store.delete_console_session("h2").await.unwrap();
    assert_eq!(b.store.get_console_session("h2").await.unwrap(), None);

    let mut old = session(&acct, "h3", SessionStage::Active);
    old.expires_at = t0();
    b.store.create_console_session(&old, None).await.unwrap();
    b.store
        .create_console_session(&session(&acct, "h4", SessionStage::Active), None)
        .await
        .unwrap();
    assert_eq!(
        b.store
            .purge_console_sessions(t0().saturating_add(Duration::from_secs(1)))
            .await
            .unwrap(),
        1
    );
    assert!(b.store.get_console_session("h4").await.unwrap().is_some());
}

async fn a_sign_in_sets_last_login_with_its_event_and_session(b: &Backend) {
    let acct = account_with_user(&b.store).await;
    b.store
        .create_console_session(&session(&acct, "pending", SessionStage::Mfa), None)
        .await
        .unwrap();
    let at = t0().saturating_add(Duration::from_secs(60));
    let slot = Arc::new(AuditSlot::new(sign_in_event(&acct, "S-1", at, None)));
    let active = session(&acct, "active", SessionStage::Active);
    b.store
        .audited(Arc::clone(&slot))
        .complete_sign_in(&active, Some("pending"), at)
        .await
        .unwrap();
    assert!(slot.recorded());
    assert_eq!(b.store.get_console_session("pending").await.unwrap(), None);
    assert_eq!(
        b.store.get_console_session("active").await.unwrap(),
        Some(active)
    );
    // Any letter case of the name finds the user.
    let user = b.store.get_user(&acct, "alice").await.unwrap();
    assert_eq!(user.last_login_date, Some(at));

    // An unknown user changes nothing and writes no event.
    let slot = Arc::new(AuditSlot::new(sign_in_event(&acct, "S-2", at, None)));
    let mut ghost = session(&acct, "ghost", SessionStage::Active);
    ghost.user_name = "nobody".into();
    let err = b
        .store
        .audited(Arc::clone(&slot))
        .complete_sign_in(&ghost, None, at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(Entity::User)), "{err:?}");
    assert!(!slot.recorded());
    assert_eq!(b.store.get_console_session("ghost").await.unwrap(), None);
}

async fn failures_are_counted_from_the_trail(b: &Backend) {
    let acct = account_with_user(&b.store).await;
    let min = |m: u64| t0().saturating_add(Duration::from_secs(60 * m));
    let events = vec![
        sign_in_event(&acct, "F-1", min(1), Some("InvalidPassword")),
        sign_in_event(&acct, "F-2", min(2), Some("InvalidMFACode")),
        // Not counted: refused for other reasons, or a success.
        sign_in_event(&acct, "F-3", min(3), Some("LoginLocked")),
        sign_in_event(&acct, "F-4", min(4), None),
        sign_in_event(&acct, "F-5", min(70), Some("InvalidPassword")),
    ];
    b.store.append_audit_events(&events).await.unwrap();
    let count = |since| b.store.count_sign_in_failures(&acct, "Alice", since);
    assert_eq!(count(t0()).await.unwrap(), 3);
    assert_eq!(count(min(60)).await.unwrap(), 1);
    assert_eq!(
        b.store
            .count_sign_in_failures(&acct, "Bob", t0())
            .await
            .unwrap(),
        0
    );
}

async fn root_credentials_are_set_bound_and_steps_move_forward(b: &Backend) {
    let acct = account_with_user(&b.store).await;
    assert_eq!(b.store.get_root_login(&acct).await.unwrap(), None);
    let unknown = AccountId::parse("9999999999999999").unwrap();
    assert!(matches!(
        b.store
            .set_root_password(&unknown, "$argon2id$x", t0())
            .await,
        Err(StoreError::NotFound(Entity::Account))
    ));
    b.store
        .set_root_password(&acct, "$argon2id$first", t0())
        .await
        .unwrap();
    let later = t0().saturating_add(Duration::from_secs(60));
    b.store
        .set_root_password(&acct, "$argon2id$second", later)
        .await
        .unwrap();
    let login = b.store.get_root_login(&acct).await.unwrap().unwrap();
    assert_eq!(login.password_hash.as_deref(), Some("$argon2id$second"));
    assert_eq!(login.update_date, later);
    assert_eq!(login.mfa, None);

    // No device: no step is ever fresh.
    assert_eq!(
        b.store.use_root_totp_step(&acct, 5).await.unwrap(),
        TotpUse::Replayed
    );
    b.store
        .bind_root_mfa(&acct, "acs:ram::x:mfa/root", &[1, 2, 3], later)
        .await
        .unwrap();
    assert!(matches!(
        b.store
            .bind_root_mfa(&acct, "acs:ram::x:mfa/root", &[4], later)
            .await,
        Err(StoreError::AlreadyExists(Entity::UserMfaDevice))
    ));
    let mfa = b
        .store
        .get_root_login(&acct)
        .await
        .unwrap()
        .unwrap()
        .mfa
        .unwrap();
    assert_eq!(mfa.sealed_seed, vec![1, 2, 3]);
    assert_eq!(mfa.activate_date, later);
    // The password survives binding.
    assert_eq!(
        b.store
            .get_root_login(&acct)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$second")
    );
    assert_eq!(
        b.store.use_root_totp_step(&acct, 100).await.unwrap(),
        TotpUse::Fresh
    );
    assert_eq!(
        b.store.use_root_totp_step(&acct, 100).await.unwrap(),
        TotpUse::Replayed
    );
    assert_eq!(
        b.store.use_root_totp_step(&acct, 99).await.unwrap(),
        TotpUse::Replayed
    );
    assert_eq!(
        b.store.use_root_totp_step(&acct, 101).await.unwrap(),
        TotpUse::Fresh
    );

    assert_eq!(
        b.store.unbind_root_mfa(&acct, later).await.unwrap(),
        "acs:ram::x:mfa/root"
    );
    assert!(matches!(
        b.store.unbind_root_mfa(&acct, later).await,
        Err(StoreError::NotFound(Entity::UserMfaDevice))
    ));
    // A device bound again starts its steps afresh.
    b.store
        .bind_root_mfa(&acct, "acs:ram::x:mfa/root", &[9], later)
        .await
        .unwrap();
    assert_eq!(
        b.store.use_root_totp_step(&acct, 50).await.unwrap(),
        TotpUse::Fresh
    );
}

async fn root_and_role_sessions_keep_who_they_are(b: &Backend) {
    let acct = account_with_user(&b.store).await;
    let mut root = session(&acct, "r1", SessionStage::Active);
    root.user_name = "root".into();
    root.identity = SessionIdentity::Root;
    b.store
        .set_root_password(&acct, "$argon2id$p", t0())
        .await
        .unwrap();
    let at = t0().saturating_add(Duration::from_secs(5));
    b.store.complete_sign_in(&root, None, at).await.unwrap();
    assert_eq!(b.store.get_console_session("r1").await.unwrap(), Some(root));
    assert_eq!(
        b.store
            .get_root_login(&acct)
            .await
            .unwrap()
            .unwrap()
            .last_login_date,
        Some(at)
    );

    let mut role = session(&acct, "r2", SessionStage::Active);
    role.user_name = "alice@corp".into();
    role.identity = SessionIdentity::Role {
        role_id: "300000000000000001".into(),
        role_name: "Admin".into(),
        provider_arn: format!("acs:ram::{acct}:saml-provider/corp"),
    };
    // No RAM user of that name: a role session stamps no user.
    b.store.complete_sign_in(&role, None, at).await.unwrap();
    assert_eq!(b.store.get_console_session("r2").await.unwrap(), Some(role));
}
