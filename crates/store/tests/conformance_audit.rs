//! The storage conformance suite for the audit trail: every case on SQLite and on
//! PostgreSQL.
//!
//! `cargo test -p rampart-store --test conformance_audit`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rampart_model::AccessKeyStatus;
use rampart_model::{
    AccountId, AuditRecord, ChainProblem, ChainReport, ChainVerifier, MasterKey, NewAccessKey,
    Timestamp,
};
use rampart_store::{
    AccessKeyRepo, AuditQuery, AuditRepo, AuditSlot, GroupRepo, KeyAssumption, KeyOwnerRef,
    NewAccount, NewGroup, NewUser, NonceRepo, NonceSpend, NonceUse, PolicyRepo, Store, StoreError,
    StoreOptions, UserRepo, UserUpdate,
};
use serde_json::json;
use support::Backend;

conformance!(
    a_change_and_its_event_commit_together,
    sealed_chains_verify_per_account,
    concurrent_sealers_take_turns,
    searches_filter_and_page,
    retention_moves_the_chain_base,
    access_key_last_used_is_the_latest_event,
    concurrent_changes_keep_their_own_events,
    reads_spend_their_nonces_with_their_events,
    durable_and_relaxed_reads_spend_the_same_nonces,
    a_read_only_handle_refuses_every_write,
    reads_on_an_assumed_key_state_are_written_only_while_it_holds,
);

/// PostgreSQL: sealing reads its batch by probing `audit_events` once per unsealed event,
/// however stale the statistics. `audit_unsealed` is emptied as fast as it fills, so its
/// statistics usually describe a table far larger than it is; with them, a plain join was
/// planned as a merge join that walked the whole trail on every sealing run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sealing_reads_only_the_unsealed_events() {
    use sqlx::Executor;
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let mut admin = backend.postgres_admin().await.unwrap();
    // A trail of 20,000 events, analyzed while all were unsealed, then all but 10 sealed.
    admin
        .execute(
            "INSERT INTO audit_events (event_id, account_id, event_time, event_name, event_rw, \
             service_name, user_name, access_key_id, source_ip, error_code, body) \
             SELECT 'e' || g, '1000000000000001', g, 'GetUser', 'Read', 'Ram', 'u', 'k', \
             '127.0.0.1', '', '{}' FROM generate_series(1, 20000) g; \
             INSERT INTO audit_unsealed (event_pk) SELECT id FROM audit_events; \
             ANALYZE audit_events; ANALYZE audit_unsealed; \
             DELETE FROM audit_unsealed WHERE event_pk <= (SELECT MAX(id) - 10 FROM audit_events)",
        )
        .await
        .unwrap();
    // Rows read from `audit_events` by a query's generic plan, as sqlx prepares it.
    async fn events_read(admin: &mut sqlx::PgConnection, name: &str, query: &str) -> (i64, i64) {
        admin
            .execute(format!("PREPARE {name}(bigint) AS {query}").as_str())
            .await
            .unwrap();
        admin
            .execute("SET plan_cache_mode = force_generic_plan")
            .await
            .unwrap();
        let plan: serde_json::Value = sqlx::query_scalar(&format!(
            "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name}(200)"
        ))
        .fetch_one(&mut *admin)
        .await
        .unwrap();
        fn walk(node: &serde_json::Value, read: &mut i64, returned: &mut i64) {
            if node["Relation Name"] == "audit_events" {
                *read +=
                    node["Actual Rows"].as_i64().unwrap() * node["Actual Loops"].as_i64().unwrap();
            }
            if node.get("Parent Relationship").is_none() {
                *returned = node["Actual Rows"].as_i64().unwrap();
            }
            for child in node["Plans"].as_array().into_iter().flatten() {
                walk(child, read, returned);
            }
        }
        let (mut read, mut returned) = (0, 0);
        walk(&plan[0]["Plan"], &mut read, &mut returned);
        (read, returned)
    }
    let (read, returned) = events_read(
        &mut admin,
        "probed",
        rampart_store::postgres_unsealed_events_query(),
    )
    .await;
    assert_eq!((read, returned), (10, 10));
    // The plain join, on the same statistics, still falls into the trap: the case is real.
    let plain = "SELECT e.id, e.event_id, e.account_id, e.event_time, e.body \
        FROM audit_unsealed u JOIN audit_events e ON e.id = u.event_pk \
        ORDER BY u.event_pk LIMIT $1";
    let (read, returned) = events_read(&mut admin, "plain", plain).await;
    assert_eq!(returned, 10);
    assert!(read > 10_000, "the plain join read {read} events");
    backend.finish().await;
}

