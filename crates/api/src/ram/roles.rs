//! Roles: CreateRole, GetRole, UpdateRole, DeleteRole, ListRoles.

use rampart_model::{Field, Role};
use rampart_policy::PolicyKind;
use rampart_store::{NewRole, RoleUpdate};
use serde_json::{json, Value};

use super::common::{body, date, page, paginate};
use super::documents::check_document;
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

/// RAM's bounds for `MaxSessionDuration`, in seconds.
const MIN_SESSION: i64 = 3600;
const MAX_SESSION: i64 = 43_200;

pub fn role_json(r: &Role) -> Value {
    json!({
        "RoleId": r.role_id.as_str(),
        "RoleName": r.role_name,
        "Arn": r.arn(),
        "Description": r.description,
        "AssumeRolePolicyDocument": r.assume_role_policy_document,
        "MaxSessionDuration": r.max_session_duration,
        "AllowConsoleLogin": r.allow_console_login,
        "CreateDate": date(r.create_date),
        "UpdateDate": date(r.update_date),
    })
}

fn duration(call: &Call, param: &str) -> Result<Option<u32>, rampart_wire::ApiError> {
    Ok(call
        .int(param, MIN_SESSION, MAX_SESSION)?
        .and_then(|v| u32::try_from(v).ok()))
}

pub fn create_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let role_name = call.name(Field::RoleName)?;
        let document = call.required("AssumeRolePolicyDocument")?;
        check_document(PolicyKind::Trust, "AssumeRolePolicyDocument", document)?;
        let tags = super::tags::tags(call)?.unwrap_or_default();
        let role = NewRole {
            role_name: role_name.to_owned(),
            description: call
                .optional_name(Field::Description, "Description")?
                .unwrap_or("")
                .to_owned(),
            assume_role_policy_document: document.to_owned(),
            max_session_duration: duration(call, "MaxSessionDuration")?.unwrap_or(3600),
            allow_console_login: call.bool("AllowConsoleLogin")?.unwrap_or(true),
            tags,
        };
        let r = call
            .store
            .create_role(call.account()?, role, call.now)
            .await
            .map_err(store_error)?;
        let mut v = role_json(&r);
        if let Value::Object(m) = &mut v {
            m.remove("UpdateDate");
        }
        Ok(body(json!({ "Role": v })))
    })
}

pub fn get_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let r = call
            .store
            .get_role(call.account()?, call.name(Field::RoleName)?)
            .await
            .map_err(store_error)?;
        let mut v = role_json(&r);
        if let Value::Object(m) = &mut v {
            m.insert("IsServiceLinkedRole".into(), Value::Bool(false));
            m.insert(
                "RolePrincipalName".into(),
                Value::String(format!(
                    "{}@role.{}.onaliyunservice.com",
                    r.role_name, r.account_id
                )),
            );
        }
        Ok(body(json!({ "Role": v })))
    })
}

pub fn update_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let role_name = call.name(Field::RoleName)?;
        let document = call.param("NewAssumeRolePolicyDocument");
        if let Some(d) = document {
            check_document(PolicyKind::Trust, "NewAssumeRolePolicyDocument", d)?;
        }
        let update = RoleUpdate {
            new_assume_role_policy_document: document.map(str::to_owned),
            new_description: call
                .optional_name(Field::Description, "NewDescription")?
                .map(str::to_owned),
            new_max_session_duration: duration(call, "NewMaxSessionDuration")?,
            new_allow_console_login: call.bool("NewAllowConsoleLogin")?,
        };
        let r = call
            .store
            .update_role(call.account()?, role_name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "Role": role_json(&r) })))
    })
}

pub fn delete_role(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_role(call.account()?, call.name(Field::RoleName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn list_roles(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = page(call)?;
        let filter = super::tags::tags(call)?.unwrap_or_default();
        let listing = call
            .store
            .list_roles(call.account()?, &page)
            .await
            .map_err(store_error)?;
        let names: Vec<String> = listing.items.iter().map(|r| r.role_name.clone()).collect();
        let tags = super::tags::tags_of(call, "role", &names).await?;
        let mut roles: Vec<Value> = Vec::with_capacity(listing.items.len());
        for r in &listing.items {
            let own = tags
                .get(&r.role_name.to_ascii_lowercase())
                .map(Vec::as_slice)
                .unwrap_or_default();
            // The tag filter applies within the page (documented deviation).
            if !super::tags::matches(own, &filter) {
                continue;
            }
            let mut v = role_json(r);
            if let Value::Object(m) = &mut v {
                m.remove("AssumeRolePolicyDocument");
                m.insert("Tags".into(), super::tags::tags_value(own));
            }
            roles.push(v);
        }
        let mut out = body(json!({ "Roles": { "Role": roles } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}
