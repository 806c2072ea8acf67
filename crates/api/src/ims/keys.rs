//! IMS's AccessKey actions: RAM's logic, the owner named by `UserPrincipalName` (empty: the
//! calling identity, the root identity included).

use serde_json::{json, Value};

use super::upn;
use crate::call::Call;
use crate::product::HandlerFuture;
use crate::ram::common::{body, date};
use crate::ram::keys;

pub fn create_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { keys::create(call, upn::target(call).await?).await })
}

pub fn list_access_keys(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let keys: Vec<Value> = keys::list(call, upn::target(call).await?)
            .await?
            .iter()
            .map(|k| {
                let mut v = keys::key_json(k);
                if let Value::Object(m) = &mut v {
                    // Rampart does not record when a key's status changed: UpdateDate is CreateDate.
                    m.insert("UpdateDate".into(), date(k.create_date));
                }
                v
            })
            .collect();
        Ok(body(json!({ "AccessKeys": { "AccessKey": keys } })))
    })
}

pub fn update_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { keys::update(call, upn::target(call).await?).await })
}

pub fn delete_access_key(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { keys::delete(call, upn::target(call).await?).await })
}

pub fn get_access_key_last_used(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move { keys::last_used(call, upn::target(call).await?).await })
}
