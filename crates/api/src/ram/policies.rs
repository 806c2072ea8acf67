//! Policies, their versions and attachments: CreatePolicy, GetPolicy, ListPolicies,
//! UpdatePolicyDescription, DeletePolicy, CreatePolicyVersion, GetPolicyVersion,
//! ListPolicyVersions, DeletePolicyVersion, SetDefaultPolicyVersion, AttachPolicyTo*,
//! DetachPolicyFrom*, ListPoliciesFor*, ListEntitiesForPolicy.

use rampart_model::{Field, Policy, PolicyType, PolicyVersion};
use rampart_policy::PolicyKind;
use rampart_store::{AttachedPolicy, NewPolicy, PolicyRef, PrincipalRef};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::common::{body, date, page, paginate};
use super::documents::check_document;
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

/// `PolicyType`, required and spelled exactly.
pub fn policy_type(call: &Call) -> Result<PolicyType, ApiError> {
    call.required("PolicyType")?.parse().map_err(|_| {
        ApiError::new(
            "InvalidParameter.PolicyType",
            "The parameter - \"PolicyType\" must be System or Custom.",
            400,
        )
    })
}

fn policy_ref(call: &Call) -> Result<PolicyRef<'_>, ApiError> {
    Ok(PolicyRef {
        policy_type: policy_type(call)?,
        policy_name: call.name(Field::PolicyName)?,
    })
}

/// `vN`, as RAM writes version ids.
fn version_id(call: &Call) -> Result<&str, ApiError> {
    let v = call.required("VersionId")?;
    let ok = v
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(v)
    } else {
        Err(ApiError::new(
            "InvalidParameter.VersionId.Format",
            "The format of the parameter - \"VersionId\" is incorrect.",
            400,
        ))
    }
}

/// The ARN a policy has as a resource: system policies live in the `system` namespace.
pub fn policy_arn(call: &Call, policy_type: PolicyType, name: &str) -> Result<String, ApiError> {
    match policy_type {
        PolicyType::System => Ok(format!("acs:ram::system:policy/{name}")),
        PolicyType::Custom => call.arn("policy", name),
    }
}

fn policy_json(p: &Policy) -> Value {
    json!({
        "PolicyName": p.policy_name,
        "PolicyType": p.policy_type.as_str(),
        "Description": p.description,
        "DefaultVersion": p.default_version,
        "AttachmentCount": p.attachment_count,
        "CreateDate": date(p.create_date),
        "UpdateDate": date(p.update_date),
    })
}

fn version_json(v: &PolicyVersion) -> Value {
    json!({
        "VersionId": v.version_id,
        "IsDefaultVersion": v.is_default,
        "PolicyDocument": v.document,
        "CreateDate": date(v.create_date),
    })
}

pub fn create_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::PolicyName)?;
        let document = call.required("PolicyDocument")?;
        check_document(PolicyKind::Identity, "PolicyDocument", document)?;
        let tags = super::tags::tags(call)?.unwrap_or_default();
        let new = NewPolicy {
            policy_name: name.to_owned(),
            description: call
                .optional_name(Field::Description, "Description")?
                .unwrap_or("")
                .to_owned(),
            document: document.to_owned(),
            tags,
        };
        let (p, _) = call
            .store
            .create_policy(call.account()?, new, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "Policy": {
            "PolicyName": p.policy_name,
            "PolicyType": p.policy_type.as_str(),
            "Description": p.description,
            "DefaultVersion": p.default_version,
            "CreateDate": date(p.create_date),
        }})))
    })
}

pub fn get_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let (p, v) = call
            .store
            .get_policy(call.account()?, policy_ref(call)?)
            .await
            .map_err(store_error)?;
        let mut pj = policy_json(&p);
        if let Value::Object(m) = &mut pj {
            m.insert("PolicyDocument".into(), Value::String(v.document.clone()));
        }
        Ok(body(
            json!({ "Policy": pj, "DefaultPolicyVersion": version_json(&v) }),
        ))
    })
}

