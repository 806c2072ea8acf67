//! Compiled policy sets: every pattern pre-built, every condition value pre-read, and statements
//! indexed by the service of their actions so a request only visits statements that can match.

use std::sync::Arc;

use crate::condition::CompiledCondition;
use crate::context::{Action, Context};
use crate::document::{Effect, Policy, Principal};
use crate::principal::Caller;
use crate::wildcard::Pattern;

/// Names the policy a statement came from, for explanations and `AccessDeniedDetail`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyId {
    /// `AdministratorAccess`, `my-policy`, or a label such as `trust-policy`.
    pub name: Box<str>,
    /// `System`, `Custom`, … as RAM reports `PolicyType`; free text for other callers.
    pub policy_type: Box<str>,
    /// `v1`, `v2`, …; empty where documents have no versions (trust and session policies).
    pub version: Box<str>,
}

impl PolicyId {
    pub fn new(name: &str, policy_type: &str, version: &str) -> PolicyId {
        PolicyId {
            name: name.into(),
            policy_type: policy_type.into(),
            version: version.into(),
        }
    }
}

/// A resource pattern split at the ARN's colons, so `*` in the region or account field cannot
/// run into the next field, and the service compares case-insensitively while the relative id
/// stays case-sensitive.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "patterns sit in contiguous arrays matched in the hot loop; boxing the ARN fields would add a dependent load per pattern"
)]
pub(crate) enum ResourcePattern {
    Any,
    Arn {
        service: Pattern,
        region: Pattern,
        account: Pattern,
        relative: Pattern,
    },
}

impl ResourcePattern {
    pub(crate) fn new(source: &str) -> ResourcePattern {
        if source == "*" {
            return ResourcePattern::Any;
        }
        let mut it = source.splitn(5, ':');
        let _scheme = it.next();
        let service = it.next().unwrap_or_default();
        let region = it.next().unwrap_or_default();
        let account = it.next().unwrap_or_default();
        let relative = it.next().unwrap_or_default();
        ResourcePattern::Arn {
            service: Pattern::new_ignore_case(service),
            region: Pattern::new(region),
            account: Pattern::new(account),
            relative: Pattern::new(relative),
        }
    }

    pub(crate) fn matches(&self, r: &Arn<'_>) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Arn {
                service,
                region,
                account,
                relative,
            } => match &r.parts {
                Some(p) => {
                    service.matches(&p.service)
                        && region.matches(p.region)
                        && account.matches(p.account)
                        && relative.matches(p.relative)
                }
                None => false,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ArnParts<'a> {
    service: std::borrow::Cow<'a, str>,
    region: &'a str,
    account: &'a str,
    relative: &'a str,
}

/// A request resource, split once per request.
#[derive(Clone, Debug)]
pub(crate) struct Arn<'a> {
    parts: Option<ArnParts<'a>>,
}

