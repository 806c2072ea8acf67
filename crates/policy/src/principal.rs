//! Who is asking: the facts about a caller that trust policies match their `Principal` against.

/// The identity making a request, as a trust policy's `Principal` sees it. The identifiers each
/// kind answers to are computed once here, so matching allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    kind: CallerKind,
    account_id: Box<str>,
    arn: Box<str>,
    ram_ids: Vec<Box<str>>,
    service_ids: Vec<Box<str>>,
    federated_ids: Vec<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// An account's root identity.
    Account,
    User {
        name: Box<str>,
    },
    AssumedRole {
        role: Box<str>,
        session: Box<str>,
    },
    /// A cloud service acting for an account (`ecs.aliyuncs.com`).
    Service {
        service: Box<str>,
    },
    /// A holder of a SAML assertion or OIDC token from an identity provider.
    Federated {
        provider_arn: Box<str>,
    },
}

fn root_ids(account: &str) -> Vec<Box<str>> {
    // `"RAM": ["acs:ram::<uid>:root"]` trusts every identity of the account; a bare account id
    // is accepted as a synonym.
    vec![format!("acs:ram::{account}:root").into(), account.into()]
}

impl Caller {
    pub fn account(account_id: &str) -> Caller {
        Caller {
            kind: CallerKind::Account,
            arn: format!("acs:ram::{account_id}:root").into(),
            account_id: account_id.into(),
            ram_ids: root_ids(account_id),
            service_ids: Vec::new(),
            federated_ids: Vec::new(),
        }
    }

    pub fn user(account_id: &str, name: &str) -> Caller {
        let arn: Box<str> = format!("acs:ram::{account_id}:user/{name}").into();
        let mut ram_ids = root_ids(account_id);
        ram_ids.push(arn.clone());
        Caller {
            kind: CallerKind::User { name: name.into() },
            arn,
            account_id: account_id.into(),
            ram_ids,
            service_ids: Vec::new(),
            federated_ids: Vec::new(),
        }
    }

    /// A role session. A trust policy names it by its role (`role/<name>`), which is how role
    /// chaining is allowed, or by the session ARN.
    pub fn assumed_role(account_id: &str, role: &str, session: &str) -> Caller {
        let arn: Box<str> = format!("acs:ram::{account_id}:assumed-role/{role}/{session}").into();
        let mut ram_ids = root_ids(account_id);
        ram_ids.push(format!("acs:ram::{account_id}:role/{role}").into());
        ram_ids.push(arn.clone());
        Caller {
            kind: CallerKind::AssumedRole {
                role: role.into(),
                session: session.into(),
            },
            arn,
            account_id: account_id.into(),
            ram_ids,
            service_ids: Vec::new(),
            federated_ids: Vec::new(),
        }
    }

    /// A cloud service acting for `account_id`. It answers to `ecs.aliyuncs.com` and to the
    /// account-qualified `<uid>@ecs.aliyuncs.com`.
    pub fn service(account_id: &str, service: &str) -> Caller {
        let lower = service.to_lowercase();
        Caller {
            kind: CallerKind::Service {
                service: service.into(),
            },
            arn: service.into(),
            account_id: account_id.into(),
            ram_ids: Vec::new(),
            service_ids: vec![format!("{account_id}@{lower}").into(), lower.into()],
            federated_ids: Vec::new(),
        }
    }

    /// A federated identity from the provider `acs:ram::<uid>:saml-provider/<name>` or
    /// `…:oidc-provider/<name>`.
    pub fn federated(account_id: &str, provider_arn: &str) -> Caller {
        Caller {
            kind: CallerKind::Federated {
                provider_arn: provider_arn.into(),
            },
            arn: provider_arn.into(),
            account_id: account_id.into(),
            ram_ids: Vec::new(),
            service_ids: Vec::new(),
            federated_ids: vec![provider_arn.into()],
        }
    }

    pub fn kind(&self) -> &CallerKind {
        &self.kind
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The caller's ARN (`acs:ram::<uid>:user/alice`, `…:assumed-role/<role>/<session>`), the
    /// service name, or the provider ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    pub(crate) fn ram_ids(&self) -> &[Box<str>] {
        &self.ram_ids
    }

    pub(crate) fn service_ids(&self) -> &[Box<str>] {
        &self.service_ids
    }

    pub(crate) fn federated_ids(&self) -> &[Box<str>] {
        &self.federated_ids
    }
}
