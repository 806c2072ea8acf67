//! RAM 2015-05-01: the action table. Each row names the permission `ram:<Action>` and the
//! resource rule; the dispatcher enforces both before the handler runs.

pub(crate) mod common;
mod diagnostic;
mod documents;
mod groups;
pub(crate) mod keys;
pub(crate) mod mfa;
pub(crate) mod people;
mod policies;
mod roles;
mod slr;
mod system;
mod tags;
mod users;

pub use system::{install_system_policies, system_policies};

use common::{
    account_wide, all_groups, all_policies, all_roles, all_users, group_resource, policy_resource,
    role_resource, user_or_self_resource, user_resource,
};
use policies::Kind;
use rampart_wire::ApiError;

use crate::call::Call;
use crate::product::{
    Access, ActionSpec, Handler, HandlerFuture, Product, ResourceFn, SelfServicePreference,
};

const fn row(
    name: &'static str,
    permission: &'static str,
    resources: ResourceFn,
    handler: Handler,
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

const fn own_keys(name: &'static str, permission: &'static str, handler: Handler) -> ActionSpec {
    self_service_row(
        name,
        permission,
        user_or_self_resource,
        SelfServicePreference::AccessKeys,
        handler,
    )
}

pub(crate) const fn self_service_row(
    name: &'static str,
    permission: &'static str,
    resources: ResourceFn,
    preference: SelfServicePreference,
    handler: Handler,
) -> ActionSpec {
    ActionSpec {
        name,
        access: Access::SelfService {
            permission,
            resources,
            preference,
        },
        handler,
    }
}

/// Whether a call is a RAM user's self-service that the account's security preference
/// allows without any policy: the caller is a RAM user, every user the call acts on is the
/// caller, and the preference is on.
pub async fn self_service(
    call: &Call,
    resources: &[String],
    preference: SelfServicePreference,
) -> Result<bool, ApiError> {
    let crate::call::Principal::User { user_name, .. } = &call.principal else {
        return Ok(false);
    };
    let own = call.arn("user", user_name)?.to_ascii_lowercase();
    let users = call.arn("user", "")?.to_ascii_lowercase();
    // User names compare case-insensitively, as everywhere in RAM.
    let only_self = resources.iter().all(|r| {
        let r = r.to_ascii_lowercase();
        !r.starts_with(&users) || r == own
    });
    if !only_self {
        return Ok(false);
    }
    let prefs = people::security_preference(call).await?;
    Ok(match preference {
        SelfServicePreference::AccessKeys => prefs.allow_user_to_manage_access_keys,
        SelfServicePreference::MfaDevices => prefs.allow_user_to_manage_mfa_devices,
    })
}

// Resource rules and handlers that need an argument, as plain functions for the table.

fn typed_policy(call: &Call) -> Result<Vec<String>, ApiError> {
    let kind = policies::policy_type(call)?;
    let name = call.name(rampart_model::Field::PolicyName)?;
    Ok(vec![policies::policy_arn(call, kind, name)?])
}
fn user_attachment(call: &Call) -> Result<Vec<String>, ApiError> {
    policies::attachment_resources(call, Kind::User)
}
fn group_attachment(call: &Call) -> Result<Vec<String>, ApiError> {
    policies::attachment_resources(call, Kind::Group)
}
fn role_attachment(call: &Call) -> Result<Vec<String>, ApiError> {
    policies::attachment_resources(call, Kind::Role)
}
pub(crate) fn all_mfa(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("mfa", "*")?])
}
/// Binding acts on the device and the user.
fn bind_resources(call: &Call) -> Result<Vec<String>, ApiError> {
    let mut r = mfa::serial_resource(call)?;
    r.extend(user_resource(call)?);
    Ok(r)
}
/// Membership acts on the group and the user.
fn membership(call: &Call) -> Result<Vec<String>, ApiError> {
    let mut r = group_resource(call)?;
    r.extend(user_resource(call)?);
    Ok(r)
}
fn attach_user(call: &Call) -> HandlerFuture<'_> {
    policies::attach(call, Kind::User)
}
fn attach_group(call: &Call) -> HandlerFuture<'_> {
    policies::attach(call, Kind::Group)
}
fn attach_role(call: &Call) -> HandlerFuture<'_> {
    policies::attach(call, Kind::Role)
}
fn detach_user(call: &Call) -> HandlerFuture<'_> {
    policies::detach(call, Kind::User)
}
fn detach_group(call: &Call) -> HandlerFuture<'_> {
    policies::detach(call, Kind::Group)
}
fn detach_role(call: &Call) -> HandlerFuture<'_> {
    policies::detach(call, Kind::Role)
}
fn policies_for_user(call: &Call) -> HandlerFuture<'_> {
    policies::list_policies_for(call, Kind::User)
}
fn policies_for_group(call: &Call) -> HandlerFuture<'_> {
    policies::list_policies_for(call, Kind::Group)
}
fn policies_for_role(call: &Call) -> HandlerFuture<'_> {
    policies::list_policies_for(call, Kind::Role)
}

