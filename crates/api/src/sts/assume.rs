//! `AssumeRole`, and what every `AssumeRole*` action shares: the role ARN, the session
//! parameters, the trust decision and the credentials.

use rampart_model::{
    generate_access_key_secret, generate_sts_access_key_id, AccountId, Field, Role, Timestamp,
};
use rampart_policy::{
    assume_role_action, authorize, authorize_assume_role, AssumeFlow, Caller, Combine, Context,
    Effect, Identity, Layers, Policy, PolicyId, PolicyKind, PolicySet, Request, Statement,
};
use rampart_store::StoreError;
use rampart_wire::ApiError;
use serde_json::{json, Map};

use super::token::{Origin, SessionClaims, MAX_SESSION_SECS};
use crate::authz::{denial, request_context, RequestFacts};
use crate::call::{Call, Principal};
use crate::errors::store_error;
use crate::product::{Body, HandlerFuture};

/// A role session started from another session may last at most an hour (RAM's rule for
/// role chaining).
const CHAINED_MAX_SECS: i64 = 3600;
const MIN_DURATION_SECS: i64 = 900;
const DEFAULT_DURATION_SECS: i64 = 3600;
/// `Policy` of the AssumeRole* calls, in characters.
const SESSION_POLICY_MAX_CHARS: usize = 2048;

/// `acs:ram::<account>:role/<name>`, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub account_id: AccountId,
    pub role_name: String,
}

impl RoleArn {
    pub fn arn(&self) -> String {
        format!("acs:ram::{}:role/{}", self.account_id, self.role_name)
    }
}

fn bad_role_arn() -> ApiError {
    ApiError::new(
        "InvalidParameter.RoleArn",
        "The parameter RoleArn is wrongly formed.",
        400,
    )
}

/// Reads a role ARN; the `acs:ram` prefix is case-insensitive, as services are in ARNs.
pub fn parse_role_arn(text: &str) -> Result<RoleArn, ApiError> {
    let (head, name) = text.split_once(":role/").ok_or_else(bad_role_arn)?;
    let mut parts = head.splitn(4, ':');
    let (Some(acs), Some(ram), Some(region), Some(account)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_role_arn());
    };
    if !acs.eq_ignore_ascii_case("acs") || !ram.eq_ignore_ascii_case("ram") || !region.is_empty() {
        return Err(bad_role_arn());
    }
    let account_id = AccountId::parse(account).map_err(|_| bad_role_arn())?;
    Field::RoleName
        .check_as("RoleArn", name)
        .map_err(|_| bad_role_arn())?;
    Ok(RoleArn {
        account_id,
        role_name: name.to_owned(),
    })
}

/// The resource `sts:AssumeRole` is checked on. A root identity is refused here, before any
/// policy: RAM never lets an account's root assume a role.
pub fn role_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    if matches!(call.principal, Principal::Root { .. }) {
        return Err(ApiError::new(
            "NoPermission",
            "Roles may not be assumed by root accounts.",
            403,
        ));
    }
    Ok(vec![parse_role_arn(call.required("RoleArn")?)?.arn()])
}

/// `RoleSessionName`: 2–64 of `[A-Za-z0-9.@_-]` (RAM's current rule; older docs said 32).
pub fn check_session_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed: 2 to 64 characters of letters, digits and . @ _ -.",
            400,
        ))
    }
}

/// `DurationSeconds`, from 900 to `max`, default 3600 (or `max` when smaller).
pub fn duration(call: &Call, max: i64) -> Result<i64, ApiError> {
    let Some(text) = call.param("DurationSeconds").filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_DURATION_SECS.min(max));
    };
    match text.trim().parse::<i64>() {
        Ok(v) if (MIN_DURATION_SECS..=max).contains(&v) => Ok(v),
        _ => Err(ApiError::new(
            "InvalidParameter.DurationSeconds",
            format!(
                "The parameter DurationSeconds is out of range: it must be an integer from {MIN_DURATION_SECS} to {max} for this role and caller."
            ),
            400,
        )),
    }
}

