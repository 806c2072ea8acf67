//! Reading a caller (the principal a trust policy is asked about) from its written form.

use rampart_policy::Caller;

const FORMS: &str = "acs:ram::<account-id>:root, acs:ram::<account-id>:user/<name>, \
acs:ram::<account-id>:assumed-role/<role>/<session>, service:<service> or federated:<provider-arn>";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    #[error("caller \"{0}\" is not understood; write {FORMS}")]
    Unrecognised(String),
    #[error("caller \"{caller}\": the account id \"{account}\" must be digits")]
    Account { caller: String, account: String },
    #[error(
        "caller \"{caller}\": a service acts for the account that owns the role, but resource \
         \"{resource}\" is not a role ARN with an account id (acs:ram::<account-id>:role/<name>)"
    )]
    ServiceAccount { caller: String, resource: String },
    #[error(
        "caller \"{0}\": the provider must be acs:ram::<account-id>:saml-provider/<name> or \
         acs:ram::<account-id>:oidc-provider/<name>"
    )]
    Provider(String),
}

/// Parses `text`. A service has no account of its own in its name: it acts for the account that
/// owns the role being assumed, so that account is read from `role_arn`.
pub fn parse_caller(text: &str, role_arn: Option<&str>) -> Result<Caller, CallerError> {
    let unrecognised = || CallerError::Unrecognised(text.to_owned());
    if let Some(service) = text.strip_prefix("service:") {
        if service.is_empty() || service.contains(':') {
            return Err(unrecognised());
        }
        let account = role_arn
            .and_then(ram_arn)
            .map(|(account, _)| account)
            .filter(|account| is_account_id(account))
            .ok_or_else(|| CallerError::ServiceAccount {
                caller: text.to_owned(),
                resource: role_arn.unwrap_or_default().to_owned(),
            })?;
        return Ok(Caller::service(account, service));
    }
    if let Some(provider) = text.strip_prefix("federated:") {
        let provider_error = || CallerError::Provider(text.to_owned());
        let (account, relative) = ram_arn(provider).ok_or_else(provider_error)?;
        let named = |prefix: &str| relative.strip_prefix(prefix).is_some_and(|n| !n.is_empty());
        if !named("saml-provider/") && !named("oidc-provider/") {
            return Err(provider_error());
        }
        check_account(text, account)?;
        return Ok(Caller::federated(account, provider));
    }
    let (account, relative) = ram_arn(text).ok_or_else(unrecognised)?;
    check_account(text, account)?;
    if relative == "root" {
        return Ok(Caller::account(account));
    }
    if let Some(name) = relative.strip_prefix("user/") {
        if !name.is_empty() && !name.contains('/') {
            return Ok(Caller::user(account, name));
        }
    }
    if let Some(rest) = relative.strip_prefix("assumed-role/") {
        if let Some((role, session)) = rest.split_once('/') {
            if !role.is_empty() && !session.is_empty() && !session.contains('/') {
                return Ok(Caller::assumed_role(account, role, session));
            }
        }
    }
    Err(unrecognised())
}

/// Splits `acs:ram:<region>:<account>:<relative>` into account and relative id.
fn ram_arn(text: &str) -> Option<(&str, &str)> {
    let mut parts = text.splitn(5, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("acs"), Some(service), Some(_region), Some(account), Some(relative))
            if service.eq_ignore_ascii_case("ram") =>
        {
            Some((account, relative))
        }
        _ => None,
    }
}

fn is_account_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_account(caller: &str, account: &str) -> Result<(), CallerError> {
    if is_account_id(account) {
        Ok(())
    } else {
        Err(CallerError::Account {
            caller: caller.to_owned(),
            account: account.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rampart_policy::CallerKind;

    #[test]
    fn reads_every_documented_form() {
        let root = parse_caller("acs:ram::123:root", None).unwrap();
        assert_eq!(root.kind(), &CallerKind::Account);
        assert_eq!(root.account_id(), "123");

        let user = parse_caller("acs:ram::123:user/alice", None).unwrap();
        assert_eq!(user, Caller::user("123", "alice"));

        let session = parse_caller("acs:ram::123:assumed-role/ci/run-7", None).unwrap();
        assert_eq!(session, Caller::assumed_role("123", "ci", "run-7"));

        let service = parse_caller(
            "service:ecs.aliyuncs.com",
            Some("acs:ram::456:role/ecs-role"),
        )
        .unwrap();
        assert_eq!(service, Caller::service("456", "ecs.aliyuncs.com"));

        let provider = "acs:ram::123:oidc-provider/github";
        let federated = parse_caller(&format!("federated:{provider}"), None).unwrap();
        assert_eq!(federated, Caller::federated("123", provider));
    }

    #[test]
    fn rejects_malformed_callers_with_a_reason() {
        for bad in [
            "alice",
            "acs:ecs::123:user/alice",
            "acs:ram::123:user/",
            "acs:ram::123:group/dev",
            "acs:ram::123:assumed-role/ci",
            "service:",
        ] {
            assert_eq!(
                parse_caller(bad, Some("acs:ram::1:role/r")),
                Err(CallerError::Unrecognised(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_caller("acs:ram::12a:root", None),
            Err(CallerError::Account { .. })
        ));
        assert!(matches!(
            parse_caller("service:ecs.aliyuncs.com", Some("*")),
            Err(CallerError::ServiceAccount { .. })
        ));
        assert!(matches!(
            parse_caller("federated:acs:ram::123:user/x", None),
            Err(CallerError::Provider(_))
        ));
    }
}