fn t0() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
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

fn new_user(name: &str) -> NewUser {
    NewUser {
        user_name: name.into(),
        ..NewUser::default()
    }
}

struct Ev<'a> {
    id: String,
    account: &'a str,
    at: Timestamp,
    name: &'a str,
    user: &'a str,
    key: &'a str,
    resources: Vec<(&'a str, &'a str)>,
}

impl<'a> Ev<'a> {
    fn new(id: impl Into<String>, account: &'a str, at: Timestamp) -> Self {
        Self {
            id: id.into(),
            account,
            at,
            name: "GetUser",
            user: "root",
            key: "",
            resources: Vec::new(),
        }
    }

    fn record(&self) -> AuditRecord {
        let mut resources = serde_json::Map::new();
        for (kind, name) in &self.resources {
            resources
                .entry(kind.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(name));
        }
        let event = json!({
            "eventId": self.id,
            "recipientAccountId": self.account,
            "eventTime": self.at.to_string(),
            "eventName": self.name,
            "eventRW": if self.name.starts_with("Get") { "Read" } else { "Write" },
            "serviceName": "Ram",
            "userIdentity": {"userName": self.user, "accessKeyId": self.key},
            "sourceIpAddress": "127.0.0.1",
            "referencedResources": resources,
        });
        AuditRecord::from_event(&event, self.at).unwrap()
    }
}

/// Seals everything, in small batches so batches meet accounts mid-way.
async fn seal_all(store: &dyn Store) -> u64 {
    let mut total = 0;
    loop {
        let n = store.seal_audit_events(7).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

async fn verify(store: &dyn Store) -> Vec<ChainReport> {
    let mut reports = Vec::new();
    for head in store.audit_heads().await.unwrap() {
        let account = head.account_id.clone();
        let mut after = head.base_seq;
        let mut v = ChainVerifier::new(head);
        loop {
            let rows = store.audit_chain(&account, after, 5).await.unwrap();
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for r in &rows {
                v.check(r);
            }
        }
        let (unchained, _) = store.audit_unchained(&account).await.unwrap();
        reports.push(v.finish(unchained));
    }
    reports
}

fn query(account: &str) -> AuditQuery {
    AuditQuery {
        account_id: Some(account.to_owned()),
        limit: 100,
        ..AuditQuery::default()
    }
}

async fn a_change_and_its_event_commit_together(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let a = acme.as_str();
    let slot = Arc::new(AuditSlot::new(Ev::new("E-1", a, t0()).record()));
    let audited = b.store.audited(Arc::clone(&slot));
    let user = new_user("alice");
    audited.create_user(&acme, user, t0()).await.unwrap();
    assert!(slot.recorded());
    // A second write of the same call does not write the event twice.
    audited
        .create_user(&acme, new_user("alice2"), t0())
        .await
        .unwrap();
    let found = b.store.search_audit_events(&query(a)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].record, Ev::new("E-1", a, t0()).record());

    // An event that cannot be written (the schema refuses an empty body) takes its change
    // down with it.
    let broken = AuditRecord {
        body: String::new(),
        ..Ev::new("E-9", a, t0()).record()
    };
    let clash = Arc::new(AuditSlot::new(broken));
    let err = b
        .store
        .audited(Arc::clone(&clash))
        .create_user(&acme, new_user("bob"), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    assert!(!clash.recorded());
    assert!(b.store.get_user(&acme, "bob").await.is_err());

    // A failed change writes no event either.
    let failed = Arc::new(AuditSlot::new(Ev::new("E-2", a, t0()).record()));
    assert!(b
        .store
        .audited(Arc::clone(&failed))
        .create_user(&acme, new_user("ALICE"), t0())
        .await
        .is_err());
    assert!(!failed.recorded());
    assert_eq!(
        b.store.search_audit_events(&query(a)).await.unwrap().len(),
        1
    );
    // Reads through an audited store write nothing.
    let reader = Arc::new(AuditSlot::new(Ev::new("E-3", a, t0()).record()));
    b.store
        .audited(Arc::clone(&reader))
        .get_user(&acme, "alice")
        .await
        .unwrap();
    assert!(!reader.recorded());
}

async fn sealed_chains_verify_per_account(b: &Backend) {
    let (x, y) = ("1000000000000001", "1000000000000002");
    let records: Vec<AuditRecord> = (0..40)
        .map(|i| {
            let acct = if i % 3 == 0 { y } else { x };
            Ev::new(format!("E-{i}"), acct, t0()).record()
        })
        .collect();
    b.store.append_audit_events(&records[..25]).await.unwrap();
    assert_eq!(seal_all(&b.store).await, 25);
    b.store.append_audit_events(&records[25..]).await.unwrap();
    let (_, waiting) = b.store.audit_unchained(y).await.unwrap();
    assert_eq!(waiting, 5, "events 27, 30, 33, 36, 39");
    assert_eq!(seal_all(&b.store).await, 15);

    let heads = b.store.audit_heads().await.unwrap();
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[0].seq + heads[1].seq, 40);
    let reports = verify(&b.store).await;
    for r in &reports {
        assert_eq!(r.problems, vec![], "{r:?}");
    }
    assert_eq!(reports.iter().map(|r| r.checked).sum::<u64>(), 40);
    // Within an account, links follow insertion order.
    let chain = b.store.audit_chain(y, 0, 100).await.unwrap();
    let ids: Vec<&str> = chain.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(ids[..3], ["E-0", "E-3", "E-6"]);
    assert_eq!(b.store.seal_audit_events(100).await.unwrap(), 0);
}

async fn concurrent_sealers_take_turns(b: &Backend) {
    let acct = "1000000000000001";
    let other = b.reopen().await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store: Arc<dyn Store> = if w % 2 == 0 {
                Arc::new(b.store.clone())
            } else {
                Arc::new(other.clone())
            };
            tokio::spawn(async move {
                let mut sealed = 0;
                for round in 0..10 {
                    let batch: Vec<AuditRecord> = (0..20)
                        .map(|i| Ev::new(format!("E-{w}-{round}-{i}"), acct, t0()).record())
                        .collect();
                    store.append_audit_events(&batch).await.unwrap();
                    sealed += store.seal_audit_events(13).await.unwrap();
                }
                sealed
            })
        })
        .collect();
    let mut sealed = 0;
    for w in writers {
        sealed += w.await.unwrap();
    }
    sealed += seal_all(&b.store).await;
    assert_eq!(sealed, 800, "every event sealed exactly once");
    let reports = verify(&b.store).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].problems, vec![]);
    assert_eq!(reports[0].checked, 800);
    other.close().await;
}

