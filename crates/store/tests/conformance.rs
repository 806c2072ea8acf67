//! The storage conformance suite: every case runs against SQLite and against PostgreSQL,
//! each on a fresh database, through the `Store` trait a server would hold.
//!
//! `cargo test -p rampart-store --test conformance`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rampart_model::{
    AccessKeyId, AccessKeyStatus, AccountId, KeyOwner, MasterKey, NewAccessKey, SecretString,
    Timestamp, User,
};
// The repository traits are imported for calls on a concrete `SqlStore` (second handles);
// everything else goes through `dyn Store`, as the server will.
use rampart_store::{
    AccessKeyRepo, AccountRepo, Entity, KeyOwnerRef, Marker, NewAccount, NewUser, NonceRepo,
    NonceUse, Page, Quota, Quotas, SqlStore, Store, StoreError, StoreOptions, UserRepo, UserUpdate,
};
use support::Backend;

conformance!(
    reopening_applies_migrations_once,
    create_account_with_its_root_key,
    account_names_are_unique,
    account_creation_is_all_or_nothing,
    unknown_account_is_not_found,
    accounts_list_in_pages,
    create_and_get_user,
    user_names_are_unique_per_account_ignoring_case,
    user_in_unknown_account_is_not_found,
    concurrent_creates_of_one_name_have_one_winner,
    concurrent_creates_all_land_and_survive_a_reopen,
    update_user_fields_and_rename,
    rename_onto_a_taken_name_changes_nothing,
    concurrent_updates_of_different_fields_both_apply,
    delete_user,
    delete_user_with_access_keys_conflicts,
    delete_user_races_key_creation_safely,
    pagination_over_250_users,
    pagination_is_stable_under_changes,
    access_key_lifecycle,
    access_keys_follow_user_renames,
    access_key_operations_are_scoped_to_their_owner,
    access_keys_of_unknown_owners,
    access_key_limit_per_user_and_root,
    access_key_limit_holds_under_concurrency,
    configured_quotas_apply,
    duplicate_access_key_id_is_refused,
    nonces_are_single_use,
    nonce_batches_decide_each_pair,
    large_nonce_batches_revive_expired_and_refuse_repeats,
    nonce_batches_report_each_keys_current_state,
    nonce_replay_is_seen_across_handles_and_restarts,
    concurrent_nonce_use_has_one_winner,
    expired_nonces_are_purged,
    closed_store_is_unavailable,
);

/// PostgreSQL: a pooled connection the server ended while it sat idle is replaced at its
/// next checkout once it has been idle `ping_idle_after`. One in steady use is not pinged
/// (that ping was a round trip per statement), so its next statement fails with
/// `Unavailable`, a 503 a client retries, and the pool drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_ended_while_idle_are_replaced() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let id = account(&backend.store, "a").await;
    for (ping_idle_after, first_read_fails) in
        [(Duration::ZERO, false), (Duration::from_secs(3600), true)]
    {
        let options = StoreOptions {
            max_connections: 1,
            ping_idle_after,
            ..StoreOptions::default()
        };
        let (store, tag) = backend.reopen_tagged(options).await.unwrap();
        store.get_account(&id).await.unwrap();
        backend.terminate(&tag).await;
        let first = store.get_account(&id).await;
        if first_read_fails {
            assert!(
                matches!(first, Err(StoreError::Unavailable(_))),
                "{first:?}"
            );
        } else {
            first.unwrap();
        }
        assert_eq!(store.get_account(&id).await.unwrap().id, id);
        store.close().await;
    }
    backend.finish().await;
}

// ---------------------------------------------------------------------------------------
// Helpers

fn master() -> MasterKey {
    MasterKey::from_slice(1, &[42; 32]).unwrap()
}

/// 2024-01-01T12:00:00Z.
fn t0() -> Timestamp {
    Timestamp::parse("2024-01-01T12:00:00Z").unwrap()
}

fn at(offset: Duration) -> Timestamp {
    t0().checked_add(offset).unwrap()
}

fn new_key() -> (NewAccessKey, SecretString) {
    NewAccessKey::generate(&master()).unwrap()
}

async fn account(store: &dyn Store, name: &str) -> AccountId {
    let (key, _) = new_key();
    let (account, _) = store
        .create_account(NewAccount { name: name.into() }, key, t0())
        .await
        .unwrap();
    account.id
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        user_name: name.into(),
        ..NewUser::default()
    }
}

async fn user(store: &dyn Store, account: &AccountId, name: &str) -> User {
    store
        .create_user(account, new_user(name), t0())
        .await
        .unwrap()
}

fn of_user<'a>(account: &'a AccountId, user_name: &'a str) -> KeyOwnerRef<'a> {
    KeyOwnerRef::User {
        account_id: account,
        user_name,
    }
}

async fn user_key(store: &dyn Store, account: &AccountId, name: &str) -> AccessKeyId {
    let (key, _) = new_key();
    store
        .create_access_key(of_user(account, name), key, t0())
        .await
        .unwrap()
        .id
}

fn unknown_account() -> AccountId {
    AccountId::parse("9999999999999999").unwrap()
}

fn not_found(entity: Entity) -> StoreError {
    StoreError::NotFound(entity)
}

// ---------------------------------------------------------------------------------------
// Opening