/// The optional session `Policy`: at most 2,048 characters, the policy grammar.
pub fn session_policy(call: &Call) -> Result<Option<String>, ApiError> {
    let Some(text) = call.param("Policy").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > SESSION_POLICY_MAX_CHARS {
        return Err(ApiError::new(
            "InvalidParameter.PolicySize",
            format!(
                "The parameter Policy is too long: at most {SESSION_POLICY_MAX_CHARS} characters."
            ),
            400,
        ));
    }
    Policy::parse(text, PolicyKind::Session).map_err(|e| {
        ApiError::new(
            "InvalidParameter.PolicyGrammar",
            format!("The parameter Policy has not passed grammar check: {e}"),
            400,
        )
    })?;
    Ok(Some(text.to_owned()))
}

/// Loads the role an ARN names, in whichever account it lives.
pub async fn load_role(call: &Call, arn: &RoleArn, code: &'static str) -> Result<Role, ApiError> {
    match call.store.get_role(&arn.account_id, &arn.role_name).await {
        Ok(role) => Ok(role),
        Err(StoreError::NotFound(_)) => Err(ApiError::new(
            code,
            format!("The specified Role not exists: {}.", arn.arn()),
            404,
        )),
        Err(e) => Err(store_error(e)),
    }
}

/// The request facts as trust-policy condition keys.
pub fn trust_context(call: &Call) -> Context {
    request_context(&RequestFacts {
        source_ip: call.source_ip,
        secure: call.secure,
        now: call.now,
        mfa: call.mfa,
    })
}

/// A refusal by a trust policy: the engine's decision, and for each `Allow` statement why it did
/// not apply (its principal, or which condition with which value seen), so the role's owner
/// can fix the policy or the caller its request.
pub struct TrustRefusal {
    pub decision: rampart_policy::Decision,
    pub reasons: Vec<String>,
}

impl TrustRefusal {
    pub fn reasons_text(&self) -> String {
        if self.reasons.is_empty() {
            "no statement allows it".to_owned()
        } else {
            self.reasons.join("; ")
        }
    }
}

fn decide(
    flow: AssumeFlow,
    caller: &Caller,
    set: &PolicySet,
    arn: &str,
    context: &Context,
) -> rampart_policy::Decision {
    match flow {
        // The caller's own policies were checked by the dispatcher; here only the trust side.
        AssumeFlow::AssumeRole => {
            let resources = [arn];
            let request = Request {
                action: assume_role_action(),
                alias: None,
                resources: &resources,
                context,
                caller: Some(caller),
            };
            authorize(
                &request,
                &Layers {
                    control: &[],
                    session: None,
                    identity: Identity::Absent,
                    resource_policy: Some(set),
                    combine: Combine::Either,
                },
            )
        }
        AssumeFlow::Saml | AssumeFlow::Oidc => {
            authorize_assume_role(flow, caller, None, set, arn, context)
        }
    }
}

/// Re-decides each `Allow` statement alone, first without its conditions and then with one
/// condition at a time, to name what kept it from applying. Runs only on refusals.
fn trust_reasons(
    policy: &Policy,
    flow: AssumeFlow,
    caller: &Caller,
    arn: &str,
    context: &Context,
) -> Vec<String> {
    let allows = |statement: Statement| {
        let one = Policy {
            kind: policy.kind,
            statements: vec![statement],
        };
        let set = PolicySet::new(std::iter::once((PolicyId::new("trust", "", ""), &one)));
        decide(flow, caller, &set, arn, context).is_allow()
    };
    let mut reasons = Vec::new();
    for statement in policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        let n = statement.index;
        let mut bare = statement.clone();
        bare.conditions.clear();
        if !allows(bare) {
            reasons.push(format!(
                "statement {n}: its Principal or Action does not cover {} calling {}",
                caller.arn(),
                assume_role_action().as_str()
            ));
            continue;
        }
        for condition in &statement.conditions {
            let mut one = statement.clone();
            one.conditions = vec![condition.clone()];
            if !allows(one) {
                let seen: Vec<&str> = context
                    .get(&condition.key)
                    .map(|vs| vs.iter().map(|v| v.text()).collect())
                    .unwrap_or_default();
                reasons.push(format!(
                    "statement {n}: condition {} {} {:?} is not met ({})",
                    condition.operator.name(),
                    condition.key,
                    condition.values,
                    if seen.is_empty() {
                        "the key is absent".to_owned()
                    } else {
                        format!("{} is {:?}", condition.key, seen)
                    }
                ));
            }
        }
    }
    reasons
}