async fn searches_filter_and_page(b: &Backend) {
    let (x, y) = ("1000000000000001", "1000000000000002");
    let mut records = Vec::new();
    for i in 0..30i64 {
        let mut e = Ev::new(
            format!("E-{i:02}"),
            if i % 5 == 4 { y } else { x },
            t0().saturating_add(Duration::from_secs(i as u64 / 2)),
        );
        e.name = if i % 2 == 0 { "CreateUser" } else { "GetUser" };
        e.user = if i % 3 == 0 { "alice" } else { "root" };
        e.key = if i % 3 == 0 { "LTAIalice" } else { "LTAIroot" };
        if i % 2 == 0 {
            e.resources = vec![("ACS::RAM::User", "u-even")];
        }
        if i == 10 {
            e.resources.push(("ACS::RAM::Policy", "p1"));
        }
        records.push(e.record());
    }
    // Unsealed and sealed events are searched alike.
    b.store.append_audit_events(&records[..20]).await.unwrap();
    seal_all(&b.store).await;
    b.store.append_audit_events(&records[20..]).await.unwrap();

    let ids = |rows: &[rampart_store::AuditEventRow]| -> Vec<String> {
        rows.iter().map(|r| r.record.event_id.clone()).collect()
    };
    let all_x = b.store.search_audit_events(&query(x)).await.unwrap();
    assert_eq!(all_x.len(), 24);
    assert_eq!(all_x[0].record.event_id, "E-28", "newest first");
    let mut q = query(x);
    q.event_name = Some("CreateUser".into());
    q.user_name = Some("alice".into());
    assert_eq!(
        ids(&b.store.search_audit_events(&q).await.unwrap()),
        ["E-18", "E-12", "E-06", "E-00"]
    );
    let mut q = query(x);
    q.resource_name = Some("p1".into());
    assert_eq!(
        ids(&b.store.search_audit_events(&q).await.unwrap()),
        ["E-10"]
    );
    let mut q = query(x);
    q.resource_type = Some("ACS::RAM::User".into());
    q.access_key_id = Some("LTAIroot".into());
    assert_eq!(
        ids(&b.store.search_audit_events(&q).await.unwrap()),
        ["E-28", "E-26", "E-22", "E-20", "E-16", "E-10", "E-08", "E-02"]
    );
    let mut q = query(x);
    q.start = Some(t0().saturating_add(Duration::from_secs(5)));
    q.end = Some(t0().saturating_add(Duration::from_secs(6)));
    assert_eq!(
        ids(&b.store.search_audit_events(&q).await.unwrap()),
        ["E-13", "E-12", "E-11", "E-10"]
    );
    let mut q = query(y);
    q.event_id = Some("E-09".into());
    assert_eq!(
        ids(&b.store.search_audit_events(&q).await.unwrap()),
        ["E-09"]
    );
    // Every account, for operators.
    let mut q = query(x);
    q.account_id = None;
    assert_eq!(b.store.search_audit_events(&q).await.unwrap().len(), 30);

    // Pages of 7, both directions, cover everything once.
    for oldest_first in [false, true] {
        let mut seen = Vec::new();
        let mut q = query(x);
        q.limit = 7;
        q.oldest_first = oldest_first;
        loop {
            let page = b.store.search_audit_events(&q).await.unwrap();
            let Some(last) = page.last() else { break };
            q.after = Some(last.cursor);
            seen.extend(ids(&page));
        }
        let mut expected = ids(&all_x);
        if oldest_first {
            expected.reverse();
        }
        assert_eq!(seen, expected);
    }
}

