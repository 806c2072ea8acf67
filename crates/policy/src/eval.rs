//! Decisions: one request against the layers of policy that apply to it, with the explanation
//! of how the decision was reached.
//!
//! The order follows RAM's documented evaluation logic:
//! 1. control policies, level by level from the Resource Directory root to the account — each
//!    level must allow, and any deny denies;
//! 2. the session policy of a role session, if it has one — it must allow;
//! 3. identity policies — account-scope attachments first; an explicit deny or an allow there
//!    ends the stage, an implicit deny falls through to resource-group-scope attachments
//!    (decision A); and the resource-based policy (a role's trust policy) — decision B;
//! 4. any explicit deny in A or B denies; otherwise an allow in A or B allows (for
//!    [`Combine::Either`]) or an allow in both (for [`Combine::Both`], used by `AssumeRole`, where
//!    the caller's identity policy *and* the role's trust policy must agree).
//!
//! Every statement that matched on the way is recorded, so a denial can say which statement
//! denied, or that none allowed. Recording costs no allocation until a fifth match.

use std::fmt;
use std::sync::{Arc, LazyLock};

use smallvec::SmallVec;

use crate::compile::{Arn, PolicyId, PolicySet};
use crate::context::{Action, Context};
use crate::document::Effect;
use crate::principal::{Caller, CallerKind};

/// The three outcomes of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// Nothing allowed.
    ImplicitDeny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "Allow",
            Outcome::ExplicitDeny => "ExplicitDeny",
            Outcome::ImplicitDeny => "ImplicitDeny",
        }
    }

    pub fn is_allow(self) -> bool {
        self == Outcome::Allow
    }
}

/// Which layer of policy a match or a decision belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// A control policy level; 0 is the Resource Directory root, the last is the account.
    ControlPolicy {
        level: u8,
    },
    SessionPolicy,
    /// Identity policies attached in the account scope.
    AccountIdentity,
    /// Identity policies attached in a resource group's scope.
    ResourceGroupIdentity,
    /// The account's root identity acting in its own account: no policy is consulted.
    AccountOwner,
    /// A resource-based policy; for RAM that is a role's trust policy.
    ResourcePolicy,
}

impl Layer {
    /// The `PolicyType` of `AccessDeniedDetail`.
    pub fn policy_type(self) -> &'static str {
        match self {
            Layer::ControlPolicy { .. } => "ControlPolicy",
            Layer::SessionPolicy => "SessionPolicy",
            Layer::AccountIdentity | Layer::AccountOwner => "AccountLevelIdentityBasedPolicy",
            Layer::ResourceGroupIdentity => "ResourceGroupLevelIdentityBasedPolicy",
            Layer::ResourcePolicy => "AssumeRolePolicy",
        }
    }

    /// A stable machine name, for JSON and test files.
    pub fn name(self) -> &'static str {
        match self {
            Layer::ControlPolicy { .. } => "ControlPolicy",
            Layer::SessionPolicy => "SessionPolicy",
            Layer::AccountIdentity => "AccountIdentity",
            Layer::ResourceGroupIdentity => "ResourceGroupIdentity",
            Layer::AccountOwner => "AccountOwner",
            Layer::ResourcePolicy => "ResourcePolicy",
        }
    }

    fn describe(self) -> String {
        match self {
            Layer::ControlPolicy { level } => format!("control policies (level {level})"),
            Layer::SessionPolicy => "the session policy".into(),
            Layer::AccountIdentity => "account-level identity policies".into(),
            Layer::ResourceGroupIdentity => "resource-group-level identity policies".into(),
            Layer::AccountOwner => "the account owner's implicit full access".into(),
            Layer::ResourcePolicy => "the role's trust policy".into(),
        }
    }
}

/// One statement that matched the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub layer: Layer,
    pub policy: Arc<PolicyId>,
    /// Index of the statement in its document, from 0.
    pub statement: u32,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    /// Index of the request resource it matched.
    pub resource: u16,
}

/// The layer in words, as explanations word it.
impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by statement {}",
            self.effect.as_str(),
            self.statement
        )?;
        if let Some(sid) = &self.sid {
            write!(f, " (Sid \"{sid}\")")?;
        }
        write!(
            f,
            " of {} policy \"{}\"",
            self.policy.policy_type, self.policy.name
        )?;
        if !self.policy.version.is_empty() {
            write!(f, " version {}", self.policy.version)?;
        }
        write!(f, " [{}]", self.layer.describe())
    }
}