async fn reopening_applies_migrations_once(b: &Backend) {
    let id = account(&b.store, "acme").await;
    for _ in 0..2 {
        let again = b.reopen().await;
        assert_eq!(again.get_account(&id).await.unwrap().name, "acme");
        again.close().await;
    }
}

async fn closed_store_is_unavailable(b: &Backend) {
    let other = b.reopen().await;
    other.close().await;
    let err = other.get_account(&unknown_account()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // The original handle is unaffected.
    assert_eq!(
        b.store.get_account(&unknown_account()).await,
        Err(not_found(Entity::Account))
    );
}

// ---------------------------------------------------------------------------------------
// Accounts

async fn create_account_with_its_root_key(b: &Backend) {
    let store: &dyn Store = &b.store;
    let (key, secret) = new_key();
    let key_id = key.id.clone();
    let (account, root_key) = store
        .create_account(
            NewAccount {
                name: "acme".into(),
            },
            key,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(account.name, "acme");
    assert_eq!(account.created, t0());
    assert_eq!(account.id.as_str().len(), 16);
    assert_eq!(store.get_account(&account.id).await.unwrap(), account);

    assert_eq!(root_key.id, key_id);
    assert_eq!(root_key.owner, KeyOwner::AccountRoot(account.id.clone()));
    assert_eq!(root_key.status, AccessKeyStatus::Active);
    let stored = store.get_access_key(&key_id).await.unwrap();
    assert_eq!(stored, root_key);
    assert!(stored.open_secret(&master()).unwrap().ct_eq(&secret));
    let listed = store
        .list_access_keys(KeyOwnerRef::AccountRoot(&account.id))
        .await
        .unwrap();
    assert_eq!(listed, vec![root_key]);
}

async fn account_names_are_unique(b: &Backend) {
    let store: &dyn Store = &b.store;
    account(store, "acme").await;
    let (key, _) = new_key();
    let key_id = key.id.clone();
    let err = store
        .create_account(
            NewAccount {
                name: "acme".into(),
            },
            key,
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists(Entity::Account));
    assert_eq!(
        store.get_access_key(&key_id).await,
        Err(not_found(Entity::AccessKey))
    );
}

async fn account_creation_is_all_or_nothing(b: &Backend) {
    let store: &dyn Store = &b.store;
    let (key, _) = new_key();
    let first_key = key.id.clone();
    store
        .create_account(
            NewAccount {
                name: "first".into(),
            },
            key,
            t0(),
        )
        .await
        .unwrap();
    // The account row goes in, then the key insert fails on the duplicate id.
    let (other, _) = new_key();
    let clashing = NewAccessKey {
        id: first_key,
        sealed_secret: other.sealed_secret,
    };
    let err = store
        .create_account(
            NewAccount {
                name: "second".into(),
            },
            clashing,
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists(Entity::AccessKey));
    let accounts = store.list_accounts(&Page::default()).await.unwrap();
    assert_eq!(
        accounts
            .items
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["first"]
    );
    // Nothing of the failed attempt is left to collide with.
    account(store, "second").await;
}

async fn unknown_account_is_not_found(b: &Backend) {
    assert_eq!(
        b.store.get_account(&unknown_account()).await,
        Err(not_found(Entity::Account))
    );
}

async fn accounts_list_in_pages(b: &Backend) {
    let store: &dyn Store = &b.store;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(account(store, &format!("tenant-{i}")).await);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut page = Page::first(2);
    let mut sizes = Vec::new();
    loop {
        let listing = store.list_accounts(&page).await.unwrap();
        sizes.push(listing.items.len());
        seen.extend(listing.items.into_iter().map(|a| a.id));
        match listing.marker {
            Some(marker) => page = Page::new(Some(marker), 2),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, ids);
}

// ---------------------------------------------------------------------------------------
// Users

async fn create_and_get_user(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let created = store
        .create_user(
            &acme,
            NewUser {
                user_name: "Alice.Smith".into(),
                display_name: "Alice Smith (运维)".into(),
                email: "alice@example.com".into(),
                mobile_phone: "86-18600008888".into(),
                comments: "first user\nsecond line".into(),
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(created.account_id, acme);
    assert_eq!(created.user_id.as_str().len(), 17);
    assert_eq!(created.user_name, "Alice.Smith");
    assert_eq!(created.display_name, "Alice Smith (运维)");
    assert_eq!(created.email, "alice@example.com");
    assert_eq!(created.mobile_phone, "86-18600008888");
    assert_eq!(created.comments, "first user\nsecond line");
    assert_eq!((created.create_date, created.update_date), (t0(), t0()));
    assert_eq!(created.last_login_date, None);

    assert_eq!(store.get_user(&acme, "Alice.Smith").await.unwrap(), created);
    // Looked up in any letter case, returned as written.
    assert_eq!(store.get_user(&acme, "alice.smith").await.unwrap(), created);
    assert_eq!(
        store.get_user(&acme, "bob").await,
        Err(not_found(Entity::User))
    );
    let other = account(store, "other").await;
    assert_eq!(
        store.get_user(&other, "Alice.Smith").await,
        Err(not_found(Entity::User))
    );
}

async fn user_names_are_unique_per_account_ignoring_case(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let first = user(store, &acme, "alice").await;
    for clash in ["alice", "ALICE", "Alice"] {
        assert_eq!(
            store.create_user(&acme, new_user(clash), t0()).await,
            Err(StoreError::AlreadyExists(Entity::User)),
            "{clash}"
        );
    }
    let other = account(store, "other").await;
    let elsewhere = user(store, &other, "alice").await;
    assert_ne!(elsewhere.user_id, first.user_id);
}

async fn user_in_unknown_account_is_not_found(b: &Backend) {
    assert_eq!(
        b.store
            .create_user(&unknown_account(), new_user("alice"), t0())
            .await,
        Err(not_found(Entity::Account))
    );
}

async fn concurrent_creates_of_one_name_have_one_winner(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, acme) = (Arc::clone(&store), acme.clone());
            tokio::spawn(async move {
                let user = NewUser {
                    user_name: "alice".into(),
                    comments: format!("attempt {i}"),
                    ..NewUser::default()
                };
                store.create_user(&acme, user, t0()).await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::AlreadyExists(Entity::User)) => {}
            Err(other) => panic!("{}: unexpected {other:?}", b.engine()),
        }
    }
    assert_eq!(won, 1, "{}", b.engine());
    let listed = store.list_users(&acme, &Page::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
}

/// Many writers at once, some of them colliding: every success is there after a reopen and
/// every collision is reported as such. On SQLite the writes share group commits (one fsync
/// for many transactions), and a failing member must not take its group's others with it.
async fn concurrent_creates_all_land_and_survive_a_reopen(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let before = b.store.group_commit_stats();
    // 150 distinct names, then 50 of them again, all started together.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (store, acme) = (Arc::clone(&store), acme.clone());
            let name = format!("user-{:03}", if i < 150 { i } else { i - 150 });
            tokio::spawn(async move { store.create_user(&acme, new_user(&name), t0()).await })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists(Entity::User)) => taken += 1,
            Err(other) => panic!("{}: unexpected {other:?}", b.engine()),
        }
    }
    assert_eq!((created, taken), (150, 50), "{}", b.engine());
    if let (Some((c0, m0)), Some((c1, m1))) = (before, b.store.group_commit_stats()) {
        let (commits, members) = (c1 - c0, m1 - m0);
        assert_eq!(members, 150, "every successful create committed once");
        assert!(
            commits < members,
            "concurrent writes should share commits: {commits} commits for {members}"
        );
    }
    b.store.close().await;
    let reopened = b.reopen().await;
    for i in 0..150 {
        let name = format!("user-{i:03}");
        reopened
            .get_user(&acme, &name)
            .await
            .unwrap_or_else(|e| panic!("{}: {name} lost: {e:?}", b.engine()));
    }
}

async fn update_user_fields_and_rename(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let alice = store
        .create_user(
            &acme,
            NewUser {
                user_name: "alice".into(),
                email: "alice@example.com".into(),
                ..NewUser::default()
            },
            t0(),
        )
        .await
        .unwrap();

    let later = at(Duration::from_secs(60));
    let update = UserUpdate {
        new_display_name: Some("Alice".into()),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(&acme, "ALICE", update, later)
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Alice");
    assert_eq!(updated.email, "alice@example.com", "untouched fields stay");
    assert_eq!(updated.create_date, t0());
    assert_eq!(updated.update_date, later);
    assert_eq!(store.get_user(&acme, "alice").await.unwrap(), updated);

    let rename = UserUpdate {
        new_user_name: Some("bob".into()),
        new_email: Some(String::new()),
        ..UserUpdate::default()
    };
    let bob = store
        .update_user(&acme, "alice", rename, later)
        .await
        .unwrap();
    assert_eq!((bob.user_name.as_str(), bob.email.as_str()), ("bob", ""));
    assert_eq!(bob.user_id, alice.user_id, "a rename keeps the id");
    assert_eq!(
        store.get_user(&acme, "alice").await,
        Err(not_found(Entity::User))
    );

    // A change of letter case only is a rename onto the user's own key: allowed.
    let recased = UserUpdate {
        new_user_name: Some("Bob".into()),
        ..UserUpdate::default()
    };
    let bob = store
        .update_user(&acme, "bob", recased, later)
        .await
        .unwrap();
    assert_eq!(bob.user_name, "Bob");
    assert_eq!(store.get_user(&acme, "bob").await.unwrap().user_name, "Bob");

    assert_eq!(
        store
            .update_user(&acme, "nobody", UserUpdate::default(), later)
            .await,
        Err(not_found(Entity::User))
    );
}

async fn rename_onto_a_taken_name_changes_nothing(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let alice = user(store, &acme, "alice").await;
    user(store, &acme, "bob").await;
    let rename = UserUpdate {
        new_user_name: Some("BOB".into()),
        new_comments: Some("should not stick".into()),
        ..UserUpdate::default()
    };
    assert_eq!(
        store
            .update_user(&acme, "alice", rename, at(Duration::from_secs(1)))
            .await,
        Err(StoreError::AlreadyExists(Entity::User))
    );
    assert_eq!(store.get_user(&acme, "alice").await.unwrap(), alice);
}

async fn concurrent_updates_of_different_fields_both_apply(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    user(&b.store, &acme, "alice").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let updates = [
        UserUpdate {
            new_display_name: Some("Alice".into()),
            ..UserUpdate::default()
        },
        UserUpdate {
            new_email: Some("alice@example.com".into()),
            ..UserUpdate::default()
        },
        UserUpdate {
            new_comments: Some("on call".into()),
            ..UserUpdate::default()
        },
    ];
    let tasks: Vec<_> = updates
        .into_iter()
        .map(|update| {
            let (store, acme) = (Arc::clone(&store), acme.clone());
            tokio::spawn(async move { store.update_user(&acme, "alice", update, t0()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let alice = store.get_user(&acme, "alice").await.unwrap();
    assert_eq!(
        (
            alice.display_name.as_str(),
            alice.email.as_str(),
            alice.comments.as_str()
        ),
        ("Alice", "alice@example.com", "on call")
    );
}

async fn delete_user(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let first = user(store, &acme, "alice").await;
    store.delete_user(&acme, "Alice").await.unwrap();
    assert_eq!(
        store.get_user(&acme, "alice").await,
        Err(not_found(Entity::User))
    );
    assert_eq!(
        store.delete_user(&acme, "alice").await,
        Err(not_found(Entity::User))
    );
    let second = user(store, &acme, "alice").await;
    assert_ne!(second.user_id, first.user_id);
}

async fn delete_user_with_access_keys_conflicts(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let alice = user(store, &acme, "alice").await;
    let key = user_key(store, &acme, "alice").await;
    assert_eq!(
        store.delete_user(&acme, "alice").await,
        Err(StoreError::DeleteConflict {
            entity: Entity::User,
            blocker: Entity::AccessKey
        })
    );
    assert_eq!(store.get_user(&acme, "alice").await.unwrap(), alice);
    store
        .delete_access_key(of_user(&acme, "alice"), &key)
        .await
        .unwrap();
    store.delete_user(&acme, "alice").await.unwrap();
}

async fn delete_user_races_key_creation_safely(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    for round in 0..8 {
        let name = format!("racer-{round}");
        user(&*store, &acme, &name).await;
        let deleter = {
            let (store, acme, name) = (Arc::clone(&store), acme.clone(), name.clone());
            tokio::spawn(async move { store.delete_user(&acme, &name).await })
        };
        let creator = {
            let (store, acme, name) = (Arc::clone(&store), acme.clone(), name.clone());
            tokio::spawn(async move {
                let (key, _) = new_key();
                store
                    .create_access_key(of_user(&acme, &name), key, t0())
                    .await
            })
        };
        let (deleted, created) = (deleter.await.unwrap(), creator.await.unwrap());
        match (&deleted, &created) {
            (Ok(()), Err(StoreError::NotFound(Entity::User))) => {}
            (Err(StoreError::DeleteConflict { .. }), Ok(key)) => {
                // The user survived and owns the key.
                let found = store.get_access_key(&key.id).await.unwrap();
                assert!(matches!(found.owner, KeyOwner::User { .. }));
            }
            other => panic!("{}: round {round}: {other:?}", b.engine()),
        }
    }
}

async fn pagination_over_250_users(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let other = account(store, "other").await;
    user(store, &other, "not-in-acme").await;
    // Inserted out of order, in mixed case: the order is by name, ignoring case.
    let mut expected = Vec::new();
    for i in 0..250 {
        let n = (i * 97) % 250;
        let name = if n % 3 == 0 {
            format!("User-{n:03}")
        } else {
            format!("user-{n:03}")
        };
        user(store, &acme, &name).await;
        expected.push(name);
    }
    expected.sort_by_key(|n| n.to_ascii_lowercase());

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut page = Page::first(100);
    loop {
        let listing = store.list_users(&acme, &page).await.unwrap();
        sizes.push((listing.items.len(), listing.is_truncated()));
        seen.extend(listing.items.into_iter().map(|u| u.user_name));
        let Some(marker) = listing.marker else { break };
        // The marker travels through the client as text.
        let marker = Marker::parse(&marker.encode()).unwrap();
        page = Page::new(Some(marker), 100);
    }
    assert_eq!(sizes, [(100, true), (100, true), (50, false)]);
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);

    let exact = store.list_users(&acme, &Page::first(250)).await.unwrap();
    assert_eq!((exact.items.len(), exact.is_truncated()), (250, false));
    let all = store.list_users(&acme, &Page::first(1000)).await.unwrap();
    assert_eq!(all.items.len(), 250);
    let none = store
        .list_users(&unknown_account(), &Page::default())
        .await
        .unwrap();
    assert!(none.items.is_empty() && !none.is_truncated());
}

async fn pagination_is_stable_under_changes(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    for name in ["a", "b", "c", "d"] {
        user(store, &acme, name).await;
    }
    let first = store.list_users(&acme, &Page::first(2)).await.unwrap();
    let names = |l: &rampart_store::Listing<User>| {
        l.items
            .iter()
            .map(|u| u.user_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["a", "b"]);
    // Between pages: the marker's own user goes, one appears behind it, one ahead.
    store.delete_user(&acme, "b").await.unwrap();
    user(store, &acme, "a2").await;
    user(store, &acme, "bb").await;
    let next = store
        .list_users(&acme, &Page::new(first.marker, 2))
        .await
        .unwrap();
    assert_eq!(names(&next), ["bb", "c"]);
    let last = store
        .list_users(&acme, &Page::new(next.marker, 2))
        .await
        .unwrap();
    assert_eq!(
        (names(&last), last.is_truncated()),
        (vec!["d".to_owned()], false)
    );
}

// ---------------------------------------------------------------------------------------
// AccessKeys

async fn access_key_lifecycle(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let alice = user(store, &acme, "alice").await;
    let (new, secret) = new_key();
    let created = store
        .create_access_key(
            of_user(&acme, "Alice"),
            new.clone(),
            at(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let owner = KeyOwner::User {
        account_id: acme.clone(),
        user_id: alice.user_id.clone(),
        user_name: "alice".into(),
    };
    assert_eq!(created.id, new.id);
    assert_eq!(created.owner, owner);
    assert_eq!(created.status, AccessKeyStatus::Active);
    assert_eq!(created.create_date, at(Duration::from_secs(5)));
    assert_eq!(created.sealed_secret, new.sealed_secret);

    let fetched = store.get_access_key(&new.id).await.unwrap();
    assert_eq!(fetched, created);
    assert!(fetched.open_secret(&master()).unwrap().ct_eq(&secret));
    assert_eq!(
        store
            .list_access_keys(of_user(&acme, "alice"))
            .await
            .unwrap(),
        vec![created.clone()]
    );

    store
        .set_access_key_status(of_user(&acme, "alice"), &new.id, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        store.get_access_key(&new.id).await.unwrap().status,
        AccessKeyStatus::Inactive
    );
    store
        .set_access_key_status(of_user(&acme, "alice"), &new.id, AccessKeyStatus::Active)
        .await
        .unwrap();
    assert_eq!(
        store.get_access_key(&new.id).await.unwrap().status,
        AccessKeyStatus::Active
    );

    store
        .delete_access_key(of_user(&acme, "alice"), &new.id)
        .await
        .unwrap();
    assert_eq!(
        store.get_access_key(&new.id).await,
        Err(not_found(Entity::AccessKey))
    );
    assert!(store
        .list_access_keys(of_user(&acme, "alice"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .delete_access_key(of_user(&acme, "alice"), &new.id)
            .await,
        Err(not_found(Entity::AccessKey))
    );
}

async fn access_keys_follow_user_renames(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    user(store, &acme, "alice").await;
    let key = user_key(store, &acme, "alice").await;
    let rename = UserUpdate {
        new_user_name: Some("carol".into()),
        ..UserUpdate::default()
    };
    store
        .update_user(&acme, "alice", rename, t0())
        .await
        .unwrap();
    let found = store.get_access_key(&key).await.unwrap();
    assert!(matches!(&found.owner, KeyOwner::User { user_name, .. } if user_name == "carol"));
    assert_eq!(
        store
            .list_access_keys(of_user(&acme, "carol"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.list_access_keys(of_user(&acme, "alice")).await,
        Err(not_found(Entity::User))
    );
}

async fn access_key_operations_are_scoped_to_their_owner(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let other = account(store, "other").await;
    user(store, &acme, "alice").await;
    user(store, &acme, "bob").await;
    user(store, &other, "alice").await;
    let key = user_key(store, &acme, "alice").await;
    let root_key = store
        .list_access_keys(KeyOwnerRef::AccountRoot(&acme))
        .await
        .unwrap()
        .remove(0)
        .id;

    let strangers = [
        of_user(&acme, "bob"),
        of_user(&other, "alice"),
        KeyOwnerRef::AccountRoot(&acme),
        KeyOwnerRef::AccountRoot(&other),
    ];
    for stranger in strangers {
        assert_eq!(
            store
                .set_access_key_status(stranger, &key, AccessKeyStatus::Inactive)
                .await,
            Err(not_found(Entity::AccessKey)),
            "{stranger:?}"
        );
        assert_eq!(
            store.delete_access_key(stranger, &key).await,
            Err(not_found(Entity::AccessKey)),
            "{stranger:?}"
        );
    }
    assert_eq!(
        store
            .delete_access_key(of_user(&acme, "alice"), &root_key)
            .await,
        Err(not_found(Entity::AccessKey))
    );
    assert_eq!(
        store
            .delete_access_key(of_user(&acme, "nobody"), &key)
            .await,
        Err(not_found(Entity::User))
    );
    assert_eq!(
        store
            .set_access_key_status(
                KeyOwnerRef::AccountRoot(&unknown_account()),
                &key,
                AccessKeyStatus::Inactive
            )
            .await,
        Err(not_found(Entity::Account))
    );
    let untouched = store.get_access_key(&key).await.unwrap();
    assert_eq!(untouched.status, AccessKeyStatus::Active);
    assert!(store.get_access_key(&root_key).await.is_ok());
    // Listing the root's keys shows only the root's.
    assert_eq!(
        store
            .list_access_keys(KeyOwnerRef::AccountRoot(&acme))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn access_keys_of_unknown_owners(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    let (key, _) = new_key();
    assert_eq!(
        store
            .create_access_key(of_user(&acme, "nobody"), key.clone(), t0())
            .await,
        Err(not_found(Entity::User))
    );
    assert_eq!(
        store
            .create_access_key(
                KeyOwnerRef::AccountRoot(&unknown_account()),
                key.clone(),
                t0()
            )
            .await,
        Err(not_found(Entity::Account))
    );
    assert_eq!(
        store.list_access_keys(of_user(&acme, "nobody")).await,
        Err(not_found(Entity::User))
    );
    assert_eq!(
        store
            .list_access_keys(KeyOwnerRef::AccountRoot(&unknown_account()))
            .await,
        Err(not_found(Entity::Account))
    );
    assert_eq!(
        store.get_access_key(&key.id).await,
        Err(not_found(Entity::AccessKey))
    );
}

async fn access_key_limit_per_user_and_root(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    user(store, &acme, "alice").await;
    let first = user_key(store, &acme, "alice").await;
    user_key(store, &acme, "alice").await;
    let (third, _) = new_key();
    assert_eq!(
        store
            .create_access_key(of_user(&acme, "alice"), third.clone(), t0())
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::AccessKeysPerUser,
            limit: 2
        })
    );
    // A user's keys do not count against another user or the root.
    user(store, &acme, "bob").await;
    user_key(store, &acme, "bob").await;
    // The root has one key from account creation and may have five.
    for _ in 0..4 {
        let (key, _) = new_key();
        store
            .create_access_key(KeyOwnerRef::AccountRoot(&acme), key, t0())
            .await
            .unwrap();
    }
    let (sixth, _) = new_key();
    assert_eq!(
        store
            .create_access_key(KeyOwnerRef::AccountRoot(&acme), sixth, t0())
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::AccessKeysPerRoot,
            limit: 5
        })
    );
    // Deleting a key makes room.
    store
        .delete_access_key(of_user(&acme, "alice"), &first)
        .await
        .unwrap();
    store
        .create_access_key(of_user(&acme, "alice"), third, t0())
        .await
        .unwrap();
}

async fn access_key_limit_holds_under_concurrency(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    user(&b.store, &acme, "alice").await;
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let spawn_creates = |root: bool| -> Vec<_> {
        (0..12)
            .map(|_| {
                let (store, acme) = (Arc::clone(&store), acme.clone());
                tokio::spawn(async move {
                    let (key, _) = new_key();
                    let owner = if root {
                        KeyOwnerRef::AccountRoot(&acme)
                    } else {
                        of_user(&acme, "alice")
                    };
                    store.create_access_key(owner, key, t0()).await
                })
            })
            .collect()
    };
    for (root, allowed) in [(false, 2), (true, 4)] {
        let mut created = 0;
        for task in spawn_creates(root) {
            match task.await.unwrap() {
                Ok(_) => created += 1,
                Err(StoreError::LimitExceeded { .. }) => {}
                Err(other) => panic!("{}: unexpected {other:?}", b.engine()),
            }
        }
        assert_eq!(created, allowed, "{} root={root}", b.engine());
    }
    assert_eq!(
        store
            .list_access_keys(of_user(&acme, "alice"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_access_keys(KeyOwnerRef::AccountRoot(&acme))
            .await
            .unwrap()
            .len(),
        5
    );
}

async fn configured_quotas_apply(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    user(&b.store, &acme, "alice").await;
    let generous = b
        .reopen_with(StoreOptions {
            quotas: Quotas {
                access_keys_per_user: 3,
                access_keys_per_root: 1,
                ..Quotas::default()
            },
            ..StoreOptions::default()
        })
        .await;
    for _ in 0..3 {
        user_key(&generous, &acme, "alice").await;
    }
    let (key, _) = new_key();
    assert_eq!(
        generous
            .create_access_key(KeyOwnerRef::AccountRoot(&acme), key, t0())
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::AccessKeysPerRoot,
            limit: 1
        })
    );
    generous.close().await;
}

async fn duplicate_access_key_id_is_refused(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    user(store, &acme, "alice").await;
    user(store, &acme, "bob").await;
    let (key, _) = new_key();
    store
        .create_access_key(of_user(&acme, "alice"), key.clone(), t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .create_access_key(of_user(&acme, "bob"), key, t0())
            .await,
        Err(StoreError::AlreadyExists(Entity::AccessKey))
    );
    assert!(store
        .list_access_keys(of_user(&acme, "bob"))
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------
// Signature nonces

const SKEW: Duration = Duration::from_secs(15 * 60);

async fn nonces_are_single_use(b: &Backend) {
    let store: &dyn Store = &b.store;
    let key = "LTAI5tAAAAAAAAAAAAAAAAAA";
    let use_at =
        |nonce: &'static str, key: &'static str, now| store.use_nonce(key, nonce, now, SKEW);
    assert_eq!(use_at("n-1", key, t0()).await, Ok(NonceUse::Fresh));
    assert_eq!(use_at("n-1", key, t0()).await, Ok(NonceUse::Replayed));
    assert_eq!(
        use_at("n-1", key, at(SKEW - Duration::from_millis(1))).await,
        Ok(NonceUse::Replayed)
    );
    // Scoped per AccessKeyId, STS ids included.
    assert_eq!(
        use_at("n-1", "STS.NUgYrLnoC37mZZCNnAbez2cUS", t0()).await,
        Ok(NonceUse::Fresh)
    );
    assert_eq!(use_at("n-2", key, t0()).await, Ok(NonceUse::Fresh));
    // Once its time to live is over a nonce may be used again (its request would fail the
    // timestamp check anyway), and is then remembered afresh.
    assert_eq!(use_at("n-1", key, at(SKEW)).await, Ok(NonceUse::Fresh));
    assert_eq!(use_at("n-1", key, at(SKEW)).await, Ok(NonceUse::Replayed));
    // Any text is a nonce: long, non-ASCII, NUL.
    let odd = [
        "x".repeat(10_000),
        "ノンス\u{0}nonce".to_owned(),
        String::new(),
    ];
    for nonce in &odd {
        assert_eq!(
            store.use_nonce(key, nonce, t0(), SKEW).await,
            Ok(NonceUse::Fresh)
        );
        assert_eq!(
            store.use_nonce(key, nonce, t0(), SKEW).await,
            Ok(NonceUse::Replayed)
        );
    }
}

async fn nonce_batches_decide_each_pair(b: &Backend) {
    let store: &dyn Store = &b.store;
    let k1 = "LTAI5tAAAAAAAAAAAAAAAAAA".to_owned();
    let k2 = "LTAI5tBBBBBBBBBBBBBBBBBB".to_owned();
    store.use_nonce(&k1, "seen", t0(), SKEW).await.unwrap();
    let batch = vec![
        (k1.clone(), "seen".to_owned()),
        (k1.clone(), "new".to_owned()),
        (k2.clone(), "new".to_owned()),
        (k1.clone(), "new".to_owned()),
    ];
    assert_eq!(
        store.use_nonces(&batch, t0(), SKEW).await.unwrap(),
        vec![
            NonceUse::Replayed,
            NonceUse::Fresh,
            NonceUse::Fresh,
            NonceUse::Replayed
        ]
    );
    // What a batch recorded is seen by single uses, and the other way round.
    assert_eq!(
        store.use_nonce(&k2, "new", t0(), SKEW).await,
        Ok(NonceUse::Replayed)
    );
    assert_eq!(store.use_nonces(&[], t0(), SKEW).await, Ok(vec![]));
}

/// More rows than one statement takes, repeats inside the batch, a nonce seen before and
/// still live, and one whose time ran out (usable again).
async fn large_nonce_batches_revive_expired_and_refuse_repeats(b: &Backend) {
    let store: &dyn Store = &b.store;
    let key = "LTAI5tCCCCCCCCCCCCCCCCCC".to_owned();
    store.use_nonce(&key, "old", t0(), SKEW).await.unwrap();
    let later = at(SKEW + Duration::from_secs(1));
    store.use_nonce(&key, "live", later, SKEW).await.unwrap();
    let mut batch: Vec<(String, String)> = (0..2_400)
        .map(|i| (key.clone(), format!("n{}", i % 2_000)))
        .collect();
    batch.push((key.clone(), "old".to_owned()));
    batch.push((key.clone(), "live".to_owned()));
    let out = store
        .use_nonces_with_keys(&batch, later, SKEW)
        .await
        .unwrap();
    assert_eq!(out.len(), batch.len());
    let fresh = |range: std::ops::Range<usize>| {
        out[range]
            .iter()
            .filter(|(u, _)| *u == NonceUse::Fresh)
            .count()
    };
    assert_eq!(fresh(0..2_000), 2_000, "{}", b.engine());
    assert_eq!(fresh(2_000..2_400), 0, "repeats within the batch");
    assert_eq!(out[2_400].0, NonceUse::Fresh, "expired, so usable again");
    assert_eq!(out[2_401].0, NonceUse::Replayed, "still live");
    assert!(out.iter().all(|(_, check)| check.is_none()), "no such key");
    assert_eq!(
        store.use_nonce(&key, "n1999", later, SKEW).await,
        Ok(NonceUse::Replayed)
    );
}

async fn nonce_batches_report_each_keys_current_state(b: &Backend) {
    let store: &dyn Store = &b.store;
    let acme = account(store, "acme").await;
    user(store, &acme, "alice").await;
    let key = user_key(store, &acme, "alice").await;
    let id = key.as_str().to_owned();
    let ghost = "LTAI5tGHOSTGHOSTGHOSTGHO".to_owned();
    let batch = vec![
        (id.clone(), "n1".to_owned()),
        (ghost.clone(), "n1".to_owned()),
    ];
    let out = store
        .use_nonces_with_keys(&batch, t0(), SKEW)
        .await
        .unwrap();
    assert_eq!(out[0].0, NonceUse::Fresh);
    let check = out[0].1.clone().unwrap();
    assert_eq!(check.status, AccessKeyStatus::Active);
    assert_eq!(check.user_name.as_deref(), Some("alice"));
    assert_eq!(check.authz_epoch, store.authz_epoch(&acme).await.unwrap());
    assert_eq!(out[1], (NonceUse::Fresh, None), "no such key");
    store
        .set_access_key_status(of_user(&acme, "alice"), &key, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    let out = store
        .use_nonces_with_keys(&[(id.clone(), "n1".to_owned())], t0(), SKEW)
        .await
        .unwrap();
    assert_eq!(out[0].0, NonceUse::Replayed);
    assert_eq!(
        out[0].1.as_ref().map(|c| c.status),
        Some(AccessKeyStatus::Inactive)
    );
}

async fn nonce_replay_is_seen_across_handles_and_restarts(b: &Backend) {
    let key = "LTAI5tBBBBBBBBBBBBBBBBBB";
    let node_a = b.reopen().await;
    let node_b = b.reopen().await;
    assert_eq!(
        node_a.use_nonce(key, "n", t0(), SKEW).await,
        Ok(NonceUse::Fresh)
    );
    assert_eq!(
        node_b.use_nonce(key, "n", t0(), SKEW).await,
        Ok(NonceUse::Replayed)
    );
    assert_eq!(
        node_b.use_nonce(key, "m", t0(), SKEW).await,
        Ok(NonceUse::Fresh)
    );
    node_a.close().await;
    node_b.close().await;
    // A restart: a brand-new handle still remembers both.
    let restarted = b.reopen().await;
    assert_eq!(
        restarted.use_nonce(key, "n", t0(), SKEW).await,
        Ok(NonceUse::Replayed)
    );
    assert_eq!(
        restarted.use_nonce(key, "m", t0(), SKEW).await,
        Ok(NonceUse::Replayed)
    );
    restarted.close().await;
}

async fn concurrent_nonce_use_has_one_winner(b: &Backend) {
    let key = "LTAI5tCCCCCCCCCCCCCCCCCC";
    let second = b.reopen().await;
    let nodes: [Arc<dyn Store>; 2] = [Arc::new(b.store.clone()), Arc::new(second.clone())];
    for round in 0..5 {
        let nonce = format!("race-{round}");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (node, nonce) = (Arc::clone(&nodes[i % 2]), nonce.clone());
                tokio::spawn(async move { node.use_nonce(key, &nonce, t0(), SKEW).await })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() == NonceUse::Fresh {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1, "{} round {round}", b.engine());
    }
    second.close().await;
}

async fn expired_nonces_are_purged(b: &Backend) {
    let key = "LTAI5tDDDDDDDDDDDDDDDDDD";
    let store: SqlStore = b.reopen().await;
    for nonce in ["a", "b", "c"] {
        store
            .use_nonce(key, nonce, t0(), Duration::from_secs(1))
            .await
            .unwrap();
    }
    store
        .use_nonce(key, "long-lived", t0(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(store.purge_expired_nonces(t0()).await, Ok(0));
    assert_eq!(
        store.purge_expired_nonces(at(Duration::from_secs(2))).await,
        Ok(3)
    );
    assert_eq!(
        store.use_nonce(key, "long-lived", t0(), SKEW).await,
        Ok(NonceUse::Replayed)
    );
    // Opportunistic purge: a use more than a minute after the last purge clears the rest.
    store
        .use_nonce(
            key,
            "d",
            at(Duration::from_secs(10)),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    store
        .use_nonce(key, "e", at(Duration::from_secs(7200)), SKEW)
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_expired_nonces(at(Duration::from_secs(7200)))
            .await,
        Ok(0),
        "already purged by use_nonce"
    );
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// Engine-specific checks (outside the shared suite)

mod sqlite_only {
    use super::*;

    /// Secrets reach the database sealed: the plain text appears in none of the SQLite
    /// files, while the AccessKeyIds do (so the search itself works).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_files_hold_no_plain_secret() {
        let b = Backend::sqlite().await;
        let store: &dyn Store = &b.store;
        let (root, root_secret) = new_key();
        let (acme, _) = store
            .create_account(
                NewAccount {
                    name: "acme".into(),
                },
                root,
                t0(),
            )
            .await
            .unwrap();
        user(store, &acme.id, "alice").await;
        let mut secrets = vec![root_secret];
        let mut ids = Vec::new();
        for _ in 0..2 {
            let (key, secret) = new_key();
            ids.push(key.id.clone());
            store
                .create_access_key(of_user(&acme.id, "alice"), key, t0())
                .await
                .unwrap();
            secrets.push(secret);
        }
        // Read while the store is open: the newest pages are still in the -wal file.
        let files = b.sqlite_files().unwrap();
        let mut all = Vec::new();
        for file in &files {
            if let Ok(bytes) = std::fs::read(file) {
                all.extend_from_slice(&bytes);
                all.push(0);
            }
        }
        assert!(files[1].exists(), "WAL mode is on: the -wal file exists");
        let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
        for secret in &secrets {
            assert!(
                !contains(secret.expose().as_bytes()),
                "plain secret on disk"
            );
        }
        for id in &ids {
            assert!(
                contains(id.as_str().as_bytes()),
                "search sanity: id {id} not found"
            );
        }
        b.finish().await;
    }

    #[tokio::test]
    async fn a_schema_option_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let options = StoreOptions {
            postgres_schema: Some("x".into()),
            ..StoreOptions::default()
        };
        assert!(matches!(
            SqlStore::open_with(&url, options).await,
            Err(StoreError::InvalidConfig(_))
        ));
    }
}

mod opening {
    use super::*;

    #[tokio::test]
    async fn unreachable_database_is_unavailable() {
        let options = StoreOptions {
            acquire_timeout: Duration::from_secs(2),
            ..StoreOptions::default()
        };
        let err = SqlStore::open_with("postgres://postgres@127.0.0.1:1/test", options)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn unsupported_urls_are_configuration_errors() {
        for url in ["mysql://root@127.0.0.1/test", "rampart.db", ""] {
            assert!(
                matches!(SqlStore::open(url).await, Err(StoreError::InvalidConfig(_))),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_not_created_without_rwc() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("absent.db").display());
        let err = SqlStore::open(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
