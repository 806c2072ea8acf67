//! Service-linked roles: roles a cloud service creates for itself, trusted by that service
//! only. Rampart knows no cloud services, so any `*.aliyuncs.com` name is accepted and the
//! role gets a trust policy naming it; no system policy is attached (see
//! docs/compatibility.md).

use rampart_model::Field;
use rampart_store::NewRole;
use rampart_wire::ApiError;
use serde_json::json;

use super::common::body;
use super::roles::role_json;
use crate::call::{check_field, Call};
use crate::errors::store_error;
use crate::product::HandlerFuture;

fn service_name(call: &Call) -> Result<&str, ApiError> {
    let s = call.required("ServiceName")?;
    let prefix = s.strip_suffix(".aliyuncs.com").unwrap_or("");
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(ApiError::new(
            "InvalidParameter.ServiceName",
            "The parameter - \"ServiceName\" must be a service name such as ecs.aliyuncs.com.",
            400,
        ));
    }
    Ok(s)
}

/// `AliyunServiceRoleFor` + the service prefix with each part capitalised.
fn role_name_for(service: &str) -> String {
    let prefix = service.trim_end_matches(".aliyuncs.com");
    let mut name = String::from("AliyunServiceRoleFor");
    for part in prefix.split(['.', '-']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

pub fn slr_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    let service = service_name(call)?;
    let mut name = role_name_for(service);
    if let Some(suffix) = call.param("CustomSuffix").filter(|s| !s.is_empty()) {
        name = format!("{name}-{suffix}");
    }
    Ok(vec![call.arn("role", &name)?])
}

pub fn create_service_linked_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let service = service_name(call)?;
        let mut name = role_name_for(service);
        if let Some(suffix) = call.param("CustomSuffix").filter(|s| !s.is_empty()) {
            name = format!("{name}-{suffix}");
        }
        check_field(Field::RoleName, "CustomSuffix", &name)?;
        let trust = json!({
            "Version": "1",
            "Statement": [{
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": [service]}
            }]
        })
        .to_string();
        let role = NewRole {
            role_name: name,
            description: call
                .optional_name(Field::Description, "Description")?
                .unwrap_or("")
                .to_owned(),
            assume_role_policy_document: trust,
            max_session_duration: 3600,
            allow_console_login: false,
            tags: Vec::new(),
        };
        let r = call
            .store
            .create_role(call.account()?, role, call.now)
            .await
            .map_err(store_error)?;
        let mut v = role_json(&r);
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("IsServiceLinkedRole".into(), serde_json::Value::Bool(true));
            m.remove("UpdateDate");
        }
        Ok(body(json!({ "Role": v })))
    })
}

pub fn delete_service_linked_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::RoleName)?;
        let account = call.account()?;
        let role = call
            .store
            .get_role(account, name)
            .await
            .map_err(store_error)?;
        if !role.role_name.starts_with("AliyunServiceRoleFor") {
            return Err(ApiError::new(
                "InvalidParameter.RoleName",
                "The role is not a service-linked role.",
                400,
            ));
        }
        call.store
            .delete_role(account, name)
            .await
            .map_err(store_error)?;
        // Deletion is synchronous here; the task id names it for GetRole's LatestDeletionTask.
        Ok(body(
            json!({ "DeletionTaskId": format!("task/{}-{}", role.role_id.as_str(), call.now.unix_secs()) }),
        ))
    })
}

pub fn get_service_linked_role_template(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let service = service_name(call)?;
        Ok(body(json!({ "ServiceLinkedRoleTemplate": {
            "ServiceName": service,
            "RoleNamePrefix": role_name_for(service),
            "MultipleRolesAllowed": false,
            "SystemPolicyName": "",
            "RoleDescriptions": { "RoleDescription": [
                {"Language": "en", "Description": format!("The role that {service} assumes to access your resources.")}
            ]},
        }})))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(role_name_for("ecs.aliyuncs.com"), "AliyunServiceRoleForEcs");
        assert_eq!(
            role_name_for("log-audit.sls.aliyuncs.com"),
            "AliyunServiceRoleForLogAuditSls"
        );
    }
}
