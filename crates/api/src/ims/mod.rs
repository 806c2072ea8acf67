//! IMS 2019-08-15 (`ims.aliyuncs.com`): the identity-provider actions (OIDC and SAML), and
//! the "people" actions (login profiles, ChangePassword, password policy, security
//! preference, default domain, virtual MFA, AccessKeys) on the data RAM 2015-05-01 uses,
//! users named by `UserPrincipalName` ([`upn`]).
//!
//! Alibaba authorizes IMS with RAM's vocabulary: the permission of each action is
//! `ram:<Action>` and its resources are RAM ARNs (`acs:ram::<account>:oidc-provider/<name>`,
//! `…:saml-provider/<name>`), so the product's `service` is `ram`.

mod keys;
mod mfa;
mod oidc;
mod people;
mod saml;
pub(crate) mod upn;

use rampart_model::Field;
use rampart_store::Page;
use rampart_wire::ApiError;

use crate::call::Call;
use crate::product::{Access, ActionSpec, Handler, Product, ResourceFn, SelfServicePreference};
use crate::ram::common::account_wide;
use crate::ram::self_service_row;

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

// Resource rules. Names are checked here because the ARN is built before the handler runs.

fn oidc_provider(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn(
        "oidc-provider",
        call.name(Field::OIDCProviderName)?,
    )?])
}

fn all_oidc_providers(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("oidc-provider", "*")?])
}

fn saml_provider(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn(
        "saml-provider",
        call.name(Field::SAMLProviderName)?,
    )?])
}

fn all_saml_providers(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![call.arn("saml-provider", "*")?])
}

const fn own_keys(name: &'static str, permission: &'static str, handler: Handler) -> ActionSpec {
    self_service_row(
        name,
        permission,
        upn::user_or_self_resource,
        SelfServicePreference::AccessKeys,
        handler,
    )
}

const fn own_mfa(
    name: &'static str,
    permission: &'static str,
    resources: ResourceFn,
    handler: Handler,
) -> ActionSpec {
    self_service_row(
        name,
        permission,
        resources,
        SelfServicePreference::MfaDevices,
        handler,
    )
}

/// Binding acts on the device and the user.
fn bind_resources(call: &Call) -> Result<Vec<String>, ApiError> {
    let mut r = crate::ram::mfa::serial_resource(call)?;
    r.extend(upn::user_resource(call)?);
    Ok(r)
}

/// IMS lists: `MaxItems` 1–100 (default 100) and `Marker`.
fn page(call: &Call) -> Result<Page, ApiError> {
    let max = call.int("MaxItems", 1, 100)?;
    let marker = crate::ram::common::page(call)?.marker().cloned();
    let max = max
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(Page::DEFAULT_MAX_ITEMS);
    Ok(Page::new(marker, max))
}

pub static IMS: Product = Product {
    name: "Ims",
    service: "ram",
    version: "2019-08-15",
    host: "ims.aliyuncs.com",
    actions: &[
        // OIDC providers
        row(
            "CreateOIDCProvider",
            "ram:CreateOIDCProvider",
            oidc_provider,
            oidc::create,
        ),
        row(
            "GetOIDCProvider",
            "ram:GetOIDCProvider",
            oidc_provider,
            oidc::get,
        ),
        row(
            "ListOIDCProviders",
            "ram:ListOIDCProviders",
            all_oidc_providers,
            oidc::list,
        ),
        row(
            "UpdateOIDCProvider",
            "ram:UpdateOIDCProvider",
            oidc_provider,
            oidc::update,
        ),
        row(
            "DeleteOIDCProvider",
            "ram:DeleteOIDCProvider",
            oidc_provider,
            oidc::delete,
        ),
        row(
            "AddClientIdToOIDCProvider",
            "ram:AddClientIdToOIDCProvider",
            oidc_provider,
            oidc::add_client_id,
        ),
        row(
            "RemoveClientIdFromOIDCProvider",
            "ram:RemoveClientIdFromOIDCProvider",
            oidc_provider,
            oidc::remove_client_id,
        ),
        row(
            "AddFingerprintToOIDCProvider",
            "ram:AddFingerprintToOIDCProvider",
            oidc_provider,
            oidc::add_fingerprint,
        ),
        row(
            "RemoveFingerprintFromOIDCProvider",
            "ram:RemoveFingerprintFromOIDCProvider",
            oidc_provider,
            oidc::remove_fingerprint,
        ),
        // SAML providers
        row(
            "CreateSAMLProvider",
            "ram:CreateSAMLProvider",
            saml_provider,
            saml::create,
        ),
        row(
            "GetSAMLProvider",
            "ram:GetSAMLProvider",
            saml_provider,
            saml::get,
        ),
        row(
            "ListSAMLProviders",
            "ram:ListSAMLProviders",
            all_saml_providers,
            saml::list,
        ),
        row(
            "UpdateSAMLProvider",
            "ram:UpdateSAMLProvider",
            saml_provider,
            saml::update,
        ),
        row(
            "DeleteSAMLProvider",
            "ram:DeleteSAMLProvider",
            saml_provider,
            saml::delete,
        ),
        // Login profiles, password policy, security preference, default domain
        row(
            "CreateLoginProfile",
            "ram:CreateLoginProfile",
            upn::user_resource,
            people::create_login_profile,
        ),
        row(
            "GetLoginProfile",
            "ram:GetLoginProfile",
            upn::user_resource,
            people::get_login_profile,
        ),
        row(
            "UpdateLoginProfile",
            "ram:UpdateLoginProfile",
            upn::user_resource,
            people::update_login_profile,
        ),
        row(
            "DeleteLoginProfile",
            "ram:DeleteLoginProfile",
            upn::user_resource,
            people::delete_login_profile,
        ),
        ActionSpec {
            // Self-service: governed by the security preference, as in RAM.
            name: "ChangePassword",
            access: Access::Authenticated,
            handler: crate::ram::people::change_password,
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
            "GetDefaultDomain",
            "ram:GetDefaultDomain",
            account_wide,
            people::get_default_domain,
        ),
        row(
            "SetDefaultDomain",
            "ram:SetDefaultDomain",
            account_wide,
            people::set_default_domain,
        ),
        // Virtual MFA
        own_mfa(
            "CreateVirtualMFADevice",
            "ram:CreateVirtualMFADevice",
            crate::ram::mfa::name_resource,
            crate::ram::mfa::create_virtual_mfa_device,
        ),
        row(
            "ListVirtualMFADevices",
            "ram:ListVirtualMFADevices",
            crate::ram::all_mfa,
            mfa::list_virtual_mfa_devices,
        ),
        row(
            "DeleteVirtualMFADevice",
            "ram:DeleteVirtualMFADevice",
            crate::ram::mfa::serial_resource,
            crate::ram::mfa::delete_virtual_mfa_device,
        ),
        own_mfa(
            "BindMFADevice",
            "ram:BindMFADevice",
            bind_resources,
            mfa::bind_mfa_device,
        ),
        own_mfa(
            "UnbindMFADevice",
            "ram:UnbindMFADevice",
            upn::user_resource,
            mfa::unbind_mfa_device,
        ),
        own_mfa(
            "GetUserMFAInfo",
            "ram:GetUserMFAInfo",
            upn::user_or_self_resource,
            mfa::get_user_mfa_info,
        ),
        row(
            "GetAccountMFAInfo",
            "ram:GetAccountMFAInfo",
            account_wide,
            mfa::get_account_mfa_info,
        ),
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
    ],
};
