//! TagResources, UntagResources, ListTagResources for roles and policies, and the `Tag`
//! parameters of CreateRole / CreatePolicy / ListRoles / ListPolicies.

use rampart_model::{Field, PolicyType};
use rampart_store::{Marker, Page, PolicyRef};
use rampart_wire::{ApiError, Tag};
use serde_json::{json, Value};

use super::common::body;
use crate::call::{check_field, Call};
use crate::errors::store_error;
use crate::product::HandlerFuture;

const MAX_NAMES: usize = 50;
const MAX_TAGS: usize = 20;

fn invalid(param: &str, why: &str) -> ApiError {
    ApiError::new(
        format!("InvalidParameter.{param}"),
        format!("The parameter - \"{param}\" is not valid: {why}."),
        400,
    )
}

pub fn resource_type(call: &Call) -> Result<&'static str, ApiError> {
    match call.required("ResourceType")? {
        "role" => Ok("role"),
        "policy" => Ok("policy"),
        _ => Err(invalid("ResourceType", "it must be role or policy")),
    }
}

fn names(call: &Call, required: bool) -> Result<Option<Vec<String>>, ApiError> {
    let names = call
        .request
        .params()
        .string_list("ResourceNames")
        .map_err(|_| invalid("ResourceNames", "it must be a JSON array of names"))?;
    match names {
        None if required => Err(ApiError::missing_parameter("ResourceNames")),
        Some(n) if n.is_empty() && required => Err(ApiError::missing_parameter("ResourceNames")),
        Some(n) if n.len() > MAX_NAMES => Err(invalid("ResourceNames", "at most 50 names")),
        other => Ok(other),
    }
}

/// `Tag`, as JSON or flat, checked: keys 1–128 characters not starting with `acs:` or
/// `aliyun`, values at most 256.
pub fn tags(call: &Call) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let tags: Option<Vec<Tag>> = call.request.params().tag_list("Tag").map_err(|_| {
        invalid(
            "Tag",
            "it must be a JSON array of {\"Key\",\"Value\"} objects",
        )
    })?;
    let Some(tags) = tags else {
        return Ok(None);
    };
    if tags.len() > MAX_TAGS {
        return Err(invalid("Tag", "at most 20 tags"));
    }
    let mut out = Vec::with_capacity(tags.len());
    for t in tags {
        let key_len = t.key.chars().count();
        if key_len == 0 || key_len > 128 || t.key.starts_with("acs:") || t.key.starts_with("aliyun")
        {
            return Err(invalid(
                "Tag.Key",
                "1 to 128 characters, not starting with acs: or aliyun",
            ));
        }
        let value = t.value.unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(invalid("Tag.Value", "at most 256 characters"));
        }
        out.push((t.key, value));
    }
    Ok(Some(out))
}

/// Every named resource must exist in the caller's account.
async fn check_exist(call: &Call, kind: &str, names: &[String]) -> Result<(), ApiError> {
    let account = call.account()?;
    for name in names {
        let found = match kind {
            "role" => {
                check_field(Field::RoleName, "ResourceNames", name)?;
                call.store.get_role(account, name).await.map(|_| ())
            }
            _ => {
                check_field(Field::PolicyName, "ResourceNames", name)?;
                call.store
                    .get_policy(
                        account,
                        PolicyRef {
                            policy_type: PolicyType::Custom,
                            policy_name: name,
                        },
                    )
                    .await
                    .map(|_| ())
            }
        };
        found.map_err(store_error)?;
    }
    Ok(())
}

pub fn resources(call: &Call) -> Result<Vec<String>, ApiError> {
    let kind = resource_type(call)?;
    match names(call, false)? {
        Some(names) if !names.is_empty() => names.iter().map(|n| call.arn(kind, n)).collect(),
        _ => Ok(vec![call.arn(kind, "*")?]),
    }
}

pub fn tag_resources(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let kind = resource_type(call)?;
        let names = names(call, true)?.unwrap_or_default();
        let tags = tags(call)?.ok_or_else(|| ApiError::missing_parameter("Tag"))?;
        if tags.is_empty() {
            return Err(ApiError::missing_parameter("Tag"));
        }
        check_exist(call, kind, &names).await?;
        call.store
            .tag_resources(call.account()?, kind, &names, &tags)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn untag_resources(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let kind = resource_type(call)?;
        let names = names(call, true)?.unwrap_or_default();
        let all = call.bool("All")?.unwrap_or(false);
        let keys = call
            .request
            .params()
            .string_list("TagKeys")
            .map_err(|_| invalid("TagKeys", "it must be a JSON array of keys"))?;
        let keys = match (all, keys) {
            (true, _) => None,
            (false, Some(k)) if !k.is_empty() => Some(k),
            (false, _) => return Err(ApiError::missing_parameter("TagKeys")),
        };
        check_exist(call, kind, &names).await?;
        call.store
            .untag_resources(call.account()?, kind, &names, keys.as_deref())
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn list_tag_resources(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let kind = resource_type(call)?;
        let names = names(call, false)?;
        let keys: Option<Vec<String>> =
            tags(call)?.map(|t| t.into_iter().map(|(k, _)| k).collect());
        let size = call
            .int("PageSize", 1, 100)?
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(50);
        let marker = match call.param("NextToken").filter(|t| !t.is_empty()) {
            Some(t) => Some(Marker::parse(t).map_err(|_| invalid("NextToken", "unknown token"))?),
            None => None,
        };
        let listing = call
            .store
            .list_tag_resources(
                call.account()?,
                kind,
                names.as_deref(),
                keys.as_deref(),
                &Page::new(marker, size),
            )
            .await
            .map_err(store_error)?;
        let rows: Vec<Value> = listing
            .items
            .iter()
            .map(|t| {
                json!({"ResourceType": t.resource_type, "ResourceName": t.resource_name,
                       "TagKey": t.tag_key, "TagValue": t.tag_value})
            })
            .collect();
        let mut out = body(json!({ "TagResources": rows }));
        if let Some(m) = &listing.marker {
            out.insert("NextToken".into(), Value::String(m.encode()));
        }
        Ok(out)
    })
}

/// The tags of a page of resources, read once: keyed by lower-cased name.
pub async fn tags_of(
    call: &Call,
    kind: &str,
    names: &[String],
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, ApiError> {
    call.store
        .tags_for_names(call.account()?, kind, names)
        .await
        .map_err(store_error)
}

/// `{"Tag":[{"TagKey","TagValue"}]}`, the value of a listed entity's `Tags`.
pub fn tags_value(tags: &[(String, String)]) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({ "Tag": tags })
}

/// Whether `tags` hold every tag of a `Tag` filter (an empty filter value matches any value).
pub fn matches(tags: &[(String, String)], filter: &[(String, String)]) -> bool {
    filter.iter().all(|(k, v)| {
        tags.iter()
            .any(|(tk, tv)| tk == k && (v.is_empty() || tv == v))
    })
}
