//! What a handler receives: the authenticated caller, the parameters, the time of the
//! request and the server's shared state, with typed parameter accessors that answer
//! Alibaba's codes.

use std::sync::Arc;

use rampart_model::{AccountId, Field, NameErrorKind, Timestamp, UserId};
use rampart_wire::{ApiError, ClassifiedRequest};

use crate::product::{ActionSpec, Product};
use crate::state::State;
use crate::sts::token::SessionClaims;

/// Who is calling, as authentication established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Unsigned: only [`crate::product::Access::Anonymous`] actions see this.
    Anonymous,
    /// An account's root identity.
    Root { account_id: AccountId },
    /// A RAM user, by a key of its own.
    User {
        account_id: AccountId,
        user_id: UserId,
        user_name: String,
    },
    /// A role session, by STS credentials. `account_id` is the role's account, where the
    /// session acts; the token's claims are as sealed at issue (the role's name is re-read).
    AssumedRole {
        account_id: AccountId,
        session: Arc<SessionClaims>,
    },
    /// The holder of a verified SAML assertion or OIDC token, before it has a session: only
    /// ever named in the refusal of `AssumeRoleWithSAML` / `AssumeRoleWithOIDC`.
    Federated {
        account_id: AccountId,
        provider_arn: String,
    },
}

impl Principal {
    /// The account the call acts in; `None` for anonymous calls.
    pub fn account_id(&self) -> Option<&AccountId> {
        match self {
            Principal::Anonymous => None,
            Principal::Root { account_id }
            | Principal::User { account_id, .. }
            | Principal::AssumedRole { account_id, .. }
            | Principal::Federated { account_id, .. } => Some(account_id),
        }
    }

    /// `AuthPrincipalType` of `AccessDeniedDetail`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Principal::Anonymous => "Anonymous",
            Principal::Root { .. } => "Account",
            Principal::User { .. } => "SubUser",
            Principal::AssumedRole { .. } => "AssumedRoleUser",
            Principal::Federated { .. } => "Federated",
        }
    }

    /// `AuthPrincipalDisplayName`: the user's name, or the account id for root.
    pub fn display_name(&self) -> String {
        match self {
            Principal::Anonymous => String::new(),
            Principal::Root { account_id } => account_id.to_string(),
            Principal::User { user_name, .. } => user_name.clone(),
            Principal::AssumedRole { session, .. } => {
                format!("{}:{}", session.role_name, session.session_name)
            }
            Principal::Federated { provider_arn, .. } => provider_arn.clone(),
        }
    }

    /// The ARN that trust policies and `GetCallerIdentity` speak of.
    pub fn arn(&self) -> String {
        match self {
            Principal::Anonymous => String::new(),
            Principal::Root { account_id } => format!("acs:ram::{account_id}:root"),
            Principal::User {
                account_id,
                user_name,
                ..
            } => format!("acs:ram::{account_id}:user/{user_name}"),
            Principal::AssumedRole {
                account_id,
                session,
            } => format!(
                "acs:ram::{account_id}:assumed-role/{}/{}",
                session.role_name, session.session_name
            ),
            Principal::Federated { provider_arn, .. } => provider_arn.clone(),
        }
    }
}

/// One authenticated, authorized call in progress.
pub struct Call {
    pub state: Arc<State>,
    /// The store handlers use: the server's, bound to this call's audit event so that the
    /// first change it commits carries the event.
    pub store: Arc<dyn rampart_store::Store>,
    pub product: &'static Product,
    pub action: &'static ActionSpec,
    pub request: ClassifiedRequest,
    pub principal: Principal,
    pub request_id: String,
    /// Read once from the injected clock when the request arrived.
    pub now: Timestamp,
    /// The client's address, when the HTTP layer knows it.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Whether the caller proved MFA for this call: a console session that passed it (role
    /// sessions carry their own flag in their claims).
    pub mfa: bool,
}

impl Call {
    /// The caller's account. Every action but the anonymous ones has one.
    pub fn account(&self) -> Result<&AccountId, ApiError> {
        self.principal
            .account_id()
            .ok_or_else(ApiError::internal_error)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.request.param(name)
    }

    /// A required parameter; empty counts as missing, as Alibaba does.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.param(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::missing_parameter(name)),
        }
    }

    /// A required name, checked against its rule: `InvalidParameter.<Param>.<Kind>`.
    pub fn name(&self, field: Field) -> Result<&str, ApiError> {
        self.name_as(field, field.param())
    }

    /// [`Call::name`] under another parameter name (`NewUserName` follows `UserName`'s rule).
    pub fn name_as(&self, field: Field, param: &'static str) -> Result<&str, ApiError> {
        let value = self.required(param)?;
        check_field(field, param, value)?;
        Ok(value)
    }

    /// An optional value checked against its rule.
    pub fn optional_name(
        &self,
        field: Field,
        param: &'static str,
    ) -> Result<Option<&str>, ApiError> {
        match self.param(param) {
            None => Ok(None),
            Some(v) => {
                check_field(field, param, v)?;
                Ok(Some(v))
            }
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.request.params().bool(name).map_err(ApiError::from)
    }

    /// An integer parameter in `min..=max`, else `InvalidParameter.<Name>`... as Alibaba
    /// words it for ranges.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.param(name) else {
            return Ok(None);
        };
        match text.trim().parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(ApiError::new(
                format!("InvalidParameter.{name}"),
                format!("The parameter - \"{name}\" is not valid: it must be an integer from {min} to {max}."),
                400,
            )),
        }
    }

    /// `acs:ram::<account>:<kind>/<name>`: the ARN of an entity of the caller's account.
    pub fn arn(&self, kind: &str, name: &str) -> Result<String, ApiError> {
        Ok(format!(
            "acs:{}::{}:{kind}/{name}",
            self.product.service,
            self.account()?
        ))
    }
}

/// RAM's wording for a value that breaks its rule.
pub fn check_field(field: Field, param: &'static str, value: &str) -> Result<(), ApiError> {
    field.check_as(param, value).map_err(|e| {
        let message = match e.kind() {
            NameErrorKind::InvalidChars => {
                format!("The parameter - \"{param}\" contains invalid chars.")
            }
            NameErrorKind::Length => {
                format!("The parameter - \"{param}\" is beyond the length limit.")
            }
            NameErrorKind::Format => {
                format!("The format of the parameter - \"{param}\" is incorrect.")
            }
        };
        ApiError::new(
            format!("InvalidParameter.{param}.{}", e.kind().as_str()),
            message,
            400,
        )
    })
}
