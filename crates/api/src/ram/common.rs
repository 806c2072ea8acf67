//! Shapes and resource rules shared by RAM's handlers.

use rampart_model::{Field, Timestamp, User};
use rampart_store::{Listing, Marker, Page};
use rampart_wire::ApiError;
use serde_json::{json, Map, Value};

use crate::call::{Call, Principal};
use crate::product::Body;

/// `serde_json::json!({...})` as a success body.
pub fn body(value: Value) -> Body {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub fn date(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

/// `MaxItems` (1–1000, default 100) and `Marker`.
pub fn page(call: &Call) -> Result<Page, ApiError> {
    let max = call.int("MaxItems", 1, i64::from(Page::MAX_ITEMS))?;
    let marker = match call.param("Marker") {
        None | Some("") => None,
        Some(text) => Some(Marker::parse(text).map_err(|_| {
            ApiError::new(
                "InvalidParameter.Marker",
                "The parameter - \"Marker\" is not valid.",
                400,
            )
        })?),
    };
    let max = max
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(Page::DEFAULT_MAX_ITEMS);
    Ok(Page::new(marker, max))
}

/// Adds `IsTruncated` and, only when truncated, `Marker`.
pub fn paginate<T>(out: &mut Body, listing: &Listing<T>) {
    out.insert("IsTruncated".into(), Value::Bool(listing.is_truncated()));
    if let Some(marker) = &listing.marker {
        out.insert("Marker".into(), Value::String(marker.encode()));
    }
}

pub fn user_json(u: &User) -> Value {
    let mut v = json!({
        "UserId": u.user_id.as_str(),
        "UserName": u.user_name,
        "DisplayName": u.display_name,
        "Email": u.email,
        "MobilePhone": u.mobile_phone,
        "Comments": u.comments,
        "CreateDate": date(u.create_date),
        "UpdateDate": date(u.update_date),
    });
    if let (Some(last), Value::Object(map)) = (u.last_login_date, &mut v) {
        map.insert("LastLoginDate".into(), date(last));
    }
    v
}

// Resource rules: the ARNs a request acts on. Names are checked here because the ARN is
// built before the handler runs; a bad name is a 400 before any authorization.

/// Account settings (alias, password policy, security preference) and other actions on no
/// one entity.
pub fn account_wide(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![format!("acs:ram::{}:*", call.account()?)])
}

// Listing actions act on every entity of a kind, as Alibaba's policy examples write them
// (`acs:ram:*:*:user/*`).
pub fn all_users(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("user", "*")?])
}

pub fn all_groups(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("group", "*")?])
}

pub fn all_roles(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("role", "*")?])
}

pub fn all_policies(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("policy", "*")?])
}

pub fn user_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("user", call.name(Field::UserName)?)?])
}

pub fn group_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("group", call.name(Field::GroupName)?)?])
}

pub fn role_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("role", call.name(Field::RoleName)?)?])
}

pub fn policy_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("policy", call.name(Field::PolicyName)?)?])
}

/// The user a self-service call is about: `UserName`, or the calling user when omitted.
/// `None` means the root identity's own keys.
pub fn target_user(call: &Call) -> Result<Option<String>, ApiError> {
    match call.param("UserName") {
        Some(name) if !name.is_empty() => {
            crate::call::check_field(Field::UserName, "UserName", name)?;
            Ok(Some(name.to_owned()))
        }
        _ => caller_or_root(call, "UserName"),
    }
}

/// The caller itself, when a call names no user (`param` is what it would have named):
/// the calling RAM user, or `None` for the root identity.
pub fn caller_or_root(call: &Call, param: &str) -> Result<Option<String>, ApiError> {
    match &call.principal {
        Principal::User { user_name, .. } => Ok(Some(user_name.clone())),
        // A role session has no keys or devices of its own; "itself" must never fall
        // through to the account's root identity.
        Principal::AssumedRole { .. } | Principal::Anonymous | Principal::Federated { .. } => {
            Err(ApiError::missing_parameter(param))
        }
        Principal::Root { .. } => Ok(None),
    }
}

/// A user named by `UserName` or, when omitted, the caller (the root identity: `root`).
pub fn user_or_self_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    owner_resource(call, target_user(call)?)
}

/// The ARN of a user, or of the root identity for `None`.
pub fn owner_resource(call: &Call, user: Option<String>) -> Result<Vec<String>, ApiError> {
    match user {
        Some(name) => Ok(vec![call.arn("user", &name)?]),
        None => Ok(vec![format!("acs:ram::{}:root", call.account()?)]),
    }
}
