//! The storage conformance suite for identity providers (OIDC and SAML): every case on
//! SQLite and on PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_federation`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::sync::Arc;

use rampart_model::{AccountId, AuthnSignAlgo, MasterKey, NewAccessKey, Timestamp};
use rampart_store::{
    Entity, FederationRepo, NewAccount, NewOidcProvider, NewSamlProvider, OidcProviderUpdate, Page,
    Quota, Quotas, SamlMetadata, SamlProviderUpdate, SqlStore, Store, StoreError, StoreOptions,
};
use support::Backend;

conformance!(
    oidc_names_and_issuers_are_unique_per_account,
    oidc_update_and_delete,
    oidc_list_edits_check_their_limits_and_change_nothing_on_failure,
    concurrent_list_adds_never_exceed_the_limits,
    providers_paginate_in_name_order,
    saml_lifecycle_and_isolation,
    provider_quotas_per_account,
);

fn t0() -> Timestamp {
    Timestamp::parse("2024-01-01T12:00:00Z").unwrap()
}

fn t1() -> Timestamp {
    Timestamp::parse("2024-01-02T12:00:00Z").unwrap()
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

fn fp(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

fn oidc(name: &str, issuer: &str) -> NewOidcProvider {
    NewOidcProvider {
        name: name.into(),
        issuer_url: issuer.into(),
        fingerprints: vec![fp(1)],
        client_ids: vec!["sts.aliyuncs.com".into()],
        issuance_limit_time: 12,
        description: "ack cluster".into(),
    }
}

fn saml(name: &str) -> NewSamlProvider {
    NewSamlProvider {
        name: name.into(),
        description: "okta".into(),
        authn_sign_algo: AuthnSignAlgo::RsaSha256,
        encoded_metadata: "PD94bWw=".into(),
        metadata_entity_id: "http://www.okta.com/exk1".into(),
    }
}

async fn oidc_names_and_issuers_are_unique_per_account(b: &Backend) {
    let s = &b.store;
    let acme = account(s, "acme").await;
    let other = account(s, "other").await;
    let created = s
        .create_oidc_provider(&acme, oidc("GitHub", "https://token.example.com"), t0())
        .await
        .unwrap();
    assert_eq!(created.fingerprints, vec![fp(1)]);
    assert_eq!(created.create_date, t0());
    let got = s.get_oidc_provider(&acme, "github").await.unwrap();
    assert_eq!(
        got, created,
        "looked up case-insensitively, returned as written"
    );
    assert_eq!(got.name, "GitHub");

    let dup = s
        .create_oidc_provider(&acme, oidc("GITHUB", "https://other.example.com"), t0())
        .await;
    assert_eq!(dup, Err(StoreError::AlreadyExists(Entity::OidcProvider)));
    let dup_issuer = s
        .create_oidc_provider(&acme, oidc("second", "https://token.example.com"), t0())
        .await;
    assert_eq!(
        dup_issuer,
        Err(StoreError::AlreadyExists(Entity::OidcIssuerUrl))
    );
    // Issuers compare exactly: a token's `iss` must equal the URL byte for byte.
    s.create_oidc_provider(&acme, oidc("second", "https://token.example.com/"), t0())
        .await
        .unwrap();

    // Another account: same name and issuer are free, and acme's provider is invisible.
    assert_eq!(
        s.get_oidc_provider(&other, "GitHub").await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    s.create_oidc_provider(&other, oidc("GitHub", "https://token.example.com"), t0())
        .await
        .unwrap();
    assert_eq!(
        s.delete_oidc_provider(&other, "second").await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    assert!(s.get_oidc_provider(&acme, "second").await.is_ok());

    let ghost = AccountId::parse("9999999999999999").unwrap();
    assert_eq!(
        s.create_oidc_provider(&ghost, oidc("x", "https://x.example.com"), t0())
            .await,
        Err(StoreError::NotFound(Entity::Account))
    );

    // Duplicates inside the request's lists are dropped, first occurrence kept.
    let mut dupes = oidc("dupes", "https://dupes.example.com");
    dupes.fingerprints = vec![fp(2), fp(1), fp(2)];
    dupes.client_ids = vec!["b".into(), "a".into(), "b".into()];
    let p = s.create_oidc_provider(&acme, dupes, t0()).await.unwrap();
    assert_eq!(p.fingerprints, vec![fp(2), fp(1)]);
    assert_eq!(p.client_ids, vec!["b", "a"]);
    assert_eq!(s.get_oidc_provider(&acme, "dupes").await.unwrap(), p);
}

async fn oidc_update_and_delete(b: &Backend) {
    let s = &b.store;
    let acme = account(s, "acme").await;
    s.create_oidc_provider(&acme, oidc("p", "https://p.example.com"), t0())
        .await
        .unwrap();
    let only_hours = s
        .update_oidc_provider(
            &acme,
            "P",
            OidcProviderUpdate {
                issuance_limit_time: Some(48),
                ..OidcProviderUpdate::default()
            },
            t1(),
        )
        .await
        .unwrap();
    assert_eq!(only_hours.issuance_limit_time, 48);
    assert_eq!(only_hours.client_ids, vec!["sts.aliyuncs.com"]);
    assert_eq!(only_hours.description, "ack cluster");
    assert_eq!(
        (only_hours.create_date, only_hours.update_date),
        (t0(), t1())
    );

    let replaced = s
        .update_oidc_provider(
            &acme,
            "p",
            OidcProviderUpdate {
                client_ids: Some(vec!["x".into(), "y".into()]),
                description: Some(String::new()),
                ..OidcProviderUpdate::default()
            },
            t1(),
        )
        .await
        .unwrap();
    assert_eq!(replaced.client_ids, vec!["x", "y"]);
    assert_eq!(replaced.description, "");
    assert_eq!(replaced.issuance_limit_time, 48);
    assert_eq!(s.get_oidc_provider(&acme, "p").await.unwrap(), replaced);

    let too_many = s
        .update_oidc_provider(
            &acme,
            "p",
            OidcProviderUpdate {
                client_ids: Some((0..51).map(|i| format!("c{i}")).collect()),
                description: Some("must not stick".into()),
                ..OidcProviderUpdate::default()
            },
            t1(),
        )
        .await;
    assert_eq!(
        too_many,
        Err(StoreError::LimitExceeded {
            quota: Quota::ClientIdsPerOidcProvider,
            limit: 50
        })
    );
    assert_eq!(s.get_oidc_provider(&acme, "p").await.unwrap(), replaced);

    assert_eq!(
        s.update_oidc_provider(&acme, "nope", OidcProviderUpdate::default(), t1())
            .await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    s.delete_oidc_provider(&acme, "P").await.unwrap();
    assert_eq!(
        s.get_oidc_provider(&acme, "p").await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    assert_eq!(
        s.delete_oidc_provider(&acme, "p").await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    // Name and issuer are free again.
    s.create_oidc_provider(&acme, oidc("p", "https://p.example.com"), t1())
        .await
        .unwrap();
}

async fn oidc_list_edits_check_their_limits_and_change_nothing_on_failure(b: &Backend) {
    let s = &b.store;
    let acme = account(s, "acme").await;
    s.create_oidc_provider(&acme, oidc("p", "https://p.example.com"), t0())
        .await
        .unwrap();

    // Fingerprints: up to 5, no duplicates, never fewer than one.
    for n in 2..=5 {
        let p = s
            .add_oidc_fingerprint(&acme, "p", &fp(n), t1())
            .await
            .unwrap();
        assert_eq!(p.fingerprints.len(), usize::from(n));
        assert_eq!(p.update_date, t1());
    }
    let before = s.get_oidc_provider(&acme, "p").await.unwrap();
    assert_eq!(
        s.add_oidc_fingerprint(&acme, "p", &fp(6), t1()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::FingerprintsPerOidcProvider,
            limit: 5
        })
    );
    assert_eq!(
        s.add_oidc_fingerprint(&acme, "p", &fp(3), t1()).await,
        Err(StoreError::AlreadyExists(Entity::OidcFingerprint))
    );
    assert_eq!(
        s.remove_oidc_fingerprint(&acme, "p", &fp(9), t1()).await,
        Err(StoreError::NotFound(Entity::OidcFingerprint))
    );
    assert_eq!(s.get_oidc_provider(&acme, "p").await.unwrap(), before);
    for n in [1, 3, 5, 2] {
        s.remove_oidc_fingerprint(&acme, "p", &fp(n), t1())
            .await
            .unwrap();
    }
    assert_eq!(
        s.remove_oidc_fingerprint(&acme, "p", &fp(4), t1()).await,
        Err(StoreError::DeleteConflict {
            entity: Entity::OidcFingerprint,
            blocker: Entity::OidcProvider
        })
    );
    assert_eq!(
        s.get_oidc_provider(&acme, "p").await.unwrap().fingerprints,
        vec![fp(4)]
    );

    // Client ids: up to 50, exact comparison, in insertion order.
    for i in 1..50 {
        s.add_oidc_client_id(&acme, "p", &format!("client-{i}"), t1())
            .await
            .unwrap();
    }
    assert_eq!(
        s.add_oidc_client_id(&acme, "p", "one-too-many", t1()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::ClientIdsPerOidcProvider,
            limit: 50
        })
    );
    s.remove_oidc_client_id(&acme, "p", "sts.aliyuncs.com", t1())
        .await
        .unwrap();
    assert_eq!(
        s.remove_oidc_client_id(&acme, "p", "CLIENT-1", t1()).await,
        Err(StoreError::NotFound(Entity::OidcClientId))
    );
    assert_eq!(
        s.add_oidc_client_id(&acme, "p", "client-1", t1()).await,
        Err(StoreError::AlreadyExists(Entity::OidcClientId))
    );
    let p = s
        .add_oidc_client_id(&acme, "p", "CLIENT-1", t1())
        .await
        .unwrap();
    assert_eq!(p.client_ids.len(), 50);
    assert_eq!(p.client_ids.first().unwrap(), "client-1");
    assert_eq!(p.client_ids.last().unwrap(), "CLIENT-1");
    assert_eq!(
        s.add_oidc_client_id(&acme, "ghost", "x", t1()).await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
}

async fn concurrent_list_adds_never_exceed_the_limits(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    b.store
        .create_oidc_provider(&acme, oidc("p", "https://p.example.com"), t0())
        .await
        .unwrap();
    // Two handles, as two server processes would have.
    let stores: [Arc<SqlStore>; 2] = [Arc::new(b.store.clone()), Arc::new(b.reopen().await)];
    let mut tasks = Vec::new();
    for n in 10..22u8 {
        let store = Arc::clone(&stores[usize::from(n % 2)]);
        let acme = acme.clone();
        tasks.push(tokio::spawn(async move {
            store.add_oidc_fingerprint(&acme, "p", &fp(n), t1()).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::LimitExceeded { quota, .. }) => {
                assert_eq!(quota, Quota::FingerprintsPerOidcProvider)
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 4, "one fingerprint existed; five is the limit");
    let p = b.store.get_oidc_provider(&acme, "p").await.unwrap();
    assert_eq!(p.fingerprints.len(), 5);
}

async fn providers_paginate_in_name_order(b: &Backend) {
    let s = &b.store;
    let acme = account(s, "acme").await;
    let other = account(s, "other").await;
    for name in ["delta", "Alpha", "charlie", "bravo", "echo"] {
        s.create_oidc_provider(&acme, oidc(name, &format!("https://{name}.example")), t0())
            .await
            .unwrap();
        s.create_saml_provider(&acme, saml(name), t0())
            .await
            .unwrap();
    }
    s.create_oidc_provider(&other, oidc("aardvark", "https://a.example"), t0())
        .await
        .unwrap();
    s.create_saml_provider(&other, saml("aardvark"), t0())
        .await
        .unwrap();

    let mut names = Vec::new();
    let mut page = Page::first(2);
    loop {
        let l = s.list_oidc_providers(&acme, &page).await.unwrap();
        assert!(l.items.len() <= 2);
        names.extend(l.items.iter().map(|p| p.name.clone()));
        match l.marker {
            Some(m) => page = Page::new(Some(m), 2),
            None => break,
        }
    }
    assert_eq!(names, ["Alpha", "bravo", "charlie", "delta", "echo"]);

    let first = s.list_saml_providers(&acme, &Page::first(3)).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["Alpha", "bravo", "charlie"]
    );
    let rest = s
        .list_saml_providers(&acme, &Page::new(first.marker.clone(), 3))
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["delta", "echo"]
    );
    assert!(!rest.is_truncated());
    let all = s.list_saml_providers(&acme, &Page::first(5)).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(!all.is_truncated(), "exactly a full page is not truncated");
}

async fn saml_lifecycle_and_isolation(b: &Backend) {
    let s = &b.store;
    let acme = account(s, "acme").await;
    let other = account(s, "other").await;
    let created = s
        .create_saml_provider(&acme, saml("Okta"), t0())
        .await
        .unwrap();
    assert_eq!(s.get_saml_provider(&acme, "okta").await.unwrap(), created);
    assert_eq!(
        s.create_saml_provider(&acme, saml("OKTA"), t0()).await,
        Err(StoreError::AlreadyExists(Entity::SamlProvider))
    );
    assert_eq!(
        s.get_saml_provider(&other, "okta").await,
        Err(StoreError::NotFound(Entity::SamlProvider))
    );
    // A SAML and an OIDC provider may share a name: they are different resource types.
    s.create_oidc_provider(&acme, oidc("Okta", "https://okta.example"), t0())
        .await
        .unwrap();

    let desc_only = s
        .update_saml_provider(
            &acme,
            "okta",
            SamlProviderUpdate {
                description: Some("new".into()),
                ..SamlProviderUpdate::default()
            },
            t1(),
        )
        .await
        .unwrap();
    assert_eq!(desc_only.description, "new");
    assert_eq!(desc_only.encoded_metadata, created.encoded_metadata);
    assert_eq!(desc_only.authn_sign_algo, AuthnSignAlgo::RsaSha256);
    assert_eq!(desc_only.update_date, t1());

    let new_doc = s
        .update_saml_provider(
            &acme,
            "okta",
            SamlProviderUpdate {
                metadata: Some(SamlMetadata {
                    encoded: "bmV3".into(),
                    entity_id: "https://idp.example/new".into(),
                }),
                authn_sign_algo: Some(AuthnSignAlgo::RsaSha1),
                ..SamlProviderUpdate::default()
            },
            t1(),
        )
        .await
        .unwrap();
    assert_eq!(new_doc.encoded_metadata, "bmV3");
    assert_eq!(new_doc.metadata_entity_id, "https://idp.example/new");
    assert_eq!(new_doc.authn_sign_algo, AuthnSignAlgo::RsaSha1);
    assert_eq!(new_doc.description, "new");
    assert_eq!(s.get_saml_provider(&acme, "Okta").await.unwrap(), new_doc);

    assert_eq!(
        s.update_saml_provider(&other, "okta", SamlProviderUpdate::default(), t1())
            .await,
        Err(StoreError::NotFound(Entity::SamlProvider))
    );
    assert_eq!(
        s.delete_saml_provider(&other, "okta").await,
        Err(StoreError::NotFound(Entity::SamlProvider))
    );
    s.delete_saml_provider(&acme, "okta").await.unwrap();
    assert_eq!(
        s.get_saml_provider(&acme, "okta").await,
        Err(StoreError::NotFound(Entity::SamlProvider))
    );
    assert!(s.get_oidc_provider(&acme, "okta").await.is_ok());
}

async fn provider_quotas_per_account(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let other = account(&b.store, "other").await;
    let tight = b
        .reopen_with(StoreOptions {
            quotas: Quotas {
                oidc_providers_per_account: 2,
                saml_providers_per_account: 1,
                fingerprints_per_oidc_provider: 2,
                ..Quotas::default()
            },
            ..StoreOptions::default()
        })
        .await;
    for i in 0..2 {
        tight
            .create_oidc_provider(
                &acme,
                oidc(&format!("p{i}"), &format!("https://{i}.x")),
                t0(),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        tight
            .create_oidc_provider(&acme, oidc("p2", "https://2.x"), t0())
            .await,
        Err(StoreError::LimitExceeded {
            quota: Quota::OidcProvidersPerAccount,
            limit: 2
        })
    );
    let mut three = oidc("fp", "https://fp.x");
    three.fingerprints = vec![fp(1), fp(2), fp(3)];
    assert_eq!(
        tight.create_oidc_provider(&other, three, t0()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::FingerprintsPerOidcProvider,
            limit: 2
        })
    );
    tight
        .create_saml_provider(&acme, saml("s0"), t0())
        .await
        .unwrap();
    assert_eq!(
        tight.create_saml_provider(&acme, saml("s1"), t0()).await,
        Err(StoreError::LimitExceeded {
            quota: Quota::SamlProvidersPerAccount,
            limit: 1
        })
    );
    // Quotas are per account.
    tight
        .create_saml_provider(&other, saml("s1"), t0())
        .await
        .unwrap();
    // Nothing half-written by the refusals.
    assert_eq!(
        tight
            .list_oidc_providers(&acme, &Page::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        tight.get_oidc_provider(&other, "fp").await,
        Err(StoreError::NotFound(Entity::OidcProvider))
    );
    tight.close().await;
}