/// Whether `role`'s trust policy lets `caller` assume it. A refusal is `NoPermission` with
/// `PolicyType: AssumeRolePolicy` and the engine's explanation in the sealed diagnostic, so
/// the role's owner can see which statement or condition did not match.
pub fn check_trust(
    role: &Role,
    flow: AssumeFlow,
    caller: &Caller,
    context: &Context,
) -> Result<(), Box<TrustRefusal>> {
    let arn = role.arn();
    let trust = Policy::parse(&role.assume_role_policy_document, PolicyKind::Trust);
    // A stored trust policy that no longer parses (a stricter rule since) trusts nobody.
    let set = match &trust {
        Ok(policy) => PolicySet::new(std::iter::once((
            PolicyId::new(&role.role_name, "AssumeRolePolicy", ""),
            policy,
        ))),
        Err(_) => PolicySet::new(std::iter::empty::<(PolicyId, &Policy)>()),
    };
    let decision = decide(flow, caller, &set, &arn, context);
    if decision.is_allow() {
        return Ok(());
    }
    let reasons = match &trust {
        Ok(policy) => trust_reasons(policy, flow, caller, &arn, context),
        Err(_) => vec!["the role's trust policy no longer parses".to_owned()],
    };
    Err(Box::new(TrustRefusal { decision, reasons }))
}

/// A session about to be issued.
pub struct Grant {
    pub role: Role,
    pub session_name: String,
    pub policy: Option<String>,
    pub duration_secs: i64,
    pub source_identity: Option<String>,
    pub mfa: bool,
    pub origin: Origin,
    pub caller: String,
}

/// Mints the credentials and the response members every `AssumeRole*` action shares.
pub fn issue(call: &Call, grant: Grant) -> Result<Body, ApiError> {
    let now = call.now.unix_secs();
    let expires_at = now.saturating_add(grant.duration_secs.min(MAX_SESSION_SECS));
    let access_key_id = generate_sts_access_key_id().map_err(|_| ApiError::internal_error())?;
    let secret = generate_access_key_secret().map_err(|_| ApiError::internal_error())?;
    let claims = SessionClaims {
        access_key_id: access_key_id.clone(),
        secret: secret.expose().to_owned(),
        account_id: grant.role.account_id.to_string(),
        role_id: grant.role.role_id.to_string(),
        role_name: grant.role.role_name.clone(),
        session_name: grant.session_name.clone(),
        policy: grant.policy,
        source_identity: grant.source_identity.clone(),
        mfa: grant.mfa,
        origin: grant.origin,
        caller: grant.caller,
        issued_at: now,
        expires_at,
    };
    let token = call
        .state
        .tokens
        .seal(&claims, call.now)
        .map_err(|_| ApiError::internal_error())?;
    let expiration =
        Timestamp::from_unix_secs(expires_at).map_err(|_| ApiError::internal_error())?;
    let mut body = Map::new();
    body.insert(
        "AssumedRoleUser".into(),
        json!({
            "Arn": format!(
                "acs:ram::{}:role/{}/{}",
                grant.role.account_id, grant.role.role_name, grant.session_name
            ),
            "AssumedRoleId": format!("{}:{}", grant.role.role_id, grant.session_name),
        }),
    );
    body.insert(
        "Credentials".into(),
        json!({
            "AccessKeyId": access_key_id,
            "AccessKeySecret": secret.expose(),
            "SecurityToken": token,
            "Expiration": expiration.to_string(),
        }),
    );
    if let Some(source) = grant.source_identity {
        body.insert("SourceIdentity".into(), json!(source));
    }
    call.state.metrics.sts_issued(call.action.name);
    Ok(body)
}

fn check_external_id(id: &str) -> Result<(), ApiError> {
    let ok = (2..=1224).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b':' | b'/' | b'-'
                )
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidParameter.ExternalId",
            "The parameter ExternalId is wrongly formed: 2 to 1224 characters of letters, digits and _+=,.@:/-.",
            400,
        ))
    }
}

fn check_source_identity(id: &str) -> Result<(), ApiError> {
    let ok = (2..=64).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidParameter.SourceIdentity",
            "The parameter SourceIdentity is wrongly formed: 2 to 64 characters of letters, digits and _+=,.@-.",
            400,
        ))
    }
}

