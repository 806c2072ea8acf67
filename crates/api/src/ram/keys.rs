//! AccessKeys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed. `UserName` may be omitted: a RAM user then means its own keys, the
//! root identity its own.

use rampart_model::{AccessKeyId, AccessKeyStatus, AccountId, NewAccessKey};
use rampart_store::KeyOwnerRef;
use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::common::{body, date, target_user};
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

fn owner<'a>(account_id: &'a AccountId, user: &'a Option<String>) -> KeyOwnerRef<'a> {
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

pub fn create_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account_id = call.account()?;
        let user = target_user(call)?;
        let (new_key, secret) = NewAccessKey::generate(&call.state.master_key)
            .map_err(|_| ApiError::internal_error())?;
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
    })
}

pub fn list_access_keys(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account_id = call.account()?;
        let user = target_user(call)?;
        let keys = call
            .store
            .list_access_keys(owner(account_id, &user))
            .await
            .map_err(store_error)?;
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "AccessKeyId": k.id.as_str(),
                    "Status": k.status.as_str(),
                    "CreateDate": date(k.create_date),
                })
            })
            .collect();
        Ok(body(json!({ "AccessKeys": { "AccessKey": keys } })))
    })
}

pub fn update_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account_id = call.account()?;
        let user = target_user(call)?;
        let id = key_id(call)?;
        let status: AccessKeyStatus = call.required("Status")?.parse().map_err(|_| {
            ApiError::new(
                "InvalidParameter.Status",
                "The parameter - \"Status\" must be Active or Inactive.",
                400,
            )
        })?;
        call.store
            .set_access_key_status(owner(account_id, &user), &id, status)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn delete_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account_id = call.account()?;
        let user = target_user(call)?;
        let id = key_id(call)?;
        call.store
            .delete_access_key(owner(account_id, &user), &id)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn get_access_key_last_used(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account_id = call.account()?;
        let user = target_user(call)?;
        let id = key_id(call)?;
        // The key must exist and be this owner's; its last use is the latest event signed
        // with it (this call's own event is written after it answers).
        let keys = call
            .store
            .list_access_keys(owner(account_id, &user))
            .await
            .map_err(store_error)?;
        if !keys.iter().any(|k| k.id == id) {
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
    })
}
