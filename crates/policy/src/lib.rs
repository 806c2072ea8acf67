//! The RAM policy language, as a pure library: parse → validate → compile → evaluate → explain,
//! plus a least-privilege linter.
//!
//! This crate is the single authority on what a policy means. Everything that decides access in
//! Rampart (API calls, role assumption, console actions, simulation, `rampart policy` commands)
//! goes through it, so its semantics are documented here and tested against a naive model.
//!
//! What it must never do: perform I/O, read the clock, block, allocate without bound on hostile
//! input, or panic on any input. Callers resolve everything that needs storage first (group
//! membership, the role behind a session, Resource Directory folder paths) and hand in compiled
//! [`PolicySet`]s per layer.
//!
//! # Stages
//! - [`Policy::parse`] reads JSON text as one of four [`PolicyKind`]s (identity, trust,
//!   session, control), reporting every problem as a [`Diagnostic`] with a JSON path and
//!   `line:column`. [`PolicyKind::check_size`] applies RAM's length limits.
//! - [`PolicySet::new`] compiles a principal's policies of one layer: patterns pre-built,
//!   condition values pre-read, statements indexed by service. Sets are immutable,
//!   `Send + Sync` and cheap to clone. [`PolicySet::with_actions`] also works out, for each
//!   action of a server's [`ActionTable`], which statements pass its action test.
//! - [`authorize`] decides a [`Request`] against [`Layers`] (control policies, session policy,
//!   identity policies, resource-based policy) and returns a [`Decision`]: the [`Outcome`], the
//!   deciding [`Layer`], and every matching statement. [`authorize_assume_role`] decides role
//!   assumption for `AssumeRole`, `AssumeRoleWithSAML` and `AssumeRoleWithOIDC`.
//! - [`lint`] reports least-privilege and correctness findings with stable codes.
//!
//! # Semantics chosen where RAM is silent
//! - Element names, operator names and `Effect` values are case-sensitive; actions and condition
//!   key names are not; resource ARNs are matched field by field (`acs:service:region:account:
//!   relative-id`), the service case-insensitively, the rest case-sensitively, and `*` matches an
//!   empty field (so `acs:ram:*:123:user/*` covers `acs:ram::123:user/bob`).
//! - `NotResource` is accepted as an extension (it appears in RAM's syntax reference but not in
//!   its element list), with the same meaning as `NotAction` has for actions.
//! - `Sid` is accepted and carried into explanations. Any other unknown element is an error.
//! - A statement list may be a single statement object. An empty list is valid and grants
//!   nothing (the linter flags it).
//! - Condition values may be written as JSON numbers or booleans as well as strings.
//! - Dates are ISO 8601, UTC unless an offset is given; a bare integer is epoch seconds.
//! - `ForAnyValue:` / `ForAllValues:` set qualifiers are accepted as an extension. For missing
//!   and multi-valued keys see [`condition`].
//! - Trust policies may name `sts:AssumeRole` (and, as aliases, `sts:AssumeRoleWithSAML` /
//!   `sts:AssumeRoleWithOIDC`) only; principal entries may use `*` and `?` wildcards.
//! - A request naming several resources is allowed only if each resource is allowed.
//! - Control policies bind every identity of a governed account, including its root identity;
//!   the caller decides which accounts are governed (the management account is not).

#![forbid(unsafe_code)]

mod compile;
pub mod condition;
mod context;
mod document;
mod eval;
mod json;
pub mod lint;
mod principal;
pub mod value;
mod wildcard;

pub use compile::{ActionTable, PolicyId, PolicySet};
pub use context::{Action, Context, ContextValue, ContextValues};
pub use document::{
    Condition, Diagnostic, Effect, Located, Location, PatternList, Policy, PolicyError, PolicyKind,
    Principal, SizeError, Statement,
};
pub use eval::{
    assume_role_action, authorize, authorize_assume_role, AssumeFlow, Combine, Decision, Identity,
    Layer, Layers, Match, Outcome, Request,
};
pub use principal::{Caller, CallerKind};
pub use wildcard::Pattern;