/// The result of an authorization, with its explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The layer whose result decided; `None` only for an allow reached by combining layers
    /// where no single one decided (never in practice) or an empty request.
    pub decided_by: Option<Layer>,
    /// For a denial, the index of the first resource that was denied.
    pub denied_resource: Option<u16>,
    /// Every statement that matched, in evaluation order.
    pub matched: SmallVec<[Match; 4]>,
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        self.outcome.is_allow()
    }

    /// The statements of a given effect that matched.
    pub fn matched_with(&self, effect: Effect) -> impl Iterator<Item = &Match> {
        self.matched.iter().filter(move |m| m.effect == effect)
    }

    /// A sentence or two a person can act on.
    pub fn explain(&self, request: &Request<'_>) -> String {
        self.explain_parts(request.action.as_str(), request.resources)
    }

    /// [`Decision::explain`] for callers that hold the action and resources but no `Request`
    /// (as after [`authorize_assume_role`], whose resource is the role ARN).
    pub fn explain_parts(&self, action: &str, resources: &[&str]) -> String {
        let resource = self
            .denied_resource
            .and_then(|i| resources.get(usize::from(i)))
            .or_else(|| resources.first())
            .copied()
            .unwrap_or("*");
        let layer = self.decided_by.map(Layer::describe).unwrap_or_default();
        let mut out = match self.outcome {
            Outcome::Allow => format!("{action} on {resource} is allowed by {layer}"),
            Outcome::ExplicitDeny => {
                format!("{action} on {resource} is explicitly denied by {layer}")
            }
            Outcome::ImplicitDeny => {
                format!("{action} on {resource} is implicitly denied: no statement of {layer} allows it")
            }
        };
        for m in &self.matched {
            out.push_str("; ");
            out.push_str(&m.to_string());
        }
        out
    }
}

/// The request being decided.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub action: &'a Action,
    /// An alternative name the action also answers to, in the same service. Trust policies use
    /// it so `sts:AssumeRoleWithOIDC` statements match an OIDC assumption.
    pub alias: Option<&'a Action>,
    /// One or more resource ARNs; every one must be allowed.
    pub resources: &'a [&'a str],
    pub context: &'a Context,
    /// Needed only by resource-based policies, which name principals.
    pub caller: Option<&'a Caller>,
}

impl<'a> Request<'a> {
    pub fn new(action: &'a Action, resources: &'a [&'a str], context: &'a Context) -> Self {
        Request {
            action,
            alias: None,
            resources,
            context,
            caller: None,
        }
    }

    pub fn with_caller(mut self, caller: &'a Caller) -> Self {
        self.caller = Some(caller);
        self
    }
}

/// The identity-policy layer of a request.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// The account's root identity in its own account: allowed without policies.
    AccountOwner,
    Policies {
        account: &'a PolicySet,
        resource_group: Option<&'a PolicySet>,
    },
    /// No identity policies take part (anonymous federated calls, decided by trust alone).
    Absent,
}

/// How the identity decision (A) and the resource-based decision (B) combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Either may allow: the ordinary case.
    Either,
    /// Both must allow: assuming a role (`sts:AssumeRole` with the role as resource).
    Both,
}

/// Every layer of policy that applies to one request.
#[derive(Clone, Copy, Debug)]
pub struct Layers<'a> {
    /// Root first, account last. Empty when the account is not governed by control policies.
    pub control: &'a [PolicySet],
    pub session: Option<&'a PolicySet>,
    pub identity: Identity<'a>,
    pub resource_policy: Option<&'a PolicySet>,
    pub combine: Combine,
}

impl<'a> Layers<'a> {
    /// Just identity policies in the account scope: the commonest case.
    pub fn identity(policies: &'a PolicySet) -> Self {
        Layers {
            control: &[],
            session: None,
            identity: Identity::Policies {
                account: policies,
                resource_group: None,
            },
            resource_policy: None,
            combine: Combine::Either,
        }
    }
}

type Matches = SmallVec<[Match; 4]>;