async fn retention_moves_the_chain_base(b: &Backend) {
    let acct = "1000000000000001";
    let minute = |m: u64| t0().saturating_add(Duration::from_secs(60 * m));
    let records: Vec<AuditRecord> = (0..10)
        .map(|m| Ev::new(format!("E-{m}"), acct, minute(m)).record())
        .collect();
    b.store.append_audit_events(&records[..8]).await.unwrap();
    seal_all(&b.store).await;
    // Old but unsealed: kept.
    b.store.append_audit_events(&records[8..]).await.unwrap();
    let old_unsealed = Ev::new("E-old", acct, minute(0)).record();
    b.store
        .append_audit_events(std::slice::from_ref(&old_unsealed))
        .await
        .unwrap();

    assert_eq!(b.store.purge_audit_events(minute(5)).await.unwrap(), 5);
    let heads = b.store.audit_heads().await.unwrap();
    assert_eq!((heads[0].base_seq, heads[0].seq), (5, 8));
    let left = b.store.search_audit_events(&query(acct)).await.unwrap();
    assert_eq!(left.len(), 6, "E-5..E-9 and E-old");
    seal_all(&b.store).await;
    let reports = verify(&b.store).await;
    assert_eq!(reports[0].problems, vec![]);
    assert_eq!(reports[0].checked, 6);
    // Purging again is a no-op.
    assert_eq!(b.store.purge_audit_events(minute(5)).await.unwrap(), 0);
    // What retention removed does not look like tampering, but a later deletion would.
    let chain = b.store.audit_chain(acct, 0, 100).await.unwrap();
    assert_eq!(chain[0].seq, 6);
    assert!(matches!(
        reports[0].problems.first(),
        None | Some(ChainProblem::Unchained { .. })
    ));
}

async fn access_key_last_used_is_the_latest_event(b: &Backend) {
    let acct = "1000000000000001";
    assert_eq!(b.store.access_key_last_used("LTAIk").await.unwrap(), None);
    let records: Vec<AuditRecord> = [3u64, 9, 1]
        .iter()
        .map(|m| {
            let mut e = Ev::new(
                format!("E-{m}"),
                acct,
                t0().saturating_add(Duration::from_secs(60 * m)),
            );
            e.key = "LTAIk";
            e.record()
        })
        .collect();
    b.store.append_audit_events(&records).await.unwrap();
    assert_eq!(
        b.store.access_key_last_used("LTAIk").await.unwrap(),
        Some(t0().saturating_add(Duration::from_secs(540)))
    );
    assert_eq!(
        b.store.access_key_last_used("LTAIother").await.unwrap(),
        None
    );
}

