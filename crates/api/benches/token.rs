//! STS security tokens: how long opening one takes (the work every request signed with STS
//! credentials adds), against the V1 HMAC-SHA1 signature every signed request computes anyway,
//! measured in the same run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_api::sts::token::{Origin, SessionClaims, TokenKeys};
use rampart_model::{MasterKey, Timestamp};
use rampart_wire::{v1, Secret};

fn claims(now: i64) -> SessionClaims {
    SessionClaims {
        access_key_id: "STS.NUgYrLnoC37mZZCNnAbez1234".into(),
        secret: "wyLTSmsyPGP1ohvvw8xYgB29dlGI8K".into(),
        account_id: "1234567890123456".into(),
        role_id: "300800000000000001".into(),
        role_name: "ops-admin".into(),
        session_name: "alice@corp.example".into(),
        // A typical narrowing session policy.
        policy: Some(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Resource":["acs:oss:*:*:bucket-a","acs:oss:*:*:bucket-a/*"]}]}"#
                .into(),
        ),
        source_identity: Some("alice".into()),
        mfa: false,
        origin: Origin::User,
        caller: "acs:ram::1234567890123456:user/alice".into(),
        issued_at: now,
        expires_at: now + 3600,
    }
}

fn bench(c: &mut Criterion) {
    let keys = TokenKeys::new(
        Arc::new(MasterKey::from_slice(1, &[9u8; 32]).unwrap()),
        3600,
    );
    let now = Timestamp::parse("2026-11-22T10:00:00Z").unwrap();
    let token = keys.seal(&claims(now.unix_secs()), now).unwrap();
    let later = Timestamp::from_unix_secs(now.unix_secs() + 60).unwrap();
    // Warm the per-period key cache, as a running server has it.
    keys.open(&token, "STS.NUgYrLnoC37mZZCNnAbez1234", later)
        .unwrap();

    let mut g = c.benchmark_group("sts_token");
    g.bench_function("baseline_v1_hmac_sha1_signature", |b| {
        let secret = Secret::new("wyLTSmsyPGP1ohvvw8xYgB29dlGI8K");
        let sts = v1::string_to_sign(
            "GET",
            "AccessKeyId=STS.NUgYrLnoC37mZZCNnAbez1234&Action=GetCallerIdentity&Format=JSON&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2026-11-22T10%3A00%3A00Z&Version=2015-04-01",
        );
        b.iter(|| v1::sign(black_box(&secret), black_box(&sts)))
    });
    g.bench_function("open", |b| {
        b.iter(|| {
            keys.open(
                black_box(&token),
                black_box("STS.NUgYrLnoC37mZZCNnAbez1234"),
                later,
            )
            .unwrap()
        })
    });
    g.bench_function("seal", |b| {
        let c = claims(now.unix_secs());
        b.iter(|| keys.seal(black_box(&c), now).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