/// Evaluates one set with the basic algorithm: a matching deny denies, else a matching allow
/// allows, else nothing does.
fn evaluate_set(
    set: &PolicySet,
    layer: Layer,
    request: &Request<'_>,
    resource: &Arn<'_>,
    resource_index: u16,
    matched: &mut Matches,
) -> Outcome {
    let mut actions: SmallVec<[&Action; 2]> = SmallVec::new();
    actions.push(request.action);
    if let Some(alias) = request.alias {
        actions.push(alias);
    }
    let inner = &*set.inner;
    let mut allowed = false;
    let mut denied = false;
    // An action of the set's action table comes with its action test already done; an alias
    // widens the test, so it takes the ordinary path.
    let prematched = match request.alias {
        None => set.prematched(request.action),
        Some(_) => None,
    };
    let (list, action_tested) = match prematched {
        Some(list) => (list, true),
        None => (set.candidates(request.action.service()), false),
    };
    for &si in list {
        let Some(st) = inner.statements.get(si as usize) else {
            continue;
        };
        let hit = if action_tested {
            st.matches_rest(resource, request.context, request.caller)
        } else {
            st.matches(&actions, resource, request.context, request.caller)
        };
        if !hit {
            continue;
        }
        match st.effect {
            Effect::Allow => allowed = true,
            Effect::Deny => denied = true,
        }
        if let Some(policy) = inner.policies.get(st.policy as usize) {
            matched.push(Match {
                layer,
                policy: Arc::clone(policy),
                statement: st.index,
                sid: st.sid.clone(),
                effect: st.effect,
                resource: resource_index,
            });
        }
    }
    if denied {
        Outcome::ExplicitDeny
    } else if allowed {
        Outcome::Allow
    } else {
        Outcome::ImplicitDeny
    }
}

/// Decides one resource through every layer.
fn authorize_one(
    request: &Request<'_>,
    layers: &Layers<'_>,
    resource: &Arn<'_>,
    ri: u16,
    matched: &mut Matches,
) -> (Outcome, Option<Layer>) {
    for (level, set) in layers.control.iter().enumerate() {
        let layer = Layer::ControlPolicy {
            level: u8::try_from(level).unwrap_or(u8::MAX),
        };
        let o = evaluate_set(set, layer, request, resource, ri, matched);
        if o != Outcome::Allow {
            return (o, Some(layer));
        }
    }
    if let Some(session) = layers.session {
        let o = evaluate_set(
            session,
            Layer::SessionPolicy,
            request,
            resource,
            ri,
            matched,
        );
        if o != Outcome::Allow {
            return (o, Some(Layer::SessionPolicy));
        }
    }
    let (a, a_layer) = match layers.identity {
        Identity::AccountOwner => (Outcome::Allow, Layer::AccountOwner),
        Identity::Absent => (Outcome::ImplicitDeny, Layer::AccountIdentity),
        Identity::Policies {
            account,
            resource_group,
        } => {
            let o = evaluate_set(
                account,
                Layer::AccountIdentity,
                request,
                resource,
                ri,
                matched,
            );
            match (o, resource_group) {
                (Outcome::ImplicitDeny, Some(rg)) => (
                    evaluate_set(
                        rg,
                        Layer::ResourceGroupIdentity,
                        request,
                        resource,
                        ri,
                        matched,
                    ),
                    Layer::ResourceGroupIdentity,
                ),
                _ => (o, Layer::AccountIdentity),
            }
        }
    };
    let b = layers
        .resource_policy
        .map(|set| evaluate_set(set, Layer::ResourcePolicy, request, resource, ri, matched));
    let b_layer = Layer::ResourcePolicy;
    if a == Outcome::ExplicitDeny {
        return (a, Some(a_layer));
    }
    if b == Some(Outcome::ExplicitDeny) {
        return (Outcome::ExplicitDeny, Some(b_layer));
    }
    match layers.combine {
        Combine::Either => {
            if a == Outcome::Allow {
                (a, Some(a_layer))
            } else if b == Some(Outcome::Allow) {
                (Outcome::Allow, Some(b_layer))
            } else if matches!(layers.identity, Identity::Absent) && b.is_some() {
                (Outcome::ImplicitDeny, Some(b_layer))
            } else {
                (Outcome::ImplicitDeny, Some(a_layer))
            }
        }
        Combine::Both => {
            if a != Outcome::Allow {
                (a, Some(a_layer))
            } else if b == Some(Outcome::Allow) {
                (Outcome::Allow, Some(b_layer))
            } else {
                (Outcome::ImplicitDeny, Some(b_layer))
            }
        }
    }
}