/// Many changes at once, each with its event, and batches of other calls' events among them.
/// On SQLite they share group transactions, which write all their members' events at once and
/// number them by position: each change must still find exactly its own event, with its own
/// resources, and the chain must take every event once.
async fn concurrent_changes_keep_their_own_events(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let a = acme.as_str().to_owned();
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = Arc::clone(&store);
        let acme = acme.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("user-{i:02}");
            if i % 10 == 9 {
                // Other calls' events, in a batch, without a change.
                let records: Vec<AuditRecord> = (0..3)
                    .map(|j| {
                        let mut e = Ev::new(format!("R-{i:02}-{j}"), &a, t0());
                        e.resources = vec![("ACS::RAM::User", "read-only")];
                        e.record()
                    })
                    .collect();
                store.append_audit_events(&records).await.unwrap();
                return;
            }
            let mut e = Ev::new(format!("E-{i:02}"), &a, t0());
            e.name = "CreateUser";
            // Zero, one or two resources, so positions and resource rows do not line up.
            if i % 3 != 0 {
                e.resources.push(("ACS::RAM::User", name.as_str()));
            }
            if i % 3 == 2 {
                e.resources.push(("ACS::RAM::Group", "shared"));
            }
            let slot = Arc::new(AuditSlot::new(e.record()));
            let user = NewUser {
                user_name: name.clone(),
                ..NewUser::default()
            };
            store
                .audited(Arc::clone(&slot))
                .create_user(&acme, user, t0())
                .await
                .unwrap();
            assert!(slot.recorded());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..60 {
        if i % 10 == 9 || i % 3 == 0 {
            continue;
        }
        let mut q = query(&a);
        q.resource_name = Some(format!("user-{i:02}"));
        let found = b.store.search_audit_events(&q).await.unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.record.event_id.as_str()).collect();
        assert_eq!(ids, [format!("E-{i:02}")], "user-{i:02}");
        assert_eq!(found[0].record.resources.len(), 1 + usize::from(i % 3 == 2));
    }
    let mut q = query(&a);
    q.resource_name = Some("shared".into());
    q.limit = 1000;
    let mut shared: Vec<String> = b
        .store
        .search_audit_events(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record.event_id)
        .collect();
    shared.sort();
    let expected: Vec<String> = (0..60)
        .filter(|i| i % 10 != 9 && i % 3 == 2)
        .map(|i| format!("E-{i:02}"))
        .collect();
    assert_eq!(shared, expected);
    q.resource_name = Some("read-only".into());
    assert_eq!(b.store.search_audit_events(&q).await.unwrap().len(), 18);
    let mut all = query(&a);
    all.limit = 1000;
    assert_eq!(
        b.store.search_audit_events(&all).await.unwrap().len(),
        54 + 18
    );
    assert_eq!(seal_all(&b.store).await, 54 + 18);
    assert!(verify(&b.store).await.iter().all(|r| r.problems.is_empty()));
}

async fn event_ids(store: &dyn Store, account: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .search_audit_events(&query(account))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.record.event_id)
        .collect();
    ids.sort();
    ids
}

