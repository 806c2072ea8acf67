//! Products and their action tables.
//!
//! Every action is one [`ActionSpec`] row: its name, who may call it ([`Access`]) and its
//! handler. The dispatcher reads the row and authenticates and authorizes *before* the
//! handler runs, so a handler cannot forget a check, and a product added later only adds a
//! table.

use std::future::Future;
use std::pin::Pin;

use rampart_wire::ApiError;
use serde_json::{Map, Value};

use crate::call::Call;

/// A success body: the members after `RequestId`.
pub type Body = Map<String, Value>;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Body, ApiError>> + Send + 'a>>;

/// An action's implementation. It receives a call that is already authenticated and
/// authorized.
pub type Handler = for<'a> fn(&'a Call) -> HandlerFuture<'a>;

/// Builds the resource ARNs a request acts on, from its parameters and caller.
pub type ResourceFn = fn(&Call) -> Result<Vec<String>, ApiError>;

/// Who may call an action.
#[derive(Clone, Copy)]
pub enum Access {
    /// Unsigned calls are accepted (federated sign-in: `AssumeRoleWithSAML`/`OIDC`).
    Anonymous,
    /// Any authenticated caller, with no policy check (`GetCallerIdentity`, `Noop`).
    Authenticated,
    /// The caller's policies must allow `permission` on every resource `resources` names.
    Authorized {
        permission: &'static str,
        resources: ResourceFn,
    },
    /// As `Authorized`, except that a RAM user acting on itself needs no policy when the
    /// account's security preference allows that kind of self-service (RAM's rule): every
    /// user among the resources must be the caller.
    SelfService {
        permission: &'static str,
        resources: ResourceFn,
        preference: SelfServicePreference,
    },
}

/// The security-preference switch that opens a self-service action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfServicePreference {
    /// `AllowUserToManageAccessKeys`.
    AccessKeys,
    /// `AllowUserToManageMFADevices`.
    MfaDevices,
}

/// One row of an action table.
pub struct ActionSpec {
    /// Case-sensitive, as on the wire.
    pub name: &'static str,
    pub access: Access,
    pub handler: Handler,
}

impl ActionSpec {
    /// The permission checked, for tables and documentation.
    pub fn permission(&self) -> Option<&'static str> {
        match self.access {
            Access::Authorized { permission, .. } | Access::SelfService { permission, .. } => {
                Some(permission)
            }
            _ => None,
        }
    }
}

/// One product: an API version served at `/` and told apart by `Version`.
pub struct Product {
    /// As in `Recommend` URLs: `Ram`, `Sts`.
    pub name: &'static str,
    /// The service prefix of its permissions and ARNs: `ram`, `sts`; IMS's is `ram` (Alibaba
    /// authorizes IMS calls as `ram:<Action>` on RAM ARNs).
    pub service: &'static str,
    pub version: &'static str,
    /// `HostId` of its error envelopes.
    pub host: &'static str,
    pub actions: &'static [ActionSpec],
}

impl Product {
    pub fn action(&self, name: &str) -> Option<&'static ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// Every product the server speaks.
pub fn products() -> &'static [&'static Product] {
    static PRODUCTS: [&Product; 5] = [
        &crate::ram::RAM,
        &crate::sts::STS,
        &crate::ims::IMS,
        &crate::trail::ACTIONTRAIL,
        &crate::internal::INTERNAL,
    ];
    &PRODUCTS
}

/// The product serving `version`.
pub fn product_for(version: &str) -> Option<&'static Product> {
    products().iter().copied().find(|p| p.version == version)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn versions_and_action_names_are_unique() {
        let mut versions = HashSet::new();
        for p in products() {
            assert!(versions.insert(p.version), "version {} twice", p.version);
            let mut names = HashSet::new();
            for a in p.actions {
                assert!(names.insert(a.name), "{} twice in {}", a.name, p.name);
            }
        }
    }

    #[test]
    fn permissions_name_their_own_action() {
        // A copy-paste slip in a table would otherwise check the wrong permission.
        for p in products() {
            for a in p.actions {
                if let Some(perm) = a.permission() {
                    assert_eq!(perm, format!("{}:{}", p.service, a.name), "{}", a.name);
                }
            }
        }
    }
}
