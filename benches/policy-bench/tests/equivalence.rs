//! Rampart and Cedar must give the same answer on every request the benchmark times; otherwise
//! comparing their speed means nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use rampart_policy::{Policy, PolicyKind};
use rampart_policy_bench::{
    cedar_text_of, compile_case_statements, ram_json, request_mix, request_pool,
    request_pool_1stmt, verify, ActionEncoding, CedarFixture, Doc, RampartFixture, RequestSpec,
    MIX_SIZE, POLICIES_10X5, POLICY_1STMT, POOL_SIZE,
};

fn check(
    docs: &[Doc],
    pool: &[RequestSpec],
    encoding: ActionEncoding,
) -> rampart_policy_bench::Verified {
    let mix = request_mix(pool.len());
    let rampart = RampartFixture::new(docs, pool).unwrap();
    let cedar = CedarFixture::new(docs, pool, encoding).unwrap();
    let v = verify(&rampart, &cedar, &mix).unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
    assert_eq!(v.pool.total(), POOL_SIZE);
    assert_eq!(v.mix.total(), MIX_SIZE);
    v
}

#[test]
fn ten_by_five_agrees_with_cedar_groups() {
    let v = check(&POLICIES_10X5, &request_pool(), ActionEncoding::Groups);
    println!("10x5 pool {:?}\n10x5 mix {:?}", v.pool, v.mix);
    // A mix worth timing has every outcome in it, in fair measure.
    for n in [v.mix.allow, v.mix.explicit_deny, v.mix.implicit_deny] {
        assert!(n >= MIX_SIZE / 10, "{v:?}");
    }
}

#[test]
fn ten_by_five_agrees_with_cedar_like() {
    check(&POLICIES_10X5, &request_pool(), ActionEncoding::Like);
}

#[test]
fn one_statement_agrees_with_cedar() {
    for encoding in [ActionEncoding::Groups, ActionEncoding::Like] {
        let v = check(&POLICY_1STMT, &request_pool_1stmt(), encoding);
        println!("1stmt mix {:?}", v.mix);
        for n in [v.mix.allow, v.mix.implicit_deny] {
            assert!(n >= MIX_SIZE / 10, "{v:?}");
        }
    }
}

#[test]
fn shape_of_the_ten_by_five_set() {
    assert_eq!(POLICIES_10X5.len(), 10);
    for d in &POLICIES_10X5 {
        assert_eq!(d.statements.len(), 5, "{}", d.name);
        let denies = d
            .statements
            .iter()
            .filter(|s| s.effect == rampart_policy_bench::Effect::Deny)
            .count();
        assert_eq!(denies, 1, "{}", d.name);
        let json = ram_json(d.statements).unwrap();
        Policy::parse(&json, PolicyKind::Identity).unwrap();
        PolicyKind::Identity.check_size(&json).unwrap();
    }
}

#[test]
fn compile_case_is_about_six_kilobytes() {
    let statements = compile_case_statements().unwrap();
    let json = ram_json(&statements).unwrap();
    let chars = json.chars().count();
    assert!((5_500..=6_000).contains(&chars), "{chars}");
    PolicyKind::Identity.check_size(&json).unwrap();
    Policy::parse(&json, PolicyKind::Identity).unwrap();
    let cedar = cedar_text_of(&statements, ActionEncoding::Groups).unwrap();
    cedar.parse::<cedar_policy::PolicySet>().unwrap();
}

#[test]
fn a_disagreement_is_caught() {
    // Guard the guard: a Cedar set that drops one Deny must be reported.
    let pool = request_pool();
    let mix = request_mix(pool.len());
    let rampart = RampartFixture::new(&POLICIES_10X5, &pool).unwrap();
    // Policy 7 holds the deny of every request from a public address.
    let mut weaker = POLICIES_10X5;
    weaker[7] = Doc {
        name: "replaced",
        statements: POLICIES_10X5[9].statements,
    };
    let cedar = CedarFixture::new(&weaker, &pool, ActionEncoding::Groups).unwrap();
    assert!(verify(&rampart, &cedar, &mix).is_err());
}

#[test]
#[ignore = "prints the rendered policies"]
fn print_policies() {
    println!("{}", ram_json(POLICIES_10X5[0].statements).unwrap());
    println!(
        "{}",
        rampart_policy_bench::cedar_text(&POLICIES_10X5, ActionEncoding::Groups).unwrap()
    );
    println!(
        "{}",
        rampart_policy_bench::cedar_text(&POLICIES_10X5[..1], ActionEncoding::Like).unwrap()
    );
}
