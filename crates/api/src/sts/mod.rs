//! STS 2015-04-01: temporary credentials for roles.
//!
//! `AssumeRole` is authorized in two halves. The caller's own policies must allow
//! `sts:AssumeRole` on the role's ARN: that is an ordinary identity check, made by the
//! dispatcher from the table row like every other action. The role's trust policy must allow
//! the caller: that is the role's resource-based policy, which only exists once the role is
//! loaded (possibly from another account), so [`assume`] evaluates it with the same engine
//! before issuing anything. The federated calls have no caller identity: their assertion or
//! token is verified first and the trust policy alone decides.

mod assume;
mod federated;
mod identity;
pub mod token;

use crate::product::{Access, ActionSpec, Product};

pub use assume::{parse_role_arn, RoleArn};
pub(crate) use federated::verify_for_provider;

pub static STS: Product = Product {
    name: "Sts",
    service: "sts",
    version: "2015-04-01",
    host: "sts.aliyuncs.com",
    actions: &ACTIONS,
};

static ACTIONS: [ActionSpec; 4] = [
    ActionSpec {
        name: "AssumeRole",
        access: Access::Authorized {
            permission: "sts:AssumeRole",
            resources: assume::role_resource,
        },
        handler: assume::assume_role,
    },
    ActionSpec {
        name: "AssumeRoleWithOIDC",
        access: Access::Anonymous,
        handler: federated::assume_role_with_oidc,
    },
    ActionSpec {
        name: "AssumeRoleWithSAML",
        access: Access::Anonymous,
        handler: federated::assume_role_with_saml,
    },
    ActionSpec {
        name: "GetCallerIdentity",
        access: Access::Authenticated,
        handler: identity::get_caller_identity,
    },
];
