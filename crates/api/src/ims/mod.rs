//! IMS 2019-08-15 (`ims.aliyuncs.com`): the identity-provider actions (OIDC and SAML).
//!
//! Alibaba authorizes IMS with RAM's vocabulary: the permission of each action is
//! `ram:<Action>` and its resources are RAM ARNs (`acs:ram::<account>:oidc-provider/<name>`,
//! `…:saml-provider/<name>`), so the product's `service` is `ram`.

mod oidc;
mod saml;

use rampart_model::Field;
use rampart_store::Page;
use rampart_wire::ApiError;

use crate::call::Call;
use crate::product::{Access, ActionSpec, Handler, Product, ResourceFn};

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
    ],
};
