//! Rate limits per AccessKey and per source IP: `Throttling.User` with `x-acs-retry-after`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::time::Duration;

use rampart_api::throttle::RateLimits;
use rampart_api::{ApiOptions, HttpRequest, HttpResponse};
use rampart_wire::RawRequest;
use support::{Client, Server};

/// A server limiting each AccessKey to `spec` ("rate/burst"), source IPs unlimited.
async fn limiting_keys(spec: &str) -> Server {
    limited(RateLimits {
        per_access_key: Some(spec.parse().unwrap()),
        per_source_ip: None,
    })
    .await
}

/// A server limiting each source IP to `spec` ("rate/burst"), AccessKeys unlimited.
async fn limiting_ips(spec: &str) -> Server {
    limited(RateLimits {
        per_access_key: None,
        per_source_ip: Some(spec.parse().unwrap()),
    })
    .await
}

async fn limited(rate_limits: RateLimits) -> Server {
    Server::start_with(ApiOptions {
        rate_limits,
        ..ApiOptions::default()
    })
    .await
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

fn code(r: &HttpResponse) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["Code"].as_str().unwrap_or("").to_owned()
}

async fn list_users(s: &Server, c: &Client, n: u32) -> HttpResponse {
    let raw = s.signed(c, "ListUsers", &[], &format!("throttle-{}-{n}", c.key_id));
    s.api.handle(HttpRequest::new(raw)).await
}

#[tokio::test]
async fn an_access_key_over_its_rate_is_throttled_with_a_retry_time() {
    let s = limiting_keys("10/2").await;
    let acme = s.account("acme").await;
    let other = s.account("other").await;
    for n in 0..2 {
        assert_eq!(list_users(&s, &acme, n).await.status, 200);
    }
    let refused = list_users(&s, &acme, 2).await;
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "Throttling.User".into())
    );
    assert_eq!(header(&refused, "x-acs-retry-after"), Some("100"));
    assert!(refused.body.contains("AccessKey limit is 10/s, burst 2"));
    // Another key has its own budget; the refused one recovers with time.
    assert_eq!(list_users(&s, &other, 0).await.status, 200);
    s.clock.advance(Duration::from_millis(100));
    assert_eq!(list_users(&s, &acme, 3).await.status, 200);
    assert_eq!(list_users(&s, &acme, 4).await.status, 400);
}

#[tokio::test]
async fn naming_a_key_without_its_secret_does_not_spend_its_budget() {
    let s = limiting_keys("1/1").await;
    let acme = s.account("acme").await;
    let forger = Client {
        secret: "not-the-secret-not-the-secret0".into(),
        ..acme.clone()
    };
    for n in 0..5 {
        let r = list_users(&s, &forger, n).await;
        assert_eq!(code(&r), "SignatureDoesNotMatch");
        assert_eq!(header(&r, "x-acs-retry-after"), None);
    }
    assert_eq!(list_users(&s, &acme, 0).await.status, 200);
}

#[tokio::test]
async fn a_source_ip_over_its_rate_is_throttled_before_anything_else() {
    let s = limiting_ips("1/2").await;
    let acme = s.account("acme").await;
    let from = |raw: RawRequest, ip: &str| {
        let mut request = HttpRequest::new(raw);
        request.source_ip = Some(ip.parse::<IpAddr>().unwrap());
        request
    };
    // Garbage counts too: the limit is taken before the request is even parsed.
    let garbage = s
        .api
        .handle(from(
            RawRequest::new("GET", "/", "Action=Nonsense"),
            "192.0.2.7",
        ))
        .await;
    assert_ne!(code(&garbage), "Throttling.User");
    let raw = s.signed(&acme, "ListUsers", &[], "ip-1");
    assert_eq!(s.api.handle(from(raw, "192.0.2.7")).await.status, 200);
    let raw = s.signed(&acme, "ListUsers", &[], "ip-2");
    let refused = s.api.handle(from(raw, "192.0.2.7")).await;
    assert_eq!(code(&refused), "Throttling.User");
    assert_eq!(header(&refused, "x-acs-retry-after"), Some("1000"));
    assert!(refused.body.contains("source IP limit"));
    let raw = s.signed(&acme, "ListUsers", &[], "ip-3");
    assert_eq!(s.api.handle(from(raw, "198.51.100.1")).await.status, 200);
}

#[tokio::test]
async fn without_limits_nothing_is_throttled() {
    let s = Server::start().await;
    let acme = s.account("acme").await;
    for n in 0..50 {
        assert_eq!(list_users(&s, &acme, n).await.status, 200);
    }
}

#[tokio::test]
async fn console_forms_share_the_per_address_limit() {
    let s = limiting_ips("1/3").await;
    let post = |ip: &str| {
        let mut raw = RawRequest::new("POST", "/login", "");
        raw.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        raw.body = b"csrf=x&logon=alice%40acme&password=guess".to_vec();
        let mut req = HttpRequest::new(raw);
        req.source_ip = Some(ip.parse().unwrap());
        req
    };
    // The burst of three answers as sign-in pages (refused: no form cookie)…
    for _ in 0..3 {
        assert_eq!(s.api.handle(post("192.0.2.7")).await.status, 401);
    }
    // …then the address waits; another address does not.
    let refused = s.api.handle(post("192.0.2.7")).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("Too many requests"));
    assert!(header(&refused, "retry-after").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert_eq!(s.api.handle(post("192.0.2.8")).await.status, 401);
    // Reading the form is not limited.
    let mut get = HttpRequest::new(RawRequest::new("GET", "/login", ""));
    get.source_ip = Some("192.0.2.7".parse().unwrap());
    assert_eq!(s.api.handle(get).await.status, 200);
}

/// A read that runs again because its key's cached state went stale is one request to the
/// rate limiter, not two.
#[tokio::test]
async fn a_read_run_again_after_a_stale_key_takes_one_token() {
    let s = limiting_keys("10/2").await;
    let acme = s.account("acme").await;
    // Caches the key and its account's epoch.
    assert_eq!(list_users(&s, &acme, 0).await.status, 200);
    s.clock.advance(Duration::from_millis(100));
    // Two changes that take the bucket's two tokens; the attachment moves the epoch.
    s.call(&acme, "CreateUser", &[("UserName", "bob")])
        .await
        .ok();
    s.call(
        &acme,
        "AttachPolicyToUser",
        &[
            ("UserName", "bob"),
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
        ],
    )
    .await
    .ok();
    s.clock.advance(Duration::from_millis(200));
    // A full bucket of two: the stale read runs twice but takes one token, so a second
    // request still fits.
    assert_eq!(list_users(&s, &acme, 1).await.status, 200);
    assert_eq!(list_users(&s, &acme, 2).await.status, 200);
    let stale = s.api.state().metrics.render();
    let series = r#"rampart_cache_lookups_total{cache="access_key",result="stale"} 1"#;
    assert!(stale.lines().any(|l| l == series), "{stale}");
}
