//! What can go wrong in storage, in the terms the API layer maps to RAM error codes.

use std::fmt;

/// A kind of stored thing, as named in RAM's error codes (`EntityNotExist.User`,
/// `DeleteConflict.User.AccessKey`, …).
///
/// Deliberately exhaustive (not `#[non_exhaustive]`): when a variant is added, every
/// `match` that maps these to wire codes stops compiling until it handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Account,
    User,
    AccessKey,
    Group,
    Role,
    Policy,
    /// `Policy.Version`.
    PolicyVersion,
    /// The default version, which cannot be deleted: `DeleteConflict.Policy.Version.Default`.
    PolicyDefaultVersion,
    /// A user's membership of a group: `EntityAlreadyExists.User.Group`.
    UserGroup,
    /// Attachments: `EntityAlreadyExists.User.Policy`, `EntityNotExist.Role.Policy`, …
    UserPolicy,
    GroupPolicy,
    RolePolicy,
    /// `User.LoginProfile`.
    LoginProfile,
    /// `VirtualMFADevice`.
    VirtualMfaDevice,
    /// A user's bound device: `EntityNotExist.User.MFADevice`, `DeleteConflict.User.MFADevice`.
    UserMfaDevice,
    /// A device's user: `EntityAlreadyExists.VirtualMFADevice.User`.
    VirtualMfaDeviceUser,
    AccountAlias,
    /// IMS: `EntityNotExist.OIDCProvider`.
    OidcProvider,
    /// Another provider of the account has the issuer URL: `EntityAlreadyExists.OIDCProvider.IssuerUrl`.
    OidcIssuerUrl,
    /// One of a provider's client ids: `EntityAlreadyExists.OIDCProvider.ClientId`.
    OidcClientId,
    /// One of a provider's fingerprints: `EntityNotExist.OIDCProvider.Fingerprint`.
    OidcFingerprint,
    /// IMS: `EntityNotExist.SAMLProvider`.
    SamlProvider,
}

impl Entity {
    /// The spelling RAM uses inside error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Account => "Account",
            Entity::User => "User",
            Entity::AccessKey => "AccessKey",
            Entity::Group => "Group",
            Entity::Role => "Role",
            Entity::Policy => "Policy",
            Entity::PolicyVersion => "Policy.Version",
            Entity::PolicyDefaultVersion => "Policy.Version.Default",
            Entity::UserGroup => "User.Group",
            Entity::UserPolicy => "User.Policy",
            Entity::GroupPolicy => "Group.Policy",
            Entity::RolePolicy => "Role.Policy",
            Entity::LoginProfile => "User.LoginProfile",
            Entity::VirtualMfaDevice => "VirtualMFADevice",
            Entity::UserMfaDevice => "User.MFADevice",
            Entity::VirtualMfaDeviceUser => "VirtualMFADevice.User",
            Entity::AccountAlias => "AccountAlias",
            Entity::OidcProvider => "OIDCProvider",
            Entity::OidcIssuerUrl => "OIDCProvider.IssuerUrl",
            Entity::OidcClientId => "OIDCProvider.ClientId",
            Entity::OidcFingerprint => "OIDCProvider.Fingerprint",
            Entity::SamlProvider => "SAMLProvider",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Account => "account",
            Entity::User => "user",
            Entity::AccessKey => "access key",
            Entity::Group => "group",
            Entity::Role => "role",
            Entity::Policy => "policy",
            Entity::PolicyVersion => "policy version",
            Entity::PolicyDefaultVersion => "default policy version",
            Entity::UserGroup => "user's group membership",
            Entity::UserPolicy => "policy attachment of the user",
            Entity::GroupPolicy => "policy attachment of the group",
            Entity::RolePolicy => "policy attachment of the role",
            Entity::LoginProfile => "login profile",
            Entity::VirtualMfaDevice => "virtual MFA device",
            Entity::UserMfaDevice => "user's MFA device",
            Entity::VirtualMfaDeviceUser => "MFA device's user",
            Entity::AccountAlias => "account alias",
            Entity::OidcProvider => "OIDC provider",
            Entity::OidcIssuerUrl => "OIDC provider with this issuer URL",
            Entity::OidcClientId => "client id of the OIDC provider",
            Entity::OidcFingerprint => "fingerprint of the OIDC provider",
            Entity::SamlProvider => "SAML provider",
        })
    }
}

