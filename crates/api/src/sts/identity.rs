//! `GetCallerIdentity`: who signed this request, in the shape each identity type has.

use serde_json::{json, Map, Value};

use crate::call::{Call, Principal};
use crate::product::HandlerFuture;

pub fn get_caller_identity(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let mut body = Map::new();
        let mut put = |k: &str, v: String| {
            body.insert(k.to_owned(), Value::String(v));
        };
        let arn = call.principal.arn();
        match &call.principal {
            Principal::Root { account_id } => {
                put("IdentityType", "Account".into());
                put("AccountId", account_id.to_string());
                put("PrincipalId", account_id.to_string());
                put("UserId", account_id.to_string());
            }
            Principal::User {
                account_id,
                user_id,
                ..
            } => {
                put("IdentityType", "RAMUser".into());
                put("AccountId", account_id.to_string());
                put("PrincipalId", user_id.to_string());
                put("UserId", user_id.to_string());
            }
            Principal::AssumedRole {
                account_id,
                session,
            } => {
                put("IdentityType", "AssumedRoleUser".into());
                put("AccountId", account_id.to_string());
                put(
                    "PrincipalId",
                    format!("{}:{}", session.role_id, session.session_name),
                );
                put("RoleId", session.role_id.clone());
            }
            // The dispatcher authenticates before this runs.
            Principal::Anonymous | Principal::Federated { .. } => {
                return Err(rampart_wire::ApiError::internal_error())
            }
        }
        body.insert("Arn".into(), json!(arn));
        Ok(body)
    })
}
