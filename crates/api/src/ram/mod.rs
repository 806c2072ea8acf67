//! RAM 2015-05-01: the action table. Each row names the permission `ram:<Action>` and the
//! resource rule; the dispatcher enforces both before the handler runs.

mod common;
mod diagnostic;
mod documents;
mod system;

pub use system::{install_system_policies, system_policies};
mod keys;
mod users;

use common::{account_wide, all_users, user_or_self_resource, user_resource};

use crate::product::{Access, ActionSpec, Product, ResourceFn};

const fn authorized(
    name: &'static str,
    permission: &'static str,
    resources: ResourceFn,
    handler: crate::product::Handler,
) -> ActionSpec {
    ActionSpec {
        name,
        access: Access::Authorized {
            permission,
            resources,
        },
        handler,
    }
}

pub static RAM: Product = Product {
    name: "Ram",
    service: "ram",
    version: "2015-05-01",
    host: "ram.aliyuncs.com",
    actions: &[
        authorized(
            "CreateUser",
            "ram:CreateUser",
            user_resource,
            users::create_user,
        ),
        authorized("GetUser", "ram:GetUser", user_resource, users::get_user),
        authorized(
            "UpdateUser",
            "ram:UpdateUser",
            user_resource,
            users::update_user,
        ),
        authorized(
            "DeleteUser",
            "ram:DeleteUser",
            user_resource,
            users::delete_user,
        ),
        authorized(
            "ListUsers",
            "ram:ListUsers",
            account_wide,
            users::list_users,
        ),
        authorized(
            "CreateAccessKey",
            "ram:CreateAccessKey",
            user_or_self_resource,
            keys::create_access_key,
        ),
        authorized(
            "ListAccessKeys",
            "ram:ListAccessKeys",
            user_or_self_resource,
            keys::list_access_keys,
        ),
        authorized(
            "UpdateAccessKey",
            "ram:UpdateAccessKey",
            user_or_self_resource,
            keys::update_access_key,
        ),
        authorized(
            "DeleteAccessKey",
            "ram:DeleteAccessKey",
            user_or_self_resource,
            keys::delete_access_key,
        ),
        authorized(
            "GetAccessKeyLastUsed",
            "ram:GetAccessKeyLastUsed",
            user_or_self_resource,
            keys::get_access_key_last_used,
        ),
        authorized(
            "DecodeDiagnosticMessage",
            "ram:DecodeDiagnosticMessage",
            account_wide,
            diagnostic::decode_diagnostic_message,
        ),
    ],
};
