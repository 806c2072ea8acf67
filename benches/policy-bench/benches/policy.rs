//! Rampart's policy engine against `cedar-policy`, on equivalent policy sets, in one run.
//!
//! Everything is prepared before timing: both engines' compiled policy sets, Rampart's
//! `Action`s and `Context`s, Cedar's `Entities`, `Context`s and `Request`s, a pool of 4,096
//! distinct requests and a deterministic mix of 1,000,000 draws from it. The answers of both
//! engines are compared on every pool entry (hence on every request of the mix) before anything
//! is timed; a disagreement aborts the run.
//!
//! Timed:
//! - `decide_10x5/*`: one decision per iteration, walking the 1M mix in order (the walk goes on
//!   across samples and wraps around), for Rampart (`authorize`) and Cedar
//!   (`Authorizer::is_authorized`, with the action-group and the `like` encodings).
//! - `*/rampart_untabled`: Rampart on the same requests with actions built by `Action::new`,
//!   outside the action table the set was compiled against (every action test runs).
//! - `decide_10x5_hot64/*`: the same, over the draws of the mix that fall on the first 64
//!   distinct requests, whose data stays in cache (as a request being served is).
//! - `decide_10x5_full_mix/rampart`: one pass over all 1,000,000 requests per iteration.
//! - `decide_1stmt/*`: the same walk against a one-statement policy.
//! - `compile_6kb/*`: `Policy::parse` + `PolicySet::new` of a ~6,000-character identity policy,
//!   and, for reference, Cedar's `PolicySet::from_str` of the same statements.
//!
//! At the end the medians of this run are read back from criterion's estimates and printed as
//! a table with the Rampart/Cedar ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark's setup fails loudly by design

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput};
use rampart_policy::{authorize, Outcome, Policy, PolicyId, PolicyKind, PolicySet};
use rampart_policy_bench::{
    cedar_text_of, compile_case_statements, ram_json, request_mix, request_pool,
    request_pool_1stmt, verify, ActionEncoding, CedarFixture, Doc, RampartFixture, Verified,
    POLICIES_10X5, POLICY_1STMT,
};

/// Times one decision per iteration, walking `mix` from `cursor` on.
fn walk<T>(
    b: &mut criterion::Bencher<'_>,
    mix: &[u32],
    cursor: &mut usize,
    mut decide: impl FnMut(usize) -> T,
) {
    b.iter_custom(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            let i = mix[*cursor] as usize;
            *cursor += 1;
            if *cursor == mix.len() {
                *cursor = 0;
            }
            black_box(decide(black_box(i)));
        }
        start.elapsed()
    });
}

struct Case {
    rampart: RampartFixture,
    cedar_groups: CedarFixture,
    cedar_like: CedarFixture,
    verified: Verified,
}

fn prepare(
    name: &str,
    docs: &[Doc],
    pool: &[rampart_policy_bench::RequestSpec],
    mix: &[u32],
) -> Case {
    let rampart = RampartFixture::new(docs, pool).unwrap();
    let cedar_groups = CedarFixture::new(docs, pool, ActionEncoding::Groups).unwrap();
    let cedar_like = CedarFixture::new(docs, pool, ActionEncoding::Like).unwrap();
    let verified = verify(&rampart, &cedar_groups, mix)
        .unwrap_or_else(|e| panic!("{name}: Rampart and Cedar (action groups) disagree: {e}"));
    let again = verify(&rampart, &cedar_like, mix)
        .unwrap_or_else(|e| panic!("{name}: Rampart and Cedar (like) disagree: {e}"));
    assert_eq!(verified, again);
    let m = &verified.mix;
    let pct = |n: usize| 100.0 * n as f64 / m.total() as f64;
    println!(
        "{name}: {} statements; Rampart and Cedar agree on all {} distinct requests; \
         mix of {}: allow {} ({:.1}%), explicit deny {} ({:.1}%), implicit deny {} ({:.1}%)",
        rampart.set.statement_count(),
        verified.pool.total(),
        m.total(),
        m.allow,
        pct(m.allow),
        m.explicit_deny,
        pct(m.explicit_deny),
        m.implicit_deny,
        pct(m.implicit_deny),
    );
    Case {
        rampart,
        cedar_groups,
        cedar_like,
        verified,
    }
}

fn decide_group(c: &mut Criterion, group: &str, case: &Case, mix: &[u32], cedar_time: Duration) {
    let requests = case.rampart.requests();
    let layers = case.rampart.layers();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(6));
    g.sample_size(60);
    let mut cursor = 0;
    g.bench_function("rampart", |b| {
        walk(b, mix, &mut cursor, |i| authorize(&requests[i], &layers))
    });
    // The same decisions without the action table's precomputed action tests.
    let plain = rampart_policy_bench::RampartFixture::plain_actions();
    let untabled = case.rampart.requests_untabled(&plain);
    let mut cursor = 0;
    g.bench_function("rampart_untabled", |b| {
        walk(b, mix, &mut cursor, |i| authorize(&untabled[i], &layers))
    });
    g.measurement_time(cedar_time);
    for (name, f) in [
        ("cedar_groups", &case.cedar_groups),
        ("cedar_like", &case.cedar_like),
    ] {
        let mut cursor = 0;
        g.bench_function(name, |b| {
            walk(b, mix, &mut cursor, |i| {
                f.authorizer
                    .is_authorized(&f.requests[i], &f.policies, &f.entities)
            })
        });
    }
    g.finish();
}