pub static RAM: Product = Product {
    name: "Ram",
    service: "ram",
    version: "2015-05-01",
    host: "ram.aliyuncs.com",
    actions: &[
        // Users
        row(
            "CreateUser",
            "ram:CreateUser",
            user_resource,
            users::create_user,
        ),
        row("GetUser", "ram:GetUser", user_resource, users::get_user),
        row(
            "UpdateUser",
            "ram:UpdateUser",
            user_resource,
            users::update_user,
        ),
        row(
            "DeleteUser",
            "ram:DeleteUser",
            user_resource,
            users::delete_user,
        ),
        row("ListUsers", "ram:ListUsers", all_users, users::list_users),
        // AccessKeys
        own_keys(
            "CreateAccessKey",
            "ram:CreateAccessKey",
            keys::create_access_key,
        ),
        own_keys(
            "ListAccessKeys",
            "ram:ListAccessKeys",
            keys::list_access_keys,
        ),
        own_keys(
            "UpdateAccessKey",
            "ram:UpdateAccessKey",
            keys::update_access_key,
        ),
        own_keys(
            "DeleteAccessKey",
            "ram:DeleteAccessKey",
            keys::delete_access_key,
        ),
        own_keys(
            "GetAccessKeyLastUsed",
            "ram:GetAccessKeyLastUsed",
            keys::get_access_key_last_used,
        ),
        // Groups
        row(
            "CreateGroup",
            "ram:CreateGroup",
            group_resource,
            groups::create_group,
        ),
        row(
            "GetGroup",
            "ram:GetGroup",
            group_resource,
            groups::get_group,
        ),
        row(
            "UpdateGroup",
            "ram:UpdateGroup",
            group_resource,
            groups::update_group,
        ),
        row(
            "DeleteGroup",
            "ram:DeleteGroup",
            group_resource,
            groups::delete_group,
        ),
        row(
            "ListGroups",
            "ram:ListGroups",
            all_groups,
            groups::list_groups,
        ),
        row(
            "AddUserToGroup",
            "ram:AddUserToGroup",
            membership,
            groups::add_user_to_group,
        ),
        row(
            "RemoveUserFromGroup",
            "ram:RemoveUserFromGroup",
            membership,
            groups::remove_user_from_group,
        ),
        row(
            "ListGroupsForUser",
            "ram:ListGroupsForUser",
            user_resource,
            groups::list_groups_for_user,
        ),
        row(
            "ListUsersForGroup",
            "ram:ListUsersForGroup",
            group_resource,
            groups::list_users_for_group,
        ),
        // Roles
        row(
            "CreateRole",
            "ram:CreateRole",
            role_resource,
            roles::create_role,
        ),
        row("GetRole", "ram:GetRole", role_resource, roles::get_role),
        row(
            "UpdateRole",
            "ram:UpdateRole",
            role_resource,
            roles::update_role,
        ),
        row(
            "DeleteRole",
            "ram:DeleteRole",
            role_resource,
            roles::delete_role,
        ),
        row("ListRoles", "ram:ListRoles", all_roles, roles::list_roles),
        // Policies and versions
        row(
            "CreatePolicy",
            "ram:CreatePolicy",
            policy_resource,
            policies::create_policy,
        ),
        row(
            "GetPolicy",
            "ram:GetPolicy",
            typed_policy,
            policies::get_policy,
        ),
        row(
            "ListPolicies",
            "ram:ListPolicies",
            all_policies,
            policies::list_policies,
        ),
        row(
            "UpdatePolicyDescription",
            "ram:UpdatePolicyDescription",
            policy_resource,
            policies::update_policy_description,
        ),
        row(
            "DeletePolicy",
            "ram:DeletePolicy",
            policy_resource,
            policies::delete_policy,
        ),
        row(
            "CreatePolicyVersion",
            "ram:CreatePolicyVersion",
            policy_resource,
            policies::create_policy_version,
        ),
        row(
            "GetPolicyVersion",
            "ram:GetPolicyVersion",
            typed_policy,
            policies::get_policy_version,
        ),
        row(
            "ListPolicyVersions",
            "ram:ListPolicyVersions",
            typed_policy,
            policies::list_policy_versions,
        ),
        row(
            "DeletePolicyVersion",
            "ram:DeletePolicyVersion",
            policy_resource,
            policies::delete_policy_version,
        ),
        row(
            "SetDefaultPolicyVersion",
            "ram:SetDefaultPolicyVersion",
            policy_resource,
            policies::set_default_policy_version,
        ),
        // Attachments
        row(
            "AttachPolicyToUser",
            "ram:AttachPolicyToUser",
            user_attachment,
            attach_user,
        ),
        row(
            "AttachPolicyToGroup",
            "ram:AttachPolicyToGroup",
            group_attachment,
            attach_group,
        ),
        row(
            "AttachPolicyToRole",
            "ram:AttachPolicyToRole",
            role_attachment,
            attach_role,
        ),
        row(
            "DetachPolicyFromUser",
            "ram:DetachPolicyFromUser",
            user_attachment,
            detach_user,
        ),
        row(
            "DetachPolicyFromGroup",
            "ram:DetachPolicyFromGroup",
            group_attachment,
            detach_group,
        ),
        row(
            "DetachPolicyFromRole",
            "ram:DetachPolicyFromRole",
            role_attachment,
            detach_role,
        ),
        row(
            "ListPoliciesForUser",
            "ram:ListPoliciesForUser",
            user_resource,
            policies_for_user,
        ),
        row(
            "ListPoliciesForGroup",
            "ram:ListPoliciesForGroup",
            group_resource,
            policies_for_group,
        ),
        row(
            "ListPoliciesForRole",
            "ram:ListPoliciesForRole",
            role_resource,
            policies_for_role,
        ),
        row(
            "ListEntitiesForPolicy",
            "ram:ListEntitiesForPolicy",
            typed_policy,
            policies::list_entities_for_policy,
        ),
        // Login profiles, password policy, security preference, alias
        row(
            "CreateLoginProfile",
            "ram:CreateLoginProfile",
            user_resource,
            people::create_login_profile,
        ),
        row(
            "GetLoginProfile",
            "ram:GetLoginProfile",
            user_resource,
            people::get_login_profile,
        ),
        row(
            "UpdateLoginProfile",
            "ram:UpdateLoginProfile",
            user_resource,
            people::update_login_profile,
        ),
        row(
            "DeleteLoginProfile",
            "ram:DeleteLoginProfile",
            user_resource,
            people::delete_login_profile,
        ),
        ActionSpec {
            // Self-service: governed by the security preference, as in RAM.
            name: "ChangePassword",
            access: Access::Authenticated,
            handler: people::change_password,
        },
        row(
            "GetPasswordPolicy",
            "ram:GetPasswordPolicy",
            account_wide,
            people::get_password_policy,
        ),
        row(
            "SetPasswordPolicy",
            "ram:SetPasswordPolicy",
            account_wide,
            people::set_password_policy,
        ),
        row(
            "GetSecurityPreference",
            "ram:GetSecurityPreference",
            account_wide,
            people::get_security_preference,
        ),
        row(
            "SetSecurityPreference",
            "ram:SetSecurityPreference",
            account_wide,
            people::set_security_preference,
        ),
        row(
            "SetAccountAlias",
            "ram:SetAccountAlias",
            account_wide,
            people::set_account_alias,
        ),
        row(
            "GetAccountAlias",
            "ram:GetAccountAlias",
            account_wide,
            people::get_account_alias,
        ),
        row(
            "ClearAccountAlias",
            "ram:ClearAccountAlias",
            account_wide,
            people::clear_account_alias,
        ),
        // Virtual MFA
        self_service_row(
            "CreateVirtualMFADevice",
            "ram:CreateVirtualMFADevice",
            mfa::name_resource,
            SelfServicePreference::MfaDevices,
            mfa::create_virtual_mfa_device,
        ),
        row(
            "ListVirtualMFADevices",
            "ram:ListVirtualMFADevices",
            all_mfa,
            mfa::list_virtual_mfa_devices,
        ),
        row(
            "DeleteVirtualMFADevice",
            "ram:DeleteVirtualMFADevice",
            mfa::serial_resource,
            mfa::delete_virtual_mfa_device,
        ),
        self_service_row(
            "BindMFADevice",
            "ram:BindMFADevice",
            bind_resources,
            SelfServicePreference::MfaDevices,
            mfa::bind_mfa_device,
        ),
        self_service_row(
            "UnbindMFADevice",
            "ram:UnbindMFADevice",
            user_resource,
            SelfServicePreference::MfaDevices,
            mfa::unbind_mfa_device,
        ),
        self_service_row(
            "GetUserMFAInfo",
            "ram:GetUserMFAInfo",
            user_resource,
            SelfServicePreference::MfaDevices,
            mfa::get_user_mfa_info,
        ),
        // Tags
        row(
            "TagResources",
            "ram:TagResources",
            tags::resources,
            tags::tag_resources,
        ),
        row(
            "UntagResources",
            "ram:UntagResources",
            tags::resources,
            tags::untag_resources,
        ),
        row(
            "ListTagResources",
            "ram:ListTagResources",
            tags::resources,
            tags::list_tag_resources,
        ),
        // Service-linked roles
        row(
            "CreateServiceLinkedRole",
            "ram:CreateServiceLinkedRole",
            slr::slr_resource,
            slr::create_service_linked_role,
        ),
        row(
            "DeleteServiceLinkedRole",
            "ram:DeleteServiceLinkedRole",
            role_resource,
            slr::delete_service_linked_role,
        ),
        row(
            "GetServiceLinkedRoleTemplate",
            "ram:GetServiceLinkedRoleTemplate",
            account_wide,
            slr::get_service_linked_role_template,
        ),
        // Diagnostics
        row(
            "DecodeDiagnosticMessage",
            "ram:DecodeDiagnosticMessage",
            account_wide,
            diagnostic::decode_diagnostic_message,
        ),
    ],
};