/// A read runs before its nonce is spent; the nonce is spent with the read's event, and a
/// replayed read must leave no event behind, whether the nonce was spent earlier, earlier in
/// the same batch, or is spent again later.
async fn reads_spend_their_nonces_with_their_events(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let a = acme.as_str();
    let ttl = Duration::from_secs(900);
    let pair = |n: &str| ("LTAIk".to_owned(), n.to_owned());
    let spend = |n: &str| NonceSpend::new("LTAIk", n);
    let spent = b.store.use_nonces(&[pair("old")], t0(), ttl).await.unwrap();
    assert_eq!(spent, [NonceUse::Fresh]);

    let nonces = [spend("n1"), spend("old"), spend("n2"), spend("n1")];
    let ev = |id: &str| Ev::new(id, a, t0()).record();
    let events = vec![
        (Some(0), ev("E-1")),
        (Some(1), ev("E-2")),
        (Some(3), ev("E-4")),
        (None, ev("E-5")),
        (Some(2), ev("E-3")),
    ];
    let uses = b
        .store
        .spend_nonces_and_append(&nonces, events, t0(), ttl)
        .await
        .unwrap();
    use NonceUse::{Fresh, Replayed};
    assert_eq!(uses, [Fresh, Replayed, Fresh, Replayed]);
    assert_eq!(event_ids(&b.store, a).await, ["E-1", "E-3", "E-5"]);

    // The same nonces again: all replays, nothing written.
    let again = b
        .store
        .spend_nonces_and_append(&nonces[..1], vec![(Some(0), ev("E-6"))], t0(), ttl)
        .await
        .unwrap();
    assert_eq!(again, [Replayed]);
    // And the nonces it spent are spent for the other path too.
    assert_eq!(
        b.store
            .use_nonces(&[pair("n2"), pair("n3")], t0(), ttl)
            .await
            .unwrap(),
        [Replayed, Fresh]
    );

    // An event naming a nonce outside the batch is refused, and nothing of it is written.
    let refused = b
        .store
        .spend_nonces_and_append(&[spend("n4")], vec![(Some(1), ev("E-7"))], t0(), ttl)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Internal(_))),
        "{refused:?}"
    );
    assert_eq!(
        b.store.use_nonces(&[pair("n4")], t0(), ttl).await.unwrap(),
        [Fresh]
    );

    // Once its time is up a nonce is fresh again.
    let later = t0().saturating_add(ttl + Duration::from_secs(1));
    let revived = b
        .store
        .spend_nonces_and_append(&nonces[..1], vec![(Some(0), ev("E-8"))], later, ttl)
        .await
        .unwrap();
    assert_eq!(revived, [Fresh]);
    // Without nonces the events are appended as they are.
    let none = b
        .store
        .spend_nonces_and_append(&[], vec![(None, ev("E-9"))], t0(), ttl)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(
        event_ids(&b.store, a).await,
        ["E-1", "E-3", "E-5", "E-8", "E-9"]
    );
    assert_eq!(seal_all(&b.store).await, 5);
    for report in verify(&b.store).await {
        assert!(report.problems.is_empty(), "{report:?}");
    }

    // Concurrently with changes (one SQLite group holds both kinds): every batch hears its
    // own answers, and every fresh read's event is there.
    let spent = b
        .store
        .use_nonces(&[pair("shared")], later, ttl)
        .await
        .unwrap();
    assert_eq!(spent, [Fresh]);
    let store: Arc<dyn Store> = Arc::new(b.store.clone());
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = Arc::clone(&store);
        let account = acme.clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let slot = Arc::new(AuditSlot::new(
                    Ev::new(format!("C-{i:02}"), account.as_str(), t0()).record(),
                ));
                store
                    .audited(slot)
                    .create_user(
                        &account,
                        NewUser {
                            user_name: format!("u{i}"),
                            ..NewUser::default()
                        },
                        t0(),
                    )
                    .await
                    .unwrap();
            } else {
                let nonces = [
                    NonceSpend::new("LTAIk", format!("c{i}")),
                    NonceSpend::new("LTAIk", "shared"),
                ];
                let events = vec![
                    (
                        Some(0),
                        Ev::new(format!("R-{i:02}"), account.as_str(), t0()).record(),
                    ),
                    (
                        Some(1),
                        Ev::new(format!("X-{i:02}"), account.as_str(), t0()).record(),
                    ),
                ];
                let uses = store
                    .spend_nonces_and_append(&nonces, events, later, ttl)
                    .await
                    .unwrap();
                assert_eq!(uses, [Fresh, Replayed]);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ids = event_ids(&b.store, a).await;
    assert_eq!(ids.iter().filter(|id| id.starts_with("C-")).count(), 8);
    assert_eq!(ids.iter().filter(|id| id.starts_with("R-")).count(), 16);
    assert!(!ids.iter().any(|id| id.starts_with("X-")), "{ids:?}");
}