pub fn list_policies(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let filter = match call.param("PolicyType") {
            None | Some("") => None,
            Some(_) => Some(policy_type(call)?),
        };
        let page = page(call)?;
        let tag_filter = super::tags::tags(call)?.unwrap_or_default();
        let listing = call
            .store
            .list_policies(call.account()?, filter, &page)
            .await
            .map_err(store_error)?;
        let names: Vec<String> = listing
            .items
            .iter()
            .filter(|p| p.policy_type == PolicyType::Custom)
            .map(|p| p.policy_name.clone())
            .collect();
        let tags = super::tags::tags_of(call, "policy", &names).await?;
        let mut policies: Vec<Value> = Vec::with_capacity(listing.items.len());
        for p in &listing.items {
            let custom = p.policy_type == PolicyType::Custom;
            let own = if custom {
                tags.get(&p.policy_name.to_ascii_lowercase())
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            } else {
                &[]
            };
            // System policies carry no tags, so a tag filter excludes them.
            let keep = tag_filter.is_empty() || (custom && super::tags::matches(own, &tag_filter));
            if !keep {
                continue;
            }
            let mut v = policy_json(p);
            if let (true, Value::Object(m)) = (custom, &mut v) {
                m.insert("Tags".into(), super::tags::tags_value(own));
            }
            policies.push(v);
        }
        let mut out = body(json!({ "Policies": { "Policy": policies } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}

pub fn update_policy_description(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::PolicyName)?;
        let description = call
            .optional_name(Field::Description, "NewDescription")?
            .unwrap_or("");
        let p = call
            .store
            .update_policy_description(call.account()?, name, description, call.now)
            .await
            .map_err(store_error)?;
        let mut v = policy_json(&p);
        if let Value::Object(m) = &mut v {
            m.remove("AttachmentCount");
        }
        Ok(body(json!({ "Policy": v })))
    })
}

pub fn delete_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::PolicyName)?;
        let cascade = call.bool("CascadingDelete")?.unwrap_or(false);
        call.store
            .delete_policy(call.account()?, name, cascade)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn create_policy_version(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::PolicyName)?;
        let document = call.required("PolicyDocument")?;
        check_document(PolicyKind::Identity, "PolicyDocument", document)?;
        let rotate = match call.param("RotateStrategy") {
            None | Some("") | Some("None") => false,
            Some("DeleteOldestNonDefaultVersionWhenLimitExceeded") => true,
            Some(_) => {
                return Err(ApiError::new(
                    "InvalidParameter.RotateStrategy",
                    "The parameter - \"RotateStrategy\" must be None or DeleteOldestNonDefaultVersionWhenLimitExceeded.",
                    400,
                ))
            }
        };
        let set_as_default = call.bool("SetAsDefault")?.unwrap_or(false);
        let v = call
            .store
            .create_policy_version(
                call.account()?,
                name,
                document,
                set_as_default,
                rotate,
                call.now,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "PolicyVersion": version_json(&v) })))
    })
}

pub fn get_policy_version(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let v = call
            .store
            .get_policy_version(call.account()?, policy_ref(call)?, version_id(call)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "PolicyVersion": version_json(&v) })))
    })
}

pub fn list_policy_versions(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let versions = call
            .store
            .list_policy_versions(call.account()?, policy_ref(call)?)
            .await
            .map_err(store_error)?;
        let versions: Vec<Value> = versions.iter().map(version_json).collect();
        Ok(body(
            json!({ "PolicyVersions": { "PolicyVersion": versions } }),
        ))
    })
}

