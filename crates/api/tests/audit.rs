//! The audit trail as callers leave it: one event per call whose account is known, in the
//! ActionTrail shape, with secrets masked; `LookupEvents` authorized and scoped to the
//! caller's account; `GetAccessKeyLastUsed` read from the trail; the chain sealed and
//! verifiable.
//!
//! `cargo test -p rampart-api --test audit`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use rampart_model::{ChainVerifier, Clock};
use rampart_store::{AuditQuery, AuditRepo};
use serde_json::Value;
use support::{Client, Reply, Server, Session};

async fn events(s: &Server, account: &str) -> Vec<Value> {
    let rows = s
        .store
        .search_audit_events(&AuditQuery {
            account_id: Some(account.to_owned()),
            oldest_first: true,
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    rows.iter()
        .map(|r| serde_json::from_str(&r.record.body).unwrap())
        .collect()
}

async fn lookup(s: &Server, who: &Client, params: &[(&str, &str)]) -> Reply {
    let nonce = format!("lookup-{}", rand_suffix());
    let raw = s.signed_as(who, None, "2020-07-06", "LookupEvents", params, &nonce);
    s.send(raw).await
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_whose_account_is_known_gets_one_event() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let created = s
        .call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    s.call(&root, "GetUser", &[("UserName", "alice")])
        .await
        .ok();
    s.call(&root, "CreateUser", &[("UserName", "ALICE")])
        .await
        .err(409, "EntityAlreadyExists.User");
    let bob = s.user_with_key(&root, "bob").await;
    s.call(&bob, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    // A bad signature names no account: no event anywhere.
    let forged = Client {
        secret: "x".repeat(30),
        ..bob.clone()
    };
    s.call(&forged, "ListUsers", &[])
        .await
        .err(400, "SignatureDoesNotMatch");

    let trail = events(&s, &root.account_id).await;
    let names: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| {
            (
                e["eventName"].as_str().unwrap(),
                e["errorCode"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("CreateUser", ""),
            ("GetUser", ""),
            ("CreateUser", "EntityAlreadyExists.User"),
            ("CreateUser", ""),
            ("CreateAccessKey", ""),
            ("ListUsers", "NoPermission"),
        ]
    );
    let first = &trail[0];
    assert_eq!(first["eventId"], created["RequestId"]);
    assert_eq!(first["requestId"], created["RequestId"]);
    assert_eq!(first["eventRW"], "Write");
    assert_eq!(first["serviceName"], "Ram");
    assert_eq!(first["apiVersion"], "2015-05-01");
    assert_eq!(first["recipientAccountId"], root.account_id.as_str());
    assert_eq!(first["userIdentity"]["type"], "root-account");
    assert_eq!(first["userIdentity"]["accessKeyId"], root.key_id.as_str());
    assert_eq!(first["requestParameters"]["UserName"], "alice");
    assert!(first["requestParameters"].get("SignatureNonce").is_none());
    assert_eq!(first["referencedResources"]["ACS::RAM::User"][0], "alice");
    assert_eq!(trail[1]["eventRW"], "Read");
    let denied = &trail[5];
    assert_eq!(denied["userIdentity"]["type"], "ram-user");
    assert_eq!(denied["userIdentity"]["userName"], "bob");
    assert_eq!(denied["userIdentity"]["accessKeyId"], bob.key_id.as_str());
    assert!(!denied["errorMessage"].as_str().unwrap().is_empty());
}

/// A read runs before its nonce is spent and spends it with its event: a replay must still be
/// refused, after the result was computed, and leave nothing in the trail; a write's replay is
/// refused before it runs, as always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_call_is_refused_and_leaves_no_event() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    let bob = s.user_with_key(&root, "bob").await;
    let read = s.signed(&root, "GetUser", &[("UserName", "alice")], "replay-read");
    let denied = s.signed(&bob, "ListUsers", &[], "replay-denied");
    let write = s.signed(
        &root,
        "CreateUser",
        &[("UserName", "carol")],
        "replay-write",
    );
    let mut replays = Vec::new();
    for (raw, status) in [(read, 200), (denied, 403), (write, 200)] {
        replays.push(raw.clone());
        let first = s.send(raw).await;
        assert_eq!(first.status, status, "{}", first.json);
    }
    for raw in replays {
        s.send(raw).await.err(400, "SignatureNonceUsed");
    }
    let trail = events(&s, &root.account_id).await;
    let count = |name: &str| {
        trail
            .iter()
            .filter(|e| e["eventName"] == name && e["requestParameters"]["UserName"] != "bob")
            .count()
    };
    assert_eq!(count("GetUser"), 1, "{trail:#?}");
    assert_eq!(count("ListUsers"), 1, "{trail:#?}");
    // alice and carol, once each.
    assert_eq!(count("CreateUser"), 2, "{trail:#?}");
    assert!(trail.iter().all(|e| e["errorCode"] != "SignatureNonceUsed"));
}

/// A read first trusts its key's cached state; when that went stale (here: a policy attached,
/// which moves the account's epoch) it runs again, is answered by the current state, and
/// leaves one event, the second run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_a_stale_cached_key_runs_again_and_leaves_one_event() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    // Caches alice's key and its state: denied.
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
    let raw = s.signed(&alice, "ListUsers", &[], "stale-read");
    let first = s.send(raw.clone()).await;
    assert_eq!(first.status, 200, "{}", first.json);
    // The run again spent the nonce.
    s.send(raw).await.err(400, "SignatureNonceUsed");
    let trail = events(&s, &root.account_id).await;
    let lists: Vec<_> = trail
        .iter()
        .filter(|e| e["eventName"] == "ListUsers")
        .collect();
    assert_eq!(lists.len(), 2, "{trail:#?}");
    assert_eq!(
        lists
            .iter()
            .filter(|e| e["errorCode"] == "NoPermission")
            .count(),
        1,
        "{trail:#?}"
    );
    let metrics = s.api.state().metrics.render();
    let stale = r#"rampart_cache_lookups_total{cache="access_key",result="stale"} 1"#;
    assert!(metrics.lines().any(|l| l == stale), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_trail() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    let password = "Correct-Horse-9-Battery";
    s.call(
        &root,
        "CreateLoginProfile",
        &[("UserName", "alice"), ("Password", password)],
    )
    .await
    .ok();
    let mfa = s
        .call(
            &root,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "m1")],
        )
        .await
        .ok();
    let seed = mfa["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_owned();
    let trust = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":["acs:ram::{}:user/alice"]}}}}]}}"#,
        root.account_id
    );
    s.call(
        &root,
        "CreateRole",
        &[("RoleName", "ops"), ("AssumeRolePolicyDocument", &trust)],
    )
    .await
    .ok();
    for (name, principal) in [
        ("AliyunSTSAssumeRoleAccess", "alice"),
        ("AdministratorAccess", "ops"),
    ] {
        let kind = if principal == "ops" { "Role" } else { "User" };
        s.call(
            &root,
            &format!("AttachPolicyTo{kind}"),
            &[
                ("PolicyType", "System"),
                ("PolicyName", name),
                (
                    if kind == "Role" {
                        "RoleName"
                    } else {
                        "UserName"
                    },
                    principal,
                ),
            ],
        )
        .await
        .ok();
    }
    let arn = format!("acs:ram::{}:role/ops", root.account_id);
    let creds = s
        .sts(
            &alice,
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "s1")],
        )
        .await
        .ok();
    let session = Session::from_reply(&root.account_id, &creds);
    s.call_session(&session, "2015-05-01", "ListUsers", &[])
        .await
        .ok();

    let trail = events(&s, &root.account_id).await;
    let text = serde_json::to_string(&trail).unwrap();
    for secret in [
        password,
        seed.as_str(),
        alice.secret.as_str(),
        root.secret.as_str(),
        session.client.secret.as_str(),
        session.token.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret reached the trail");
    }
    let profile = trail
        .iter()
        .find(|e| e["eventName"] == "CreateLoginProfile")
        .unwrap();
    assert_eq!(profile["requestParameters"]["Password"], "******");
    // The issuance is recorded with the key it issued, for whom, until when.
    let issued = trail
        .iter()
        .find(|e| e["eventName"] == "AssumeRole")
        .unwrap();
    let credentials = &issued["responseElements"]["Credentials"];
    assert_eq!(credentials["AccessKeyId"], session.client.key_id.as_str());
    assert_eq!(credentials["AccessKeySecret"], "******");
    assert_eq!(credentials["SecurityToken"], "******");
    assert_eq!(issued["serviceName"], "Sts");
    // And the session's own calls say who it is.
    let used = trail
        .iter()
        .find(|e| e["eventName"] == "ListUsers")
        .unwrap();
    let who = &used["userIdentity"];
    assert_eq!(who["type"], "assumed-role");
    assert_eq!(who["userName"], "ops:s1");
    assert_eq!(who["accessKeyId"], session.client.key_id.as_str());
    assert_eq!(who["sessionContext"]["sessionIssuer"]["userName"], "ops");
    assert_eq!(
        who["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_events_is_authorized_and_sees_its_own_account_only() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let other = s.account("globex").await;
    s.call(&other, "CreateUser", &[("UserName", "zed")])
        .await
        .ok();
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    let bob = s.user_with_key(&root, "bob").await;
    lookup(&s, &bob, &[]).await.err(403, "NoPermission");
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunActionTrailReadOnlyAccess"),
            ("UserName", "bob"),
        ],
    )
    .await
    .ok();
    let all = lookup(&s, &bob, &[("MaxResults", "50")]).await.ok();
    let events = all["Events"].as_array().unwrap();
    assert!(events
        .iter()
        .all(|e| e["recipientAccountId"] == root.account_id.as_str()));
    assert!(events
        .iter()
        .all(|e| e["requestParameters"]["UserName"] != "zed"));
    assert!(events
        .iter()
        .any(|e| e["eventName"] == "LookupEvents" && e["errorCode"] == "NoPermission"));
    assert!(all.get("NextToken").is_none());

    let found = lookup(
        &s,
        &bob,
        &[
            ("LookupAttribute.1.Key", "ResourceName"),
            ("LookupAttribute.1.Value", "alice"),
            ("LookupAttribute.2.Key", "EventName"),
            ("LookupAttribute.2.Value", "CreateUser"),
        ],
    )
    .await
    .ok();
    assert_eq!(found["Events"].as_array().unwrap().len(), 1);

    // Pages of two, newest first, each event once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let mut params = vec![("MaxResults", "2")];
        if !token.is_empty() {
            params.push(("NextToken", token.as_str()));
        }
        let page = lookup(&s, &root, &params).await.ok();
        for e in page["Events"].as_array().unwrap() {
            seen.push(e["eventId"].as_str().unwrap().to_owned());
        }
        token = page["NextToken"].as_str().unwrap_or_default().to_owned();
        if token.is_empty() {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len());
    assert!(seen.len() >= 7, "{seen:?}");
    // FORWARD pages the other way over the same events.
    let mut forward = Vec::new();
    let mut token = String::new();
    loop {
        let mut params = vec![("MaxResults", "3"), ("Direction", "FORWARD")];
        if !token.is_empty() {
            params.push(("NextToken", token.as_str()));
        }
        let page = lookup(&s, &root, &params).await.ok();
        for e in page["Events"].as_array().unwrap() {
            forward.push(e["eventId"].as_str().unwrap().to_owned());
        }
        token = page["NextToken"].as_str().unwrap_or_default().to_owned();
        if token.is_empty() {
            break;
        }
    }
    // The backward walk's own lookups were recorded after it began; the rest agree.
    let backward: Vec<&String> = seen.iter().rev().collect();
    assert_eq!(
        forward[..backward.len()].iter().collect::<Vec<_>>(),
        backward
    );

    for (params, code) in [
        (vec![("MaxResults", "51")], "InvalidParameter.MaxResults"),
        (
            vec![("Direction", "SIDEWAYS")],
            "InvalidParameter.Direction",
        ),
        (
            vec![("StartTime", "yesterday")],
            "InvalidParameter.StartTime",
        ),
        (vec![("NextToken", "abc")], "InvalidParameter.NextToken"),
        (
            vec![
                ("LookupAttribute.1.Key", "Colour"),
                ("LookupAttribute.1.Value", "x"),
            ],
            "InvalidParameter.LookupAttribute.Key",
        ),
        (
            vec![
                ("StartTime", "2026-11-22T10:00:00Z"),
                ("EndTime", "2026-11-21T10:00:00Z"),
            ],
            "InvalidParameter.StartTime",
        ),
    ] {
        lookup(&s, &root, &params).await.err(400, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_key_last_used_comes_from_the_trail() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let bob = s.user_with_key(&root, "bob").await;
    let last = |reply: Value| reply["AccessKeyLastUsed"]["LastUsedDate"].clone();
    let params = [
        ("UserName", "bob"),
        ("UserAccessKeyId", bob.key_id.as_str()),
    ];
    let never = s.call(&root, "GetAccessKeyLastUsed", &params).await.ok();
    assert_eq!(last(never), "");
    s.clock.advance(Duration::from_secs(90));
    // Even a refused call is a use of the key.
    s.call(&bob, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    let used_at = s.clock.now().to_string();
    s.clock.advance(Duration::from_secs(30));
    let reply = s.call(&root, "GetAccessKeyLastUsed", &params).await.ok();
    assert_eq!(last(reply), used_at.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealer_chains_every_event_and_the_chain_verifies() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    for i in 0..20 {
        let name = format!("u{i}");
        s.call(&root, "CreateUser", &[("UserName", name.as_str())])
            .await
            .ok();
        s.call(&root, "GetUser", &[("UserName", name.as_str())])
            .await
            .ok();
    }
    // The sealer runs every 200 ms.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (unchained, waiting) = s.store.audit_unchained(&root.account_id).await.unwrap();
        assert!(unchained.is_empty());
        if waiting == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} never sealed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let heads = s.store.audit_heads().await.unwrap();
    let head = heads
        .into_iter()
        .find(|h| h.account_id == root.account_id)
        .unwrap();
    assert_eq!(head.seq, 40);
    let mut v = ChainVerifier::new(head);
    for row in s.store.audit_chain(&root.account_id, 0, 100).await.unwrap() {
        v.check(&row);
    }
    let report = v.finish(Vec::new());
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.checked, 40);
}

/// An event as a caller's would be, written straight to the store.
fn record(id: &str, account: &str, at: rampart_model::Timestamp) -> rampart_model::AuditRecord {
    rampart_model::AuditRecord {
        event_id: id.to_owned(),
        account_id: account.to_owned(),
        event_time: at,
        event_name: "GetUser".to_owned(),
        event_rw: "Read".to_owned(),
        service_name: "Ram".to_owned(),
        user_name: "root".to_owned(),
        access_key_id: String::new(),
        source_ip: "127.0.0.1".to_owned(),
        error_code: String::new(),
        resources: Vec::new(),
        body: format!(r#"{{"eventId":"{id}"}}"#),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_events_arrive_a_sqlite_sealer_comes_back_before_its_interval() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = rampart_store::SqlStore::open(&url).await.unwrap();
    let clock = Arc::new(rampart_model::ManualClock::new(
        rampart_model::Timestamp::parse("2026-11-22T10:00:00Z").unwrap(),
    ));
    let account = "1000000000000001";
    // The first run, at start, finds an event; then one arrives every 5 ms.
    store
        .append_audit_events(&[record("E-0", account, clock.now())])
        .await
        .unwrap();
    let mut options = rampart_api::ApiOptions::default();
    // Far longer than the test: only the store's busy interval can bring the sealer back.
    options.audit.seal_interval = Duration::from_secs(3600);
    let _api = rampart_api::Api::new(
        Arc::new(store.clone()),
        Arc::new(rampart_model::MasterKey::generate(1).unwrap()),
        clock.clone() as Arc<dyn Clock>,
        options,
    );
    let appended = 200;
    for i in 1..appended {
        store
            .append_audit_events(&[record(&format!("E-{i}"), account, clock.now())])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sealed = store
            .audit_heads()
            .await
            .unwrap()
            .first()
            .map_or(0, |h| h.seq);
        if sealed == appended {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sealed} of {appended} sealed: the sealer waited for its idle interval"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.audit_unchained(account).await.unwrap(), (vec![], 0));
}