pub fn assume_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let arn = parse_role_arn(call.required("RoleArn")?)?;
        let session_name = call.required("RoleSessionName")?;
        check_session_name(session_name)?;
        let external_id = call.param("ExternalId").filter(|v| !v.is_empty());
        if let Some(id) = external_id {
            check_external_id(id)?;
        }
        let policy = session_policy(call)?;
        let (caller, origin, inherited_source, mfa) = match &call.principal {
            Principal::User {
                account_id,
                user_name,
                ..
            } => (
                Caller::user(account_id.as_str(), user_name),
                Origin::User,
                None,
                call.mfa,
            ),
            Principal::AssumedRole {
                account_id,
                session,
            } => (
                Caller::assumed_role(
                    account_id.as_str(),
                    &session.role_name,
                    &session.session_name,
                ),
                Origin::Role,
                session.source_identity.clone(),
                session.mfa || call.mfa,
            ),
            // `role_resource` refused root; anonymous callers never get here.
            Principal::Root { .. } | Principal::Anonymous | Principal::Federated { .. } => {
                return Err(ApiError::no_permission())
            }
        };
        let source_identity = match call.param("SourceIdentity").filter(|v| !v.is_empty()) {
            None => inherited_source,
            Some(requested) => {
                check_source_identity(requested)?;
                // Once set, a source identity follows the chain unchanged: it records who
                // started it, which a later hop must not rewrite.
                if inherited_source.as_deref().is_some_and(|s| s != requested) {
                    return Err(ApiError::new(
                        "InvalidParameter.SourceIdentity",
                        "The parameter SourceIdentity cannot differ from the calling session's source identity.",
                        400,
                    ));
                }
                Some(requested.to_owned())
            }
        };
        let role = load_role(call, &arn, "EntityNotExist.Role").await?;
        let max = match origin {
            Origin::Role => CHAINED_MAX_SECS,
            _ => i64::from(role.max_session_duration),
        };
        let duration_secs = duration(call, max)?;
        let mut context = trust_context(call);
        context.insert("acs:MFAPresent", if mfa { "true" } else { "false" });
        if let Some(id) = external_id {
            context.insert("sts:ExternalId", id);
        }
        if let Err(refusal) = check_trust(&role, AssumeFlow::AssumeRole, &caller, &context) {
            return Err(denial(
                &call.state.master_key,
                &call.principal,
                "sts:AssumeRole",
                &role.arn(),
                &refusal.decision,
                Some("AssumeRolePolicy"),
                Some(&format!(
                    "trust policy of {}: {}",
                    role.arn(),
                    refusal.reasons_text()
                )),
            ));
        }
        issue(
            call,
            Grant {
                role,
                session_name: session_name.to_owned(),
                policy,
                duration_secs,
                source_identity,
                mfa,
                origin,
                caller: caller.arn().to_owned(),
            },
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        let a = parse_role_arn("acs:ram::1234567890123456:role/ops").unwrap();
        assert_eq!(a.account_id.as_str(), "1234567890123456");
        assert_eq!(a.role_name, "ops");
        assert_eq!(
            parse_role_arn("ACS:RAM::1234567890123456:role/ops").unwrap(),
            a
        );
        for bad in [
            "",
            "acs:ram::1234567890123456:user/ops",
            "acs:ram:cn-hangzhou:1234567890123456:role/ops",
            "acs:ecs::1234567890123456:role/ops",
            "acs:ram::12ab:role/ops",
            "acs:ram::1234567890123456:role/",
            "acs:ram::1234567890123456:role/a b",
        ] {
            assert_eq!(
                parse_role_arn(bad).unwrap_err().code(),
                "InvalidParameter.RoleArn",
                "{bad}"
            );
        }
    }

    #[test]
    fn session_names_and_external_ids() {
        assert!(check_session_name("alice@corp.example_1-2").is_ok());
        assert!(check_session_name("a").is_err());
        assert!(check_session_name(&"a".repeat(65)).is_err());
        assert!(check_session_name("a b").is_err());
        assert!(check_external_id("abc:/=+,.@-_").is_ok());
        assert!(check_external_id("x").is_err());
        assert!(check_external_id("a b").is_err());
        assert!(check_source_identity("alice@corp").is_ok());
        assert!(check_source_identity("a/b").is_err());
    }
}