/// Reads whose nonces and events are synced before the answer (`durable_reads`) and reads
/// whose are not commit them the same way: two nodes, one of each, see each other's nonces
/// at once, and of concurrent spends of one nonce across both exactly one is fresh.
async fn durable_and_relaxed_reads_spend_the_same_nonces(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let a = acme.as_str();
    let ttl = Duration::from_secs(900);
    let durable = b
        .reopen_with(StoreOptions {
            durable_reads: true,
            ..StoreOptions::default()
        })
        .await;
    let relaxed: Arc<dyn Store> = Arc::new(b.store.clone());
    let durable: Arc<dyn Store> = Arc::new(durable);
    let spend = |n: &str| NonceSpend::new("LTAIk", n);
    let ev = |id: &str| Ev::new(id, a, t0()).record();
    use NonceUse::{Fresh, Replayed};

    let uses = durable
        .spend_nonces_and_append(&[spend("d")], vec![(Some(0), ev("E-d"))], t0(), ttl)
        .await
        .unwrap();
    assert_eq!(uses, [Fresh]);
    let uses = relaxed
        .spend_nonces_and_append(
            &[spend("d"), spend("r")],
            vec![(Some(0), ev("E-d2")), (Some(1), ev("E-r"))],
            t0(),
            ttl,
        )
        .await
        .unwrap();
    assert_eq!(uses, [Replayed, Fresh]);
    let uses = durable
        .spend_nonces_and_append(&[spend("r")], vec![(Some(0), ev("E-r2"))], t0(), ttl)
        .await
        .unwrap();
    assert_eq!(uses, [Replayed]);

    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(if i % 2 == 0 { &relaxed } else { &durable });
        let account = acme.clone();
        tasks.push(tokio::spawn(async move {
            let events = vec![(
                Some(0),
                Ev::new(format!("S-{i:02}"), account.as_str(), t0()).record(),
            )];
            store
                .spend_nonces_and_append(&[NonceSpend::new("LTAIk", "shared")], events, t0(), ttl)
                .await
                .unwrap()
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        if t.await.unwrap() == [Fresh] {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one spend of the shared nonce is fresh");
    let ids = event_ids(&b.store, a).await;
    assert_eq!(ids.iter().filter(|id| id.starts_with("S-")).count(), 1);
    assert!(ids.contains(&"E-d".to_owned()) && ids.contains(&"E-r".to_owned()));
    assert!(
        !ids.iter().any(|id| id == "E-d2" || id == "E-r2"),
        "{ids:?}"
    );
}

async fn a_read_only_handle_refuses_every_write(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    b.store
        .create_user(&acme, new_user("kept"), t0())
        .await
        .unwrap();
    let reading = b.store.read_only();
    let refused = reading.create_user(&acme, new_user("alice"), t0()).await;
    assert!(
        matches!(refused, Err(StoreError::Internal(_))),
        "{refused:?}"
    );
    let refused = reading.delete_user(&acme, "kept").await;
    assert!(
        matches!(refused, Err(StoreError::Internal(_))),
        "{refused:?}"
    );
    // Reads go through, and nothing was written or removed.
    assert!(reading.get_user(&acme, "kept").await.is_ok());
    assert!(matches!(
        b.store.get_user(&acme, "alice").await,
        Err(StoreError::NotFound(_))
    ));
}

/// A read that took its key's state from a cache is written only if that state still holds
/// when its nonce is spent: the key active, its account's epoch and its owner's name as
/// assumed. Otherwise neither the nonce nor the event is written, so the call can run again.
async fn reads_on_an_assumed_key_state_are_written_only_while_it_holds(b: &Backend) {
    let acme = account(&b.store, "acme").await;
    let a = acme.as_str();
    let ttl = Duration::from_secs(900);
    let master = MasterKey::generate(1).unwrap();
    b.store
        .create_user(&acme, new_user("alice"), t0())
        .await
        .unwrap();
    let alice = KeyOwnerRef::User {
        account_id: &acme,
        user_name: "alice",
    };
    let (key, _) = NewAccessKey::generate(&master).unwrap();
    let key = b
        .store
        .create_access_key(alice, key, t0())
        .await
        .unwrap()
        .id;
    let (root_key, _) = NewAccessKey::generate(&master).unwrap();
    let root_key = b
        .store
        .create_access_key(KeyOwnerRef::AccountRoot(&acme), root_key, t0())
        .await
        .unwrap()
        .id;
    let epoch = b.store.authz_epoch(&acme).await.unwrap();
    let as_alice = KeyAssumption {
        authz_epoch: epoch,
        user_name: Some("alice".into()),
    };
    let assumed = |key: &str, nonce: &str, assumption: &KeyAssumption| NonceSpend {
        access_key_id: key.to_owned(),
        nonce: nonce.to_owned(),
        assumed: Some(assumption.clone()),
    };
    let ev = |id: &str| Ev::new(id, a, t0()).record();
    let spend = |nonces: Vec<NonceSpend>, events: Vec<(Option<usize>, AuditRecord)>| {
        let store = b.store.clone();
        async move {
            store
                .spend_nonces_and_append(&nonces, events, t0(), ttl)
                .await
                .unwrap()
        }
    };
    use NonceUse::{Fresh, KeyChanged, Replayed};

    // As assumed: spent and written, for a user's key and for a root key.
    let as_root = KeyAssumption {
        authz_epoch: epoch,
        user_name: None,
    };
    let uses = spend(
        vec![
            assumed(key.as_str(), "n1", &as_alice),
            assumed(root_key.as_str(), "r1", &as_root),
            // A root key taken for a user's is not as assumed.
            assumed(root_key.as_str(), "r2", &as_alice),
        ],
        vec![
            (Some(0), ev("E-1")),
            (Some(1), ev("E-2")),
            (Some(2), ev("E-X")),
        ],
    )
    .await;
    assert_eq!(uses, [Fresh, Fresh, KeyChanged]);
    assert_eq!(event_ids(&b.store, a).await, ["E-1", "E-2"]);
    // A replay is still a replay when the key is as assumed.
    let uses = spend(vec![assumed(key.as_str(), "n1", &as_alice)], vec![]).await;
    assert_eq!(uses, [Replayed]);

    // The epoch moved on: nothing written, and the nonce is still unspent.
    b.store
        .create_group(
            &acme,
            NewGroup {
                group_name: "g".into(),
                comments: String::new(),
            },
            t0(),
        )
        .await
        .unwrap();
    b.store
        .add_user_to_group(&acme, "g", "alice", t0())
        .await
        .unwrap();
    let later = b.store.authz_epoch(&acme).await.unwrap();
    assert_ne!(later, epoch, "a membership change moves the epoch");
    let uses = spend(
        vec![
            assumed(key.as_str(), "n2", &as_alice),
            // In the same batch, a call that read the key itself is unaffected.
            NonceSpend::new(key.as_str(), "n3"),
        ],
        vec![(Some(0), ev("E-3")), (Some(1), ev("E-4"))],
    )
    .await;
    assert_eq!(uses, [KeyChanged, Fresh]);
    let as_alice = KeyAssumption {
        authz_epoch: later,
        user_name: Some("alice".into()),
    };
    let uses = spend(
        vec![assumed(key.as_str(), "n2", &as_alice)],
        vec![(Some(0), ev("E-5"))],
    )
    .await;
    assert_eq!(uses, [Fresh], "the run again spends the same nonce");

    // Renamed: the name in the call's principal is stale.
    b.store
        .update_user(
            &acme,
            "alice",
            UserUpdate {
                new_user_name: Some("alicia".into()),
                ..UserUpdate::default()
            },
            t0(),
        )
        .await
        .unwrap();
    let epoch = b.store.authz_epoch(&acme).await.unwrap();
    let stale_name = KeyAssumption {
        authz_epoch: epoch,
        user_name: Some("alice".into()),
    };
    let spend_one = |nonce: &str, event: &str, assumption: &KeyAssumption| {
        spend(
            vec![assumed(key.as_str(), nonce, assumption)],
            vec![(Some(0), ev(event))],
        )
    };
    assert_eq!(spend_one("n6", "E-6", &stale_name).await, [KeyChanged]);

    // Disabled, and deleted.
    let alicia = KeyOwnerRef::User {
        account_id: &acme,
        user_name: "alicia",
    };
    b.store
        .set_access_key_status(alicia, &key, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    let as_alicia = KeyAssumption {
        authz_epoch: epoch,
        user_name: Some("alicia".into()),
    };
    assert_eq!(spend_one("n7", "E-7", &as_alicia).await, [KeyChanged]);
    b.store.delete_access_key(alicia, &key).await.unwrap();
    assert_eq!(spend_one("n8", "E-8", &as_alicia).await, [KeyChanged]);

    assert_eq!(event_ids(&b.store, a).await, ["E-1", "E-2", "E-4", "E-5"]);
    // None of the refused nonces was spent.
    let pairs: Vec<(String, String)> = ["n6", "n7", "n8"]
        .iter()
        .map(|n| (key.as_str().to_owned(), (*n).to_owned()))
        .chain([(root_key.as_str().to_owned(), "r2".to_owned())])
        .collect();
    assert_eq!(
        b.store.use_nonces(&pairs, t0(), ttl).await.unwrap(),
        [Fresh, Fresh, Fresh, Fresh]
    );
    assert_eq!(seal_all(&b.store).await, 4);
    for report in verify(&b.store).await {
        assert!(report.problems.is_empty(), "{report:?}");
    }
}