pub fn delete_policy_version(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_policy_version(
                call.account()?,
                call.name(Field::PolicyName)?,
                version_id(call)?,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn set_default_policy_version(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .set_default_policy_version(
                call.account()?,
                call.name(Field::PolicyName)?,
                version_id(call)?,
                call.now,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

// Attachments. The principal is named by `UserName`, `GroupName` or `RoleName`.

#[derive(Clone, Copy)]
pub enum Kind {
    User,
    Group,
    Role,
}

impl Kind {
    fn principal(self, call: &Call) -> Result<PrincipalRef<'_>, ApiError> {
        Ok(match self {
            Kind::User => PrincipalRef::User(call.name(Field::UserName)?),
            Kind::Group => PrincipalRef::Group(call.name(Field::GroupName)?),
            Kind::Role => PrincipalRef::Role(call.name(Field::RoleName)?),
        })
    }

    pub fn arn(self, call: &Call) -> Result<String, ApiError> {
        match self {
            Kind::User => call.arn("user", call.name(Field::UserName)?),
            Kind::Group => call.arn("group", call.name(Field::GroupName)?),
            Kind::Role => call.arn("role", call.name(Field::RoleName)?),
        }
    }
}

fn resource_group(call: &Call) -> Option<&str> {
    call.param("ResourceGroupId").filter(|s| !s.is_empty())
}

/// An attachment acts on both the principal and the policy.
pub fn attachment_resources(call: &Call, kind: Kind) -> Result<Vec<String>, ApiError> {
    let policy = policy_ref(call)?;
    Ok(vec![
        kind.arn(call)?,
        policy_arn(call, policy.policy_type, policy.policy_name)?,
    ])
}

pub fn attach(call: &Call, kind: Kind) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .attach_policy(
                call.account()?,
                kind.principal(call)?,
                policy_ref(call)?,
                resource_group(call),
                call.now,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn detach(call: &Call, kind: Kind) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .detach_policy(
                call.account()?,
                kind.principal(call)?,
                policy_ref(call)?,
                resource_group(call),
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

fn attached_json(a: &AttachedPolicy) -> Value {
    let mut v = json!({
        "PolicyName": a.policy.policy_name,
        "PolicyType": a.policy.policy_type.as_str(),
        "Description": a.policy.description,
        "DefaultVersion": a.policy.default_version,
        "AttachDate": date(a.attach_date),
    });
    if let (Some(rg), Value::Object(m)) = (&a.resource_group_id, &mut v) {
        m.insert("ResourceGroupId".into(), Value::String(rg.clone()));
    }
    v
}

pub fn list_policies_for(call: &Call, kind: Kind) -> HandlerFuture<'_> {
    Box::pin(async move {
        let attached = call
            .store
            .list_policies_for(call.account()?, kind.principal(call)?)
            .await
            .map_err(store_error)?;
        let policies: Vec<Value> = attached.iter().map(attached_json).collect();
        Ok(body(json!({ "Policies": { "Policy": policies } })))
    })
}

pub fn list_entities_for_policy(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let e = call
            .store
            .list_entities_for_policy(call.account()?, policy_ref(call)?)
            .await
            .map_err(store_error)?;
        let users: Vec<Value> = e
            .users
            .iter()
            .map(|(u, at)| {
                json!({"UserId": u.user_id.as_str(), "UserName": u.user_name,
                       "DisplayName": u.display_name, "AttachDate": date(*at)})
            })
            .collect();
        let groups: Vec<Value> = e
            .groups
            .iter()
            .map(|(g, at)| {
                json!({"GroupName": g.group_name, "Comments": g.comments, "AttachDate": date(*at)})
            })
            .collect();
        let roles: Vec<Value> = e
            .roles
            .iter()
            .map(|(r, at)| {
                json!({"RoleId": r.role_id.as_str(), "RoleName": r.role_name, "Arn": r.arn(),
                       "Description": r.description, "AttachDate": date(*at)})
            })
            .collect();
        Ok(body(json!({
            "Users": { "User": users },
            "Groups": { "Group": groups },
            "Roles": { "Role": roles },
        })))
    })
}
