//! AccessKeys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed. `UserName` may be omitted: a RAM user then means its own keys, the
//! root identity its own. The logic takes the owner as an argument, so IMS (which names
//! users by `UserPrincipalName`) shares it.

use rampart_model::{AccessKey, AccessKeyId, AccessKeyStatus, AccountId, NewAccessKey};
use rampart_store::KeyOwnerRef;
use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::common::{body, date, target_user};
use crate::call::Call;
use crate::errors::store_error;
use crate::product::{Body, HandlerFuture};

/// A key's owner: `Some(user name)`, or `None` for the account's root identity.
pub(crate) type Owner = Option<String>;

fn owner<'a>(account_id: &'a AccountId, user: &'a Owner) -> KeyOwnerRef<'a> {
    match user {
        Some(user_name) => KeyOwnerRef::User {
            account_id,
            user_name,
        },
        None => KeyOwnerRef::AccountRoot(account_id),
    }
}

fn key_id(call: &Call) -> Result<AccessKeyId, ApiError> {
    let text = call.required("UserAccessKeyId")?;
    // A well-formed id that is not stored and a malformed one are both "not found".
    AccessKeyId::parse(text).map_err(|_| {
        ApiError::new(
            "EntityNotExist.User.AccessKey",
            "The access key does not exist.",
            404,
        )
    })
}

/// `AccessKey` of a listing (RAM's shape; IMS adds `UpdateDate`).
pub(crate) fn key_json(k: &AccessKey) -> Value {
    json!({
        "AccessKeyId": k.id.as_str(),
        "Status": k.status.as_str(),
        "CreateDate": date(k.create_date),
    })
}

pub(crate) async fn create(call: &Call, user: Owner) -> Result<Body, ApiError> {
    let account_id = call.account()?;
    let (new_key, secret) =
        NewAccessKey::generate(&call.state.master_key).map_err(|_| ApiError::internal_error())?;
    let key = call
        .store
        .create_access_key(owner(account_id, &user), new_key, call.now)
        .await
        .map_err(store_error)?;
    Ok(body(json!({
        "AccessKey": {
            "AccessKeyId": key.id.as_str(),
            "AccessKeySecret": secret.expose(),
            "Status": key.status.as_str(),
            "CreateDate": date(key.create_date),
        }
    })))
}

pub(crate) async fn list(call: &Call, user: Owner) -> Result<Vec<AccessKey>, ApiError> {
    call.store
        .list_access_keys(owner(call.account()?, &user))
        .await
        .map_err(store_error)
}

pub(crate) async fn update(call: &Call, user: Owner) -> Result<Body, ApiError> {
    let id = key_id(call)?;
    let status: AccessKeyStatus = call.required("Status")?.parse().map_err(|_| {
        ApiError::new(
            "InvalidParameter.Status",
            "The parameter - \"Status\" must be Active or Inactive.",
            400,
        )
    })?;
    call.store
        .set_access_key_status(owner(call.account()?, &user), &id, status)
        .await
        .map_err(store_error)?;
    Ok(body(json!({})))
}

pub(crate) async fn delete(call: &Call, user: Owner) -> Result<Body, ApiError> {
    let id = key_id(call)?;
    call.store
        .delete_access_key(owner(call.account()?, &user), &id)
        .await
        .map_err(store_error)?;
    Ok(body(json!({})))
}

pub(crate) async fn last_used(call: &Call, user: Owner) -> Result<Body, ApiError> {
    let id = key_id(call)?;
    // The key must exist and be this owner's; its last use is the latest event signed
    // with it (this call's own event is written after it answers).
    if !list(call, user).await?.iter().any(|k| k.id == id) {
        return Err(store_error(rampart_store::StoreError::NotFound(
            rampart_store::Entity::AccessKey,
        )));
    }
    let last = call
        .store
        .access_key_last_used(id.as_str())
        .await
        .map_err(store_error)?;
    let last = last
        .map(date)
        .unwrap_or_else(|| Value::String(String::new()));
    Ok(body(
        json!({ "AccessKeyLastUsed": { "LastUsedDate": last } }),
    ))
}

pub fn create_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { create(call, target_user(call)?).await })
}

pub fn list_access_keys(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let keys: Vec<Value> = list(call, target_user(call)?)
            .await?
            .iter()
            .map(key_json)
            .collect();
        Ok(body(json!({ "AccessKeys": { "AccessKey": keys } })))
    })
}

pub fn update_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { update(call, target_user(call)?).await })
}

pub fn delete_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { delete(call, target_user(call)?).await })
}

pub fn get_access_key_last_used(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { last_used(call, target_user(call)?).await })
}
