//! `UserPrincipalName`, IMS's name for a RAM user: `<user name>@<domain>`, where the domain is
//! the account's default domain `<account alias or account id>.onaliyun.com`.
//!
//! Resource rules run before authorization and cannot read the store, so they only split the
//! name ([`split`]); handlers then check the domain ([`user_name`] and friends), and a UPN of
//! another domain names no user of this account.

use rampart_model::{AccountId, Field};
use rampart_wire::ApiError;

use crate::call::{check_field, Call};
use crate::errors::store_error;
use crate::ram::common::{caller_or_root, owner_resource};

/// The parameter naming a user.
pub(crate) const PARAM: &str = "UserPrincipalName";
/// What every default domain ends with.
pub(crate) const DOMAIN_SUFFIX: &str = ".onaliyun.com";
const MAX_LEN: usize = 128;

fn invalid(kind: &str, message: String) -> ApiError {
    ApiError::new(format!("InvalidParameter.{PARAM}.{kind}"), message, 400)
}

/// Splits `name@domain`, the name checked against RAM's user-name rule
/// (`InvalidParameter.UserPrincipalName.<Kind>`).
pub(crate) fn split(upn: &str) -> Result<(&str, &str), ApiError> {
    if upn.chars().count() > MAX_LEN {
        return Err(invalid(
            "Length",
            format!("The parameter - \"{PARAM}\" is beyond the length limit."),
        ));
    }
    let (name, domain) = upn
        .rsplit_once('@')
        .filter(|(name, domain)| !name.is_empty() && !domain.is_empty())
        .ok_or_else(|| {
            invalid(
                "Format",
                format!("The parameter - \"{PARAM}\" must be <user name>@<domain>."),
            )
        })?;
    check_field(Field::UserName, PARAM, name)?;
    Ok((name, domain))
}

/// `<alias or account id>.onaliyun.com`.
pub(crate) fn domain_of(account: &AccountId, alias: Option<&str>) -> String {
    format!("{}{DOMAIN_SUFFIX}", alias.unwrap_or(account.as_str()))
}

/// The caller's account's default domain.
pub(crate) async fn default_domain(call: &Call) -> Result<String, ApiError> {
    let account = call.account()?;
    let alias = call
        .store
        .get_account_alias(account)
        .await
        .map_err(store_error)?;
    Ok(domain_of(account, alias.as_deref()))
}

/// The user name `upn` names in the caller's account: its domain must be the account's
/// (`InvalidParameter.UserPrincipalName.Domain` otherwise).
pub(crate) async fn user_name(call: &Call, upn: &str) -> Result<String, ApiError> {
    let (name, domain) = split(upn)?;
    let expected = default_domain(call).await?;
    if !domain.eq_ignore_ascii_case(&expected) {
        return Err(invalid(
            "Domain",
            format!(
                "The domain of the parameter - \"{PARAM}\" is not a domain of this account: \
                 users are named <user name>@{expected}."
            ),
        ));
    }
    Ok(name.to_owned())
}

/// The user the required `UserPrincipalName` names.
pub(crate) async fn required_user(call: &Call) -> Result<String, ApiError> {
    user_name(call, call.required(PARAM)?).await
}

fn named(call: &Call) -> Option<&str> {
    call.param(PARAM).filter(|upn| !upn.is_empty())
}

/// The user an optional `UserPrincipalName` names or, when empty, the caller (`None`: the
/// root identity).
pub(crate) async fn target(call: &Call) -> Result<Option<String>, ApiError> {
    match named(call) {
        Some(upn) => user_name(call, upn).await.map(Some),
        None => caller_or_root(call, PARAM),
    }
}

/// The UPN of the user `name` of the caller's account.
pub(crate) fn of(name: &str, domain: &str) -> String {
    format!("{name}@{domain}")
}

// Resource rules: RAM ARNs of the user named (the domain is checked by the handler).

pub(crate) fn user_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    let (name, _) = split(call.required(PARAM)?)?;
    Ok(vec![call.arn("user", name)?])
}

/// The user named or, when `UserPrincipalName` is empty, the caller.
pub(crate) fn user_or_self_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    let owner = match named(call) {
        Some(upn) => Some(split(upn)?.0.to_owned()),
        None => caller_or_root(call, PARAM)?,
    };
    owner_resource(call, owner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_checks_the_name() {
        assert_eq!(
            split("alice@acme.onaliyun.com").unwrap(),
            ("alice", "acme.onaliyun.com")
        );
        for (bad, code) in [
            ("alice", "InvalidParameter.UserPrincipalName.Format"),
            (
                "@acme.onaliyun.com",
                "InvalidParameter.UserPrincipalName.Format",
            ),
            ("alice@", "InvalidParameter.UserPrincipalName.Format"),
            (
                "al ice@acme.onaliyun.com",
                "InvalidParameter.UserPrincipalName.InvalidChars",
            ),
        ] {
            assert_eq!(split(bad).unwrap_err().code(), code, "{bad}");
        }
        let long = format!("{}@acme.onaliyun.com", "a".repeat(120));
        assert_eq!(
            split(&long).unwrap_err().code(),
            "InvalidParameter.UserPrincipalName.Length"
        );
    }
}
