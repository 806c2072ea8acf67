//! DecodeDiagnosticMessage: the sealed explanation a `NoPermission` carried, opened for a
//! caller of the same account whose policies allow it.

use rampart_wire::ApiError;
use serde_json::{json, Value};

use super::common::body;
use crate::authz::decode_diagnostic;
use crate::call::Call;
use crate::product::HandlerFuture;

pub fn decode_diagnostic_message(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let encoded = call.required("EncodedDiagnosticMessage")?;
        let invalid = || {
            ApiError::new(
                "InvalidParameter.EncodedDiagnosticMessage",
                "The parameter - \"EncodedDiagnosticMessage\" is not valid.",
                400,
            )
        };
        let d = decode_diagnostic(&call.state.master_key, encoded).ok_or_else(invalid)?;
        // Another account's denial is as unreadable as a forged one: it would reveal that
        // account's principals and policies.
        if d.account_id != call.account()?.as_str() {
            return Err(invalid());
        }
        let matched: Vec<Value> = d
            .matched_policies
            .iter()
            .map(|m| {
                json!({
                    "PolicyIdentifier": m.policy_identifier,
                    "PolicyType": m.policy_type,
                    "PolicyVersion": m.policy_version,
                    "Effect": m.effect,
                    "AttachedEntityType": d.principal_type,
                    "AttachedScope": "Account",
                })
            })
            .collect();
        Ok(body(json!({
            "DecodedDiagnosticMessage": {
                "AuthAction": d.auth_action,
                "AuthResource": d.auth_resource,
                "AuthPrincipal": {
                    "AuthPrincipalType": d.principal_type,
                    "AuthPrincipalOwnerId": d.account_id,
                    "AuthPrincipalDisplayName": d.principal_display_name,
                },
                "ExplicitDeny": d.explicit_deny,
                "NoPermissionPolicyType": d.no_permission_policy_type,
                "MatchedPolicies": matched,
                "AuthConditions": [],
                "Explanation": d.explanation,
            }
        })))
    })
}
