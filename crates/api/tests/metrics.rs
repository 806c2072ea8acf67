//! The dispatcher's metrics: decisions and cache lookups as requests make them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::Server;

fn line_value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn denials_allows_and_policy_cache_use_are_counted() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    for _ in 0..2 {
        s.call(&alice, "ListUsers", &[])
            .await
            .err(403, "NoPermission");
    }
    let text = s.api.state().metrics.render();
    let get = |series: &str| line_value(&text, series);
    assert_eq!(
        get(r#"rampart_authorization_decisions_total{decision="deny"}"#),
        Some(2)
    );
    assert_eq!(
        get(r#"rampart_authorization_decisions_total{decision="allow"}"#),
        Some(2)
    );
    // alice's policies were compiled once, then served from the cache.
    assert_eq!(
        get(r#"rampart_cache_lookups_total{cache="policy_set",result="miss"}"#),
        Some(1)
    );
    assert_eq!(
        get(r#"rampart_cache_lookups_total{cache="policy_set",result="hit"}"#),
        Some(1)
    );
    assert_eq!(
        get(r#"rampart_requests_total{product="Ram",action="ListUsers",code="NoPermission"}"#),
        Some(2)
    );
}
