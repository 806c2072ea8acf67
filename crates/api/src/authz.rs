//! Authorization: the caller's compiled policies, cached per principal and revalidated on
//! every request against the account's authorization epoch, then the policy engine.
//!
//! INVARIANT: a cached set is used only if the epoch stored with it equals the account's
//! epoch read from the database for this request. Every change that can alter a principal's
//! permissions bumps that epoch in the change's own transaction, so no node can serve an
//! allow that a committed change has withdrawn.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use base64::Engine as _;
use rampart_model::{AccountId, MasterKey, Timestamp};
use rampart_policy::{
    authorize, Action, ActionTable, Caller, Context, Decision, Effect, Layers, Outcome, Policy,
    PolicyId, PolicyKind, PolicySet, Request,
};
use rampart_store::{PrincipalKey, Store};
use rampart_wire::{AccessDeniedDetail, ApiError};
use serde::{Deserialize, Serialize};

use crate::call::Principal;
use crate::errors::store_error;
use crate::metrics::{Cache, Metrics};
use crate::product::products;

/// The request facts that conditions may test.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts {
    pub source_ip: Option<IpAddr>,
    pub secure: bool,
    pub now: Timestamp,
    /// Whether the caller proved MFA for this request: a console session that passed it.
    /// Role sessions carry their own flag.
    pub mfa: bool,
}

#[derive(Clone)]
struct Cached {
    epoch: i64,
    set: PolicySet,
}

/// Compiles, caches and evaluates principals' policies.
pub struct Authorizer {
    table: ActionTable,
    cache: RwLock<HashMap<(AccountId, String), Cached>>,
    capacity: usize,
}