/// Decides a request against its layers. Every resource must be allowed; the decision reports
/// the first denied one (an explicit deny anywhere wins over an implicit one).
pub fn authorize(request: &Request<'_>, layers: &Layers<'_>) -> Decision {
    let mut matched = Matches::new();
    let mut outcome = Outcome::Allow;
    let mut decided_by = None;
    let mut denied_resource = None;
    for (i, text) in request.resources.iter().enumerate() {
        let ri = u16::try_from(i).unwrap_or(u16::MAX);
        let arn = Arn::new(text);
        let (o, layer) = authorize_one(request, layers, &arn, ri, &mut matched);
        let worse = match (outcome, o) {
            (_, Outcome::Allow) => false,
            (Outcome::Allow, _) => true,
            (Outcome::ImplicitDeny, Outcome::ExplicitDeny) => true,
            _ => false,
        };
        if worse {
            outcome = o;
            decided_by = layer;
            denied_resource = Some(ri);
        } else if outcome == Outcome::Allow && decided_by.is_none() {
            decided_by = layer;
        }
    }
    if request.resources.is_empty() {
        // A request that names nothing is not authorized to do anything.
        outcome = Outcome::ImplicitDeny;
    }
    Decision {
        outcome,
        decided_by,
        denied_resource,
        matched,
    }
}

/// Which `AssumeRole*` call is being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssumeFlow {
    AssumeRole,
    Saml,
    Oidc,
}

static ASSUME_ROLE: LazyLock<Action> = LazyLock::new(|| Action::new("sts:AssumeRole"));
static ASSUME_ROLE_SAML: LazyLock<Action> = LazyLock::new(|| Action::new("sts:AssumeRoleWithSAML"));
static ASSUME_ROLE_OIDC: LazyLock<Action> = LazyLock::new(|| Action::new("sts:AssumeRoleWithOIDC"));

/// The action every trust policy speaks of.
pub fn assume_role_action() -> &'static Action {
    &ASSUME_ROLE
}

/// Decides a role assumption.
///
/// For [`AssumeFlow::AssumeRole`] the caller's own layers (control, session, identity) must
/// allow `sts:AssumeRole` on the role ARN *and* the trust policy must allow the caller, with
/// two exceptions decided from the caller's kind:
/// - a cloud service ([`CallerKind::Service`]) holds no identity policies, so the trust policy
///   alone decides;
/// - an account's root identity has the owner's implicit access in place of identity policies
///   (the caller's control and session layers still apply). RAM refuses `AssumeRole` by a root
///   identity outright; that is an API rule, enforced by the STS handler, not a policy outcome.
///
/// For SAML and OIDC there is no caller identity: the trust policy alone decides, with the
/// federation claims (`saml:*`, `oidc:*`) in `context`.
pub fn authorize_assume_role(
    flow: AssumeFlow,
    caller: &Caller,
    caller_layers: Option<&Layers<'_>>,
    trust: &PolicySet,
    role_arn: &str,
    context: &Context,
) -> Decision {
    let alias = match flow {
        AssumeFlow::AssumeRole => None,
        AssumeFlow::Saml => Some(&*ASSUME_ROLE_SAML),
        AssumeFlow::Oidc => Some(&*ASSUME_ROLE_OIDC),
    };
    let resources = [role_arn];
    let request = Request {
        action: &ASSUME_ROLE,
        alias,
        resources: &resources,
        context,
        caller: Some(caller),
    };
    let trust_alone = Layers {
        control: &[],
        session: None,
        identity: Identity::Absent,
        resource_policy: Some(trust),
        combine: Combine::Either,
    };
    let layers = match (flow, caller_layers) {
        (AssumeFlow::AssumeRole, _) if matches!(caller.kind(), CallerKind::Service { .. }) => {
            trust_alone
        }
        (AssumeFlow::AssumeRole, Some(l)) => Layers {
            identity: if *caller.kind() == CallerKind::Account {
                Identity::AccountOwner
            } else {
                l.identity
            },
            resource_policy: Some(trust),
            combine: Combine::Both,
            ..*l
        },
        // Without the caller's layers, AssumeRole cannot be allowed: both sides must agree.
        (AssumeFlow::AssumeRole, None) => Layers {
            control: &[],
            session: None,
            identity: Identity::Absent,
            resource_policy: Some(trust),
            combine: Combine::Both,
        },
        (AssumeFlow::Saml | AssumeFlow::Oidc, _) => trust_alone,
    };
    authorize(&request, &layers)
}