/// A configurable limit on how many of something may exist (see [`crate::Quotas`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// AccessKeys per RAM user (`LimitExceeded.User.AccessKey`).
    AccessKeysPerUser,
    /// AccessKeys of an account's root identity.
    AccessKeysPerRoot,
    /// `LimitExceeded.Group`.
    GroupsPerAccount,
    /// `LimitExceeded.User.Group`.
    GroupsPerUser,
    /// `LimitExceeded.Role`.
    RolesPerAccount,
    /// `LimitExceeded.Policy`.
    CustomPoliciesPerAccount,
    /// `LimitExceeded.Policy.Version`.
    VersionsPerPolicy,
    /// `LimitExceeded.{User,Group,Role}.Policy`: custom policies attached to one principal.
    CustomPoliciesPerPrincipal(PrincipalKind),
    /// The same for system policies.
    SystemPoliciesPerPrincipal(PrincipalKind),
    /// `LimitExceeded.Tag`: tags on one role or policy.
    TagsPerResource,
    /// `LimitExceeded.VirtualMFADevice`.
    MfaDevicesPerAccount,
    /// `LimitExceeded.OIDCProvider`.
    OidcProvidersPerAccount,
    /// `LimitExceeded.SAMLProvider`.
    SamlProvidersPerAccount,
    /// `LimitExceeded.OIDCProvider.ClientId`.
    ClientIdsPerOidcProvider,
    /// `LimitExceeded.OIDCProvider.Fingerprint`.
    FingerprintsPerOidcProvider,
}

/// What a policy can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    Group,
    Role,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "User",
            PrincipalKind::Group => "Group",
            PrincipalKind::Role => "Role",
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quota::AccessKeysPerUser => "access keys per user",
            Quota::AccessKeysPerRoot => "access keys of the root identity",
            Quota::GroupsPerAccount => "groups per account",
            Quota::GroupsPerUser => "groups per user",
            Quota::RolesPerAccount => "roles per account",
            Quota::CustomPoliciesPerAccount => "custom policies per account",
            Quota::VersionsPerPolicy => "versions per policy",
            Quota::CustomPoliciesPerPrincipal(_) => "custom policies attached",
            Quota::SystemPoliciesPerPrincipal(_) => "system policies attached",
            Quota::TagsPerResource => "tags per resource",
            Quota::MfaDevicesPerAccount => "virtual MFA devices per account",
            Quota::OidcProvidersPerAccount => "OIDC providers per account",
            Quota::SamlProvidersPerAccount => "SAML providers per account",
            Quota::ClientIdsPerOidcProvider => "client ids per OIDC provider",
            Quota::FingerprintsPerOidcProvider => "fingerprints per OIDC provider",
        })
    }
}

/// A storage operation failed.
///
/// Messages never contain secrets, sealed or plain; database messages are kept to the
/// server's text, never the statement's parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(Entity),
    #[error("{0} already exists")]
    AlreadyExists(Entity),
    #[error("{entity} cannot be deleted while it has a {blocker}")]
    DeleteConflict { entity: Entity, blocker: Entity },
    #[error("limit of {limit} {quota} reached")]
    LimitExceeded { quota: Quota, limit: u32 },
    /// The database cannot be reached or is overloaded (connection refused or lost, pool
    /// exhausted, lock wait timed out, serialization failure). Worth retrying; the server
    /// answers 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store's configuration (URL, options) is unusable.
    #[error("invalid storage configuration: {0}")]
    InvalidConfig(String),
    /// Anything else: a bug, a corrupt row, a failed migration. The server answers 500.
    #[error("storage failure: {0}")]
    Internal(String),
}