impl Authorizer {
    pub fn new(capacity: usize) -> Self {
        let permissions = products()
            .iter()
            .flat_map(|p| p.actions.iter())
            .filter_map(|a| a.permission());
        Self {
            table: ActionTable::new(permissions),
            cache: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The engine's action for a permission; tabled actions skip the action test.
    fn action(&self, permission: &str) -> Action {
        self.table
            .get(permission)
            .cloned()
            .unwrap_or_else(|| Action::new(permission))
    }

    /// Decides whether `principal` may perform `permission` on every one of `resources`.
    pub async fn check(
        &self,
        deps: (&dyn Store, &MasterKey, &Metrics),
        principal: &Principal,
        epoch: i64,
        permission: &str,
        resources: &[String],
        facts: RequestFacts,
    ) -> Result<(), ApiError> {
        let (store, master_key, metrics) = deps;
        let action = self.action(permission);
        let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
        let mut context = request_context(&facts);
        let (set, session, caller) = match principal {
            // The account owner may do everything in its own account; handlers only ever
            // reach the caller's own account, so nothing else needs checking.
            Principal::Root { .. } => return Ok(()),
            Principal::Anonymous | Principal::Federated { .. } => {
                return Err(ApiError::no_permission())
            }
            Principal::User {
                account_id,
                user_id,
                user_name,
            } => {
                context.insert("acs:MFAPresent", if facts.mfa { "true" } else { "false" });
                let set = self
                    .principal_policies(
                        store,
                        metrics,
                        account_id,
                        PrincipalKey::User(user_id.as_str().to_owned()),
                        epoch,
                    )
                    .await?;
                (set, None, Caller::user(account_id.as_str(), user_name))
            }
            Principal::AssumedRole {
                account_id,
                session,
            } => {
                let mfa = session.mfa || facts.mfa;
                context.insert("acs:MFAPresent", if mfa { "true" } else { "false" });
                // Looked up live on every request (through the epoch): detaching a policy
                // from the role takes effect on its sessions at once.
                let set = self
                    .principal_policies(
                        store,
                        metrics,
                        account_id,
                        PrincipalKey::Role(session.role_id.clone()),
                        epoch,
                    )
                    .await?;
                let session_set = match &session.policy {
                    Some(text) => Some(self.session_policy(text)?),
                    None => None,
                };
                let caller = Caller::assumed_role(
                    account_id.as_str(),
                    &session.role_name,
                    &session.session_name,
                );
                (set, session_set, caller)
            }
        };
        let request = Request::new(&action, &refs, &context).with_caller(&caller);
        let mut layers = Layers::identity(&set);
        layers.session = session.as_ref();
        let decision = authorize(&request, &layers);
        if decision.is_allow() {
            return Ok(());
        }
        let resource = decision
            .denied_resource
            .and_then(|i| refs.get(usize::from(i)))
            .or_else(|| refs.first())
            .copied()
            .unwrap_or("*");
        Err(denial(
            master_key, principal, permission, resource, &decision, None, None,
        ))
    }

    /// A session policy, compiled with the server's actions. Sealed into the token at issue,
    /// after validation, so a failure here means a rule changed since: it grants nothing.
    pub fn session_policy(&self, text: &str) -> Result<PolicySet, ApiError> {
        let policy = Policy::parse(text, PolicyKind::Session)
            .map_err(|_| ApiError::security_token_malformed())?;
        let id = PolicyId::new("SessionPolicy", "Session", "");
        Ok(PolicySet::with_actions(
            std::iter::once((id, &policy)),
            &self.table,
        ))
    }

    async fn principal_policies(
        &self,
        store: &dyn Store,
        metrics: &Metrics,
        account_id: &AccountId,
        principal: PrincipalKey,
        // Read with the caller's key in this request; see the module's invariant.
        epoch: i64,
    ) -> Result<PolicySet, ApiError> {
        let key = match &principal {
            PrincipalKey::User(id) => (account_id.clone(), format!("user:{id}")),
            PrincipalKey::Role(id) => (account_id.clone(), format!("role:{id}")),
        };
        if let Ok(cache) = self.cache.read() {
            if let Some(hit) = cache.get(&key) {
                if hit.epoch == epoch {
                    metrics.cache(Cache::PolicySet, true);
                    return Ok(hit.set.clone());
                }
            }
        }
        metrics.cache(Cache::PolicySet, false);
        let attached = store
            .effective_policies(account_id, &principal)
            .await
            .map_err(store_error)?;
        let mut parsed = Vec::with_capacity(attached.len());
        for p in &attached {
            // Resource-group-scoped attachments govern resources in that group; RAM's own
            // entities belong to no resource group, so only account-scoped ones count here.
            if p.resource_group_id.is_some() {
                continue;
            }
            // Stored documents were validated when written; one that no longer parses
            // (a newer rule) grants nothing rather than failing every request.
            if let Ok(policy) = Policy::parse(&p.document, PolicyKind::Identity) {
                parsed.push((
                    PolicyId::new(&p.policy_name, p.policy_type.as_str(), &p.version_id),
                    policy,
                ));
            }
        }
        let set =
            PolicySet::with_actions(parsed.iter().map(|(id, p)| (id.clone(), p)), &self.table);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= self.capacity {
                cache.clear();
            }
            // A concurrent request may have cached a newer epoch meanwhile; keep the newer.
            let newer = cache.get(&key).is_some_and(|c| c.epoch > epoch);
            if !newer {
                cache.insert(
                    key,
                    Cached {
                        epoch,
                        set: set.clone(),
                    },
                );
            }
        }
        Ok(set)
    }
}

/// What `EncodedDiagnosticMessage` carries, sealed so only this installation can read it and
/// only the same account may decode it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Diagnostic {
    pub account_id: String,
    pub auth_action: String,
    pub auth_resource: String,
    pub principal_type: String,
    pub principal_display_name: String,
    pub explicit_deny: bool,
    pub no_permission_policy_type: String,
    pub matched_policies: Vec<MatchedPolicy>,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MatchedPolicy {
    pub policy_identifier: String,
    pub policy_type: String,
    pub policy_version: String,
    pub effect: String,
}

const DIAGNOSTIC_AAD: &[u8] = b"rampart:diagnostic-message";

/// The request facts every policy may test, as condition keys.
pub fn request_context(facts: &RequestFacts) -> Context {
    let mut context = Context::new();
    context.insert("acs:CurrentTime", &facts.now.to_string());
    context.insert(
        "acs:SecureTransport",
        if facts.secure { "true" } else { "false" },
    );
    if let Some(ip) = facts.source_ip {
        context.insert("acs:SourceIp", &ip.to_string());
    }
    context
}

/// `NoPermission` with its `AccessDeniedDetail` and sealed diagnostic. `policy_type`
/// overrides the deciding layer's name (`AssumeRolePolicy` for a trust refusal).
pub fn denial(
    master_key: &MasterKey,
    principal: &Principal,
    permission: &str,
    resource: &str,
    decision: &Decision,
    policy_type: Option<&str>,
    // More of the story than the engine's decision tells (why a trust policy's statements
    // did not apply), appended to the sealed explanation.
    detail: Option<&str>,
) -> ApiError {
    let explicit = decision.outcome == Outcome::ExplicitDeny;
    let policy_type = policy_type
        .or(decision.decided_by.map(|l| l.policy_type()))
        .unwrap_or("AccountLevelIdentityBasedPolicy");
    let diagnostic = Diagnostic {
        account_id: principal
            .account_id()
            .map(ToString::to_string)
            .unwrap_or_default(),
        auth_action: permission.to_owned(),
        auth_resource: resource.to_owned(),
        principal_type: principal.type_name().to_owned(),
        principal_display_name: principal.display_name(),
        explicit_deny: explicit,
        no_permission_policy_type: policy_type.to_owned(),
        matched_policies: decision
            .matched
            .iter()
            .filter(|m| m.effect == Effect::Deny || !explicit)
            .map(|m| MatchedPolicy {
                policy_identifier: m.policy.name.to_string(),
                policy_type: m.policy.policy_type.to_string(),
                policy_version: m.policy.version.to_string(),
                effect: m.effect.as_str().to_owned(),
            })
            .collect(),
        explanation: match detail {
            Some(more) => format!(
                "{}; {more}",
                decision.explain_parts(permission, &[resource])
            ),
            None => decision.explain_parts(permission, &[resource]),
        },
    };
    let encoded = encode_diagnostic(master_key, &diagnostic);
    ApiError::no_permission().with_access_denied_detail(AccessDeniedDetail {
        policy_type: Some(policy_type.to_owned()),
        auth_principal_owner_id: principal.account_id().map(ToString::to_string),
        auth_principal_type: Some(principal.type_name().to_owned()),
        auth_principal_display_name: Some(principal.display_name()),
        no_permission_type: Some(
            if explicit {
                "ExplicitDeny"
            } else {
                "ImplicitDeny"
            }
            .to_owned(),
        ),
        auth_action: Some(permission.to_owned()),
        encoded_diagnostic_message: encoded,
    })
}

fn encode_diagnostic(master_key: &MasterKey, diagnostic: &Diagnostic) -> Option<String> {
    let json = serde_json::to_vec(diagnostic).ok()?;
    let sealed = master_key.seal(&json, DIAGNOSTIC_AAD).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
}

/// Opens an `EncodedDiagnosticMessage`; `None` if it is not one of ours or was altered.
pub fn decode_diagnostic(master_key: &MasterKey, encoded: &str) -> Option<Diagnostic> {
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim())
        .ok()?;
    let json = master_key.open(&sealed, DIAGNOSTIC_AAD).ok()?;
    serde_json::from_slice(&json).ok()
}
