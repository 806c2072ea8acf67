//! Identity providers an account trusts for federated sign-in to roles: OIDC issuers
//! (`AssumeRoleWithOIDC`) and SAML 2.0 IdPs (`AssumeRoleWithSAML`), managed through IMS.
//!
//! Plain data and the limits Alibaba documents; names and values are checked with
//! [`crate::Field`], storage and its invariants live in `rampart-store`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::id::AccountId;
use crate::time::Timestamp;

/// Fingerprints one OIDC provider may hold (Alibaba: 1–5).
pub const MAX_FINGERPRINTS: usize = 5;
/// Client ids one OIDC provider may hold (Alibaba: 50).
pub const MAX_CLIENT_IDS: usize = 50;
/// `IssuanceLimitTime`, in hours.
pub const ISSUANCE_LIMIT_HOURS: RangeInclusive<u32> = 1..=168;
/// `IssuanceLimitTime` when the request does not set it.
pub const DEFAULT_ISSUANCE_LIMIT_HOURS: u32 = 12;

/// An OpenID Connect identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    pub account_id: AccountId,
    pub name: String,
    /// Compared byte for byte with a token's `iss`.
    pub issuer_url: String,
    /// SHA-1 thumbprints of the issuer's HTTPS CA certificates, lower-case hex, in the order
    /// they were added; never empty.
    pub fingerprints: Vec<String>,
    /// The accepted `aud` values, case-sensitive, in the order they were added.
    pub client_ids: Vec<String>,
    /// Hours: a token issued (`iat`) longer ago than this is refused.
    pub issuance_limit_time: u32,
    pub description: String,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

impl OidcProvider {
    /// `acs:ram::<account>:oidc-provider/<name>`.
    pub fn arn(&self) -> String {
        ProviderKind::Oidc.arn(&self.account_id, &self.name)
    }
}

/// The signature algorithm Alibaba (the SP) uses for its SAML authentication requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthnSignAlgo {
    /// `rsa-sha1`: Alibaba's default.
    #[default]
    RsaSha1,
    RsaSha256,
}

impl AuthnSignAlgo {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthnSignAlgo::RsaSha1 => "rsa-sha1",
            AuthnSignAlgo::RsaSha256 => "rsa-sha256",
        }
    }
}

impl fmt::Display for AuthnSignAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AuthnSignAlgo must be \"rsa-sha1\" or \"rsa-sha256\"")]
pub struct AuthnSignAlgoError;

impl FromStr for AuthnSignAlgo {
    type Err = AuthnSignAlgoError;
    /// Exact spelling, as the SDK documents it.
    fn from_str(s: &str) -> Result<Self, AuthnSignAlgoError> {
        match s {
            "rsa-sha1" => Ok(AuthnSignAlgo::RsaSha1),
            "rsa-sha256" => Ok(AuthnSignAlgo::RsaSha256),
            _ => Err(AuthnSignAlgoError),
        }
    }
}

/// A SAML 2.0 identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlProvider {
    pub account_id: AccountId,
    pub name: String,
    pub description: String,
    pub authn_sign_algo: AuthnSignAlgo,
    /// The metadata document exactly as uploaded (Base64 of the XML): returned by
    /// `GetSAMLProvider`, and re-parsed for the signing certificates when verifying.
    pub encoded_metadata: String,
    /// The metadata's `EntityDescriptor/@entityID`, read when the document was accepted: an
    /// assertion's `Issuer` must equal it.
    pub metadata_entity_id: String,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

impl SamlProvider {
    /// `acs:ram::<account>:saml-provider/<name>`.
    pub fn arn(&self) -> String {
        ProviderKind::Saml.arn(&self.account_id, &self.name)
    }
}

/// Which kind of identity provider an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Oidc,
    Saml,
}

impl ProviderKind {
    /// The resource type in ARNs: `oidc-provider`, `saml-provider`.
    pub fn resource_type(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "oidc-provider",
            ProviderKind::Saml => "saml-provider",
        }
    }

    pub fn arn(self, account: &AccountId, name: &str) -> String {
        format!("acs:ram::{account}:{}/{name}", self.resource_type())
    }
}

/// A provider ARN as STS receives it (`OIDCProviderArn`, `SAMLProviderArn`), taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderArn {
    pub account_id: AccountId,
    pub kind: ProviderKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an identity provider ARN (acs:ram::<account>:oidc-provider/<name> or saml-provider/<name>)")]
pub struct ProviderArnError;

impl std::fmt::Display for ProviderArn {
    /// The canonical form, without a region.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind.arn(&self.account_id, &self.name))
    }
}

impl ProviderArn {
    /// `acs:ram:<region, usually empty>:<account>:<oidc|saml>-provider/<name>`. The name is
    /// not checked against its rule: an unknown name simply finds no provider.
    pub fn parse(arn: &str) -> Result<Self, ProviderArnError> {
        let mut parts = arn.splitn(5, ':');
        let (Some("acs"), Some("ram"), Some(_region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ProviderArnError);
        };
        let account_id = AccountId::parse(account).map_err(|_| ProviderArnError)?;
        let (kind, name) = if let Some(name) = resource.strip_prefix("oidc-provider/") {
            (ProviderKind::Oidc, name)
        } else if let Some(name) = resource.strip_prefix("saml-provider/") {
            (ProviderKind::Saml, name)
        } else {
            return Err(ProviderArnError);
        };
        if name.is_empty() {
            return Err(ProviderArnError);
        }
        Ok(ProviderArn {
            account_id,
            kind,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse("1234567890123456").unwrap()
    }

    #[test]
    fn arns_round_trip() {
        let p = OidcProvider {
            account_id: account(),
            name: "github".into(),
            issuer_url: "https://token.actions.githubusercontent.com".into(),
            fingerprints: vec!["902ef2deeb3c5b13ea4c3d5193629309e231ae55".into()],
            client_ids: vec![],
            issuance_limit_time: DEFAULT_ISSUANCE_LIMIT_HOURS,
            description: String::new(),
            create_date: Timestamp::UNIX_EPOCH,
            update_date: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(p.arn(), "acs:ram::1234567890123456:oidc-provider/github");
        let parsed = ProviderArn::parse(&p.arn()).unwrap();
        assert_eq!(parsed.kind, ProviderKind::Oidc);
        assert_eq!(parsed.account_id, account());
        assert_eq!(parsed.name, "github");
        let saml = ProviderArn::parse("acs:ram:*:1234567890123456:saml-provider/okta").unwrap();
        assert_eq!(
            (saml.kind, saml.name.as_str()),
            (ProviderKind::Saml, "okta")
        );
        for bad in [
            "",
            "acs:ram::1234567890123456:role/x",
            "acs:ram::1234567890123456:oidc-provider/",
            "acs:ecs::1234567890123456:oidc-provider/x",
            "acs:ram::notanaccount:oidc-provider/x",
            "acs:ram::1234567890123456",
        ] {
            assert_eq!(ProviderArn::parse(bad), Err(ProviderArnError), "{bad}");
        }
    }

    #[test]
    fn sign_algorithms_are_spelled_exactly() {
        assert_eq!("rsa-sha1".parse(), Ok(AuthnSignAlgo::RsaSha1));
        assert_eq!("rsa-sha256".parse(), Ok(AuthnSignAlgo::RsaSha256));
        assert!("RSA-SHA256".parse::<AuthnSignAlgo>().is_err());
        assert_eq!(AuthnSignAlgo::default().as_str(), "rsa-sha1");
    }
}