impl<'a> Arn<'a> {
    pub(crate) fn new(text: &'a str) -> Arn<'a> {
        // A plain byte scan for the first four colons: `str::splitn` costs a searcher per
        // field, which showed up as a fifth of a decision's time in profiles.
        let bytes = text.as_bytes();
        let mut cuts = [0usize; 4];
        let mut n = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b':' {
                if let Some(slot) = cuts.get_mut(n) {
                    *slot = i;
                }
                n += 1;
                if n == 4 {
                    break;
                }
            }
        }
        let [c0, c1, c2, c3] = cuts;
        let parts = if n == 4 {
            match (
                text.get(..c0),
                text.get(c0 + 1..c1),
                text.get(c1 + 1..c2),
                text.get(c2 + 1..c3),
                text.get(c3 + 1..),
            ) {
                (Some(scheme), Some(service), Some(region), Some(account), Some(relative))
                    if scheme.eq_ignore_ascii_case("acs") =>
                {
                    let service =
                        if service.bytes().any(|b| b.is_ascii_uppercase()) || !service.is_ascii() {
                            std::borrow::Cow::Owned(service.to_lowercase())
                        } else {
                            std::borrow::Cow::Borrowed(service)
                        };
                    Some(ArnParts {
                        service,
                        region,
                        account,
                        relative,
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        Arn { parts }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledPrincipal {
    any: bool,
    ram: Box<[Pattern]>,
    /// Lower-cased.
    service: Box<[Pattern]>,
    federated: Box<[Pattern]>,
}

impl CompiledPrincipal {
    fn new(p: &Principal) -> CompiledPrincipal {
        match p {
            Principal::Any => CompiledPrincipal {
                any: true,
                ram: Box::new([]),
                service: Box::new([]),
                federated: Box::new([]),
            },
            Principal::Entries {
                ram,
                service,
                federated,
            } => CompiledPrincipal {
                any: false,
                ram: ram.iter().map(|s| Pattern::new(s)).collect(),
                service: service
                    .iter()
                    .map(|s| Pattern::new_ignore_case(s))
                    .collect(),
                federated: federated.iter().map(|s| Pattern::new(s)).collect(),
            },
        }
    }

    pub(crate) fn matches(&self, caller: &Caller) -> bool {
        if self.any {
            return true;
        }
        let hit = |patterns: &[Pattern], ids: &[Box<str>]| {
            patterns.iter().any(|p| ids.iter().any(|id| p.matches(id)))
        };
        hit(&self.ram, caller.ram_ids())
            || hit(&self.service, caller.service_ids())
            || hit(&self.federated, caller.federated_ids())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledStatement {
    pub(crate) policy: u32,
    pub(crate) index: u32,
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    not_action: bool,
    /// The characters (as `context::name_bit`s) an action name matched by this statement can
    /// start with; all ones when a pattern leaves that open. A request whose bit is not here
    /// cannot match, so its patterns are never run.
    first_chars: u64,
    /// Lower-cased.
    actions: Box<[Pattern]>,
    /// `None` when the statement has no resource element (trust policies).
    resources: Option<(bool, Box<[ResourcePattern]>)>,
    principal: Option<CompiledPrincipal>,
    conditions: Box<[CompiledCondition]>,
}

impl CompiledStatement {
    pub(crate) fn matches_action(&self, actions: &[&Action]) -> bool {
        if !self.not_action
            && actions
                .iter()
                .all(|a| self.first_chars & a.first_bit() == 0)
        {
            return false;
        }
        let hit = actions
            .iter()
            .any(|a| self.actions.iter().any(|p| p.matches(a.lower())));
        hit != self.not_action
    }

    fn matches_resource(&self, r: &Arn<'_>) -> bool {
        match &self.resources {
            None => true,
            Some((negated, patterns)) => patterns.iter().any(|p| p.matches(r)) != *negated,
        }
    }

    pub(crate) fn matches(
        &self,
        actions: &[&Action],
        resource: &Arn<'_>,
        context: &Context,
        caller: Option<&Caller>,
    ) -> bool {
        self.matches_action(actions) && self.matches_rest(resource, context, caller)
    }

    /// Everything but the action test.
    pub(crate) fn matches_rest(
        &self,
        resource: &Arn<'_>,
        context: &Context,
        caller: Option<&Caller>,
    ) -> bool {
        self.matches_resource(resource)
            && match &self.principal {
                None => true,
                Some(p) => caller.is_some_and(|c| p.matches(c)),
            }
            && self
                .conditions
                .iter()
                .all(|c| c.evaluate(context.get_hashed(c.key_hash, &c.key)))
    }
}

/// See `CompiledStatement::first_chars`.
fn first_chars<'a>(patterns: impl Iterator<Item = &'a str>) -> u64 {
    let mut bits = 0u64;
    for p in patterns {
        let lower = p.to_lowercase();
        let first = match lower.split_once(':') {
            Some((_, name)) => name.as_bytes().first().copied(),
            // `*` (or any pattern without a colon) may match anything.
            None => None,
        };
        match first {
            Some(b'*' | b'?') | None => return u64::MAX,
            Some(c) => bits |= crate::context::name_bit(Some(c)),
        }
    }
    bits
}

/// The actions a server knows (its API's endpoints), each an [`Action`] with a slot in the
/// table. A [`PolicySet`] compiled with [`PolicySet::with_actions`] against the same table has
/// each action's matching statements worked out in advance, so a decision for one of them tests
/// only resources and conditions. Actions built with [`Action::new`], or from another table,
/// take the ordinary path and decide identically.
#[derive(Debug)]
pub struct ActionTable {
    id: u64,
    actions: Vec<Action>,
}

static NEXT_TABLE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl ActionTable {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> ActionTable {
        let id = NEXT_TABLE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let actions = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| Action::new(n).with_slot(id, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        ActionTable { id, actions }
    }

    /// The table's action of that name (case-insensitive), to build requests with.
    pub fn get(&self, name: &str) -> Option<&Action> {
        let lower = name.to_lowercase();
        self.actions.iter().find(|a| a.lower() == lower)
    }

    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
}

pub(crate) struct Inner {
    pub(crate) policies: Vec<Arc<PolicyId>>,
    pub(crate) statements: Vec<CompiledStatement>,
    /// One entry per service; each list holds, in document order, the statements whose actions
    /// name that service plus those that can match any service.
    by_service: Vec<(Box<str>, Box<[u32]>)>,
    /// Statements that can match any service (`*`, `NotAction`, a wildcard in the service).
    any_service: Box<[u32]>,
    /// With an [`ActionTable`]: its id, and per table action the statements whose action test
    /// it passes, in document order.
    by_action: Option<PrematchedActions>,
}

/// An [`ActionTable`]'s id, and per table action the statements it passes the action test of.
type PrematchedActions = (u64, Box<[Box<[u32]>]>);

/// A principal's policies of one layer, compiled once and shared: cloning is a reference-count
/// increment, and the set is `Send + Sync`, so a server caches it per principal.
#[derive(Clone)]
pub struct PolicySet {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.inner.policies)
            .field("statements", &self.inner.statements.len())
            .finish()
    }
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet::empty()
    }
}

impl PolicySet {
    pub fn empty() -> PolicySet {
        PolicySet::new(std::iter::empty())
    }

    /// Compiles policies into one set. Statement order is kept, so explanations list matches
    /// in the order the author wrote them.
    /// Like [`PolicySet::new`], and works out in advance which statements each action of
    /// `table` passes the action test of.
    pub fn with_actions<'a>(
        policies: impl IntoIterator<Item = (PolicyId, &'a Policy)>,
        table: &ActionTable,
    ) -> PolicySet {
        let mut set = PolicySet::new(policies);
        let inner = &set.inner;
        let lists: Box<[Box<[u32]>]> = table
            .actions
            .iter()
            .map(|a| {
                set.candidates(a.service())
                    .iter()
                    .copied()
                    .filter(|&si| {
                        inner
                            .statements
                            .get(si as usize)
                            .is_some_and(|st| st.matches_action(&[a]))
                    })
                    .collect()
            })
            .collect();
        if let Some(inner) = Arc::get_mut(&mut set.inner) {
            inner.by_action = Some((table.id, lists));
        }
        set
    }

    pub fn new<'a>(policies: impl IntoIterator<Item = (PolicyId, &'a Policy)>) -> PolicySet {
        let mut ids = Vec::new();
        let mut statements = Vec::new();
        let mut services: Vec<(Box<str>, Vec<u32>)> = Vec::new();
        let mut any_service = Vec::new();
        for (pi, (id, policy)) in policies.into_iter().enumerate() {
            ids.push(Arc::new(id));
            for st in &policy.statements {
                let si = u32::try_from(statements.len()).unwrap_or(u32::MAX);
                let actions: Box<[Pattern]> = st
                    .action
                    .values
                    .iter()
                    .map(|a| Pattern::new_ignore_case(&a.value))
                    .collect();
                // Which services can this statement's actions name?
                let mut literal_services: Vec<String> = Vec::new();
                let mut wildcard = st.action.negated;
                for a in &st.action.values {
                    match a.value.split_once(':') {
                        Some((svc, _)) if !svc.contains(['*', '?']) => {
                            literal_services.push(svc.to_lowercase())
                        }
                        _ => wildcard = true,
                    }
                }
                if wildcard {
                    any_service.push(si);
                } else {
                    literal_services.sort();
                    literal_services.dedup();
                    for svc in literal_services {
                        match services.iter_mut().find(|(s, _)| **s == *svc) {
                            Some((_, list)) => list.push(si),
                            None => services.push((svc.into(), vec![si])),
                        }
                    }
                }
                statements.push(CompiledStatement {
                    policy: u32::try_from(pi).unwrap_or(u32::MAX),
                    index: u32::try_from(st.index).unwrap_or(u32::MAX),
                    sid: st.sid.as_deref().map(Arc::from),
                    effect: st.effect,
                    not_action: st.action.negated,
                    first_chars: first_chars(st.action.values.iter().map(|a| a.value.as_str())),
                    actions,
                    resources: st.resource.as_ref().map(|r| {
                        (
                            r.negated,
                            r.values
                                .iter()
                                .map(|v| ResourcePattern::new(&v.value))
                                .collect(),
                        )
                    }),
                    principal: st.principal.as_ref().map(CompiledPrincipal::new),
                    conditions: st
                        .conditions
                        .iter()
                        .map(|c| {
                            let key = c.key.to_lowercase();
                            CompiledCondition {
                                operator: c.operator,
                                key_hash: crate::context::key_hash(&key),
                                key: key.into(),
                                values: c.typed.clone(),
                            }
                        })
                        .collect(),
                });
            }
        }
        let mut by_service: Vec<(Box<str>, Box<[u32]>)> = services
            .into_iter()
            .map(|(svc, mut list)| {
                list.extend_from_slice(&any_service);
                list.sort_unstable();
                list.dedup();
                (svc, list.into_boxed_slice())
            })
            .collect();
        by_service.sort_by(|a, b| a.0.cmp(&b.0));
        PolicySet {
            inner: Arc::new(Inner {
                policies: ids,
                statements,
                by_service,
                any_service: any_service.into_boxed_slice(),
                by_action: None,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.statements.is_empty()
    }

    pub fn policies(&self) -> impl Iterator<Item = &PolicyId> {
        self.inner.policies.iter().map(|p| &**p)
    }

    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// For an action of this set's [`ActionTable`], the statements whose action test it passes.
    pub(crate) fn prematched(&self, action: &Action) -> Option<&[u32]> {
        let (table, index) = action.slot()?;
        match &self.inner.by_action {
            Some((id, lists)) if *id == table => lists.get(index as usize).map(|l| &l[..]),
            _ => None,
        }
    }

    /// The statements that can match an action of `service` (lower-case).
    pub(crate) fn candidates(&self, service: &str) -> &[u32] {
        // A principal's policies name a handful of services: a linear scan of short keys beats
        // a binary search's calls into `memcmp`.
        self.inner
            .by_service
            .iter()
            .find(|(s, _)| crate::wildcard::bytes_eq(s.as_bytes(), service.as_bytes()))
            .map_or(&self.inner.any_service[..], |(_, l)| &l[..])
    }
}