fn full_mix(c: &mut Criterion, case: &Case, mix: &[u32]) {
    let requests = case.rampart.requests();
    let layers = case.rampart.layers();
    let mut g = c.benchmark_group("decide_10x5_full_mix");
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(15);
    g.bench_function("rampart", |b| {
        b.iter(|| {
            let mut allowed = 0u32;
            for &i in mix {
                if authorize(&requests[i as usize], &layers).outcome == Outcome::Allow {
                    allowed += 1;
                }
            }
            assert_eq!(allowed as usize, case.verified.mix.allow);
            allowed
        })
    });
    g.finish();
}

fn compile_group(c: &mut Criterion) {
    let statements = compile_case_statements().unwrap();
    let json = ram_json(&statements).unwrap();
    let cedar = cedar_text_of(&statements, ActionEncoding::Groups).unwrap();
    println!(
        "compile_6kb: {} statements, {} characters of RAM JSON, {} characters of Cedar",
        statements.len(),
        json.chars().count(),
        cedar.chars().count()
    );
    let mut g = c.benchmark_group("compile_6kb");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    g.sample_size(50);
    g.bench_function("rampart_parse_compile", |b| {
        b.iter(|| {
            let p = Policy::parse(black_box(&json), PolicyKind::Identity).unwrap();
            PolicySet::new([(PolicyId::new("big", "Custom", "v1"), &p)])
        })
    });
    g.bench_function("cedar_parse", |b| {
        b.iter(|| {
            black_box(&cedar)
                .parse::<cedar_policy::PolicySet>()
                .unwrap()
        })
    });
    g.finish();
}

/// Where criterion writes its estimates: `$CRITERION_HOME`, else `<target dir>/criterion`,
/// the target dir being three levels above this executable (`<target>/release/deps/…`).
fn output_directory() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map(|t| t.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// The median ns per iteration of one benchmark, if it ran in this process.
fn median_ns(dir: &Path, group: &str, bench: &str, since: SystemTime) -> Option<f64> {
    let path = dir
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn summary(dir: &Path, since: SystemTime) {
    let get = |g: &str, b: &str| median_ns(dir, g, b, since);
    let fmt_ns = |v: Option<f64>| v.map_or("not run".to_owned(), |ns| format!("{ns:.1} ns"));
    let fmt_rate = |v: Option<f64>| v.map_or("—".to_owned(), |ns| format!("{:.3e}/s", 1e9 / ns));
    println!("\n== Medians of this run ==");
    println!(
        "{:<44} {:>14} {:>14} {:>12}",
        "benchmark", "median", "per second", "Rampart ×"
    );
    for group in ["decide_10x5", "decide_10x5_hot64", "decide_1stmt"] {
        let r = get(group, "rampart");
        for bench in ["rampart", "rampart_untabled", "cedar_groups", "cedar_like"] {
            let v = get(group, bench);
            let ratio = match (r, v) {
                (Some(r), Some(v)) if bench.starts_with("cedar") => format!("{:.1}", v / r),
                _ => String::new(),
            };
            println!(
                "{:<44} {:>14} {:>14} {:>12}",
                format!("{group}/{bench} (per decision)"),
                fmt_ns(v),
                fmt_rate(v),
                ratio
            );
        }
    }
    if let Some(ns) = get("decide_10x5_full_mix", "rampart") {
        let per = ns / rampart_policy_bench::MIX_SIZE as f64;
        println!(
            "{:<44} {:>14} {:>14}",
            "decide_10x5_full_mix/rampart (1M pass)",
            format!("{:.1} ms", ns / 1e6),
            format!("{per:.1} ns/dec")
        );
    }
    for bench in ["rampart_parse_compile", "cedar_parse"] {
        let v = get("compile_6kb", bench);
        println!(
            "{:<44} {:>14}",
            format!("compile_6kb/{bench}"),
            v.map_or("not run".to_owned(), |ns| format!("{:.1} µs", ns / 1e3))
        );
    }
    println!(
        "targets: Rampart median ≤ 300 ns/decision; Rampart ≥ 50× Cedar's decisions per second"
    );
}

/// The load average, so a run disturbed by other work on the machine can be recognised.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let since = SystemTime::now();
    println!("load average before: {}", loadavg());
    let pool = request_pool();
    let mix = request_mix(pool.len());
    let ten_by_five = prepare("10x5", &POLICIES_10X5, &pool, &mix);
    let pool_1 = request_pool_1stmt();
    let one = prepare("1stmt", &POLICY_1STMT, &pool_1, &mix);

    let dir = output_directory();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    decide_group(
        &mut c,
        "decide_10x5",
        &ten_by_five,
        &mix,
        Duration::from_secs(10),
    );
    // The same set and mix, restricted to the first 64 distinct requests: their requests and
    // contexts stay in cache, as a request being served is. The 4,096-request walk above
    // measures the engine with cold request data.
    let hot: Vec<u32> = mix.iter().copied().filter(|&i| i < 64).collect();
    decide_group(
        &mut c,
        "decide_10x5_hot64",
        &ten_by_five,
        &hot,
        Duration::from_secs(6),
    );
    full_mix(&mut c, &ten_by_five, &mix);
    decide_group(&mut c, "decide_1stmt", &one, &mix, Duration::from_secs(6));
    compile_group(&mut c);
    c.final_summary();
    summary(&dir, since);
    println!("load average after: {}", loadavg());
}
