//! Storage errors in RAM's words. The one place a [`StoreError`] becomes a wire code.

use rampart_store::{Entity, Quota, StoreError};
use rampart_wire::ApiError;

/// The entity's name inside RAM codes where it differs from [`Entity::as_str`]: an
/// AccessKey is always a user's in RAM's codes.
fn code_name(entity: Entity) -> &'static str {
    match entity {
        Entity::AccessKey => "User.AccessKey",
        other => other.as_str(),
    }
}

fn quota_code(quota: Quota) -> String {
    match quota {
        Quota::AccessKeysPerUser => "LimitExceeded.User.AccessKey".into(),
        // RAM documents no code for root keys (the console caps them); named like the rest.
        Quota::AccessKeysPerRoot => "LimitExceeded.Account.AccessKey".into(),
        Quota::GroupsPerAccount => "LimitExceeded.Group".into(),
        Quota::GroupsPerUser => "LimitExceeded.User.Group".into(),
        Quota::RolesPerAccount => "LimitExceeded.Role".into(),
        Quota::CustomPoliciesPerAccount => "LimitExceeded.Policy".into(),
        Quota::VersionsPerPolicy => "LimitExceeded.Policy.Version".into(),
        Quota::CustomPoliciesPerPrincipal(kind) | Quota::SystemPoliciesPerPrincipal(kind) => {
            format!("LimitExceeded.{}.Policy", kind.as_str())
        }
        Quota::TagsPerResource => "LimitExceeded.Tag".into(),
        Quota::MfaDevicesPerAccount => "LimitExceeded.VirtualMFADevice".into(),
        Quota::OidcProvidersPerAccount => "LimitExceeded.OIDCProvider".into(),
        Quota::SamlProvidersPerAccount => "LimitExceeded.SAMLProvider".into(),
        Quota::ClientIdsPerOidcProvider => "LimitExceeded.OIDCProvider.ClientId".into(),
        Quota::FingerprintsPerOidcProvider => "LimitExceeded.OIDCProvider.Fingerprint".into(),
    }
}

/// `DeleteConflict.<entity>.<blocker>`, where a blocker named under its entity
/// (`Policy.Version`) is not repeated: `DeleteConflict.Policy.Version`.
fn conflict_code(entity: Entity, blocker: Entity) -> String {
    let (e, b) = (entity.as_str(), blocker.as_str());
    match b.strip_prefix(e).and_then(|rest| rest.strip_prefix('.')) {
        Some(rest) => format!("DeleteConflict.{e}.{rest}"),
        None => format!("DeleteConflict.{e}.{b}"),
    }
}

/// Maps a storage failure to the error the client sees. Internal details go to the log by
/// the caller, never to the client.
pub fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(entity) => ApiError::new(
            format!("EntityNotExist.{}", code_name(entity)),
            format!("The {entity} does not exist."),
            404,
        ),
        StoreError::AlreadyExists(entity) => ApiError::new(
            format!("EntityAlreadyExists.{}", code_name(entity)),
            format!("The {entity} does already EXIST."),
            409,
        ),
        // Not a conflict of deleting an entity: the last fingerprint keeps its provider usable.
        StoreError::DeleteConflict {
            entity: Entity::OidcFingerprint,
            blocker: Entity::OidcProvider,
        } => ApiError::new(
            "DeleteConflict.OIDCProvider.LastFingerprint",
            "The OIDC provider must keep at least one fingerprint: add the new fingerprint \
             before removing the last one.",
            409,
        ),
        StoreError::DeleteConflict { entity, blocker } => ApiError::new(
            conflict_code(entity, blocker),
            format!("The {entity} can not be deleted while it has a {blocker}."),
            409,
        ),
        StoreError::LimitExceeded { quota, limit } => ApiError::new(
            quota_code(quota),
            format!("The limit of {quota} ({limit}) is exceeded."),
            409,
        ),
        StoreError::Unavailable(_) => ApiError::service_unavailable(),
        StoreError::InvalidConfig(_) | StoreError::Internal(_) => ApiError::internal_error(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e = store_error(StoreError::NotFound(Entity::User));
        assert_eq!((e.code(), e.status()), ("EntityNotExist.User", 404));
        assert_eq!(e.message(), "The user does not exist.");
        let e = store_error(StoreError::NotFound(Entity::AccessKey));
        assert_eq!(e.code(), "EntityNotExist.User.AccessKey");
        let e = store_error(StoreError::AlreadyExists(Entity::User));
        assert_eq!((e.code(), e.status()), ("EntityAlreadyExists.User", 409));
        let e = store_error(StoreError::DeleteConflict {
            entity: Entity::User,
            blocker: Entity::AccessKey,
        });
        assert_eq!(e.code(), "DeleteConflict.User.AccessKey");
        let e = store_error(StoreError::DeleteConflict {
            entity: Entity::Policy,
            blocker: Entity::PolicyDefaultVersion,
        });
        assert_eq!(e.code(), "DeleteConflict.Policy.Version.Default");
        let e = store_error(StoreError::DeleteConflict {
            entity: Entity::Policy,
            blocker: Entity::PolicyVersion,
        });
        assert_eq!(e.code(), "DeleteConflict.Policy.Version");
        let e = store_error(StoreError::LimitExceeded {
            quota: Quota::CustomPoliciesPerPrincipal(rampart_store::PrincipalKind::Role),
            limit: 10,
        });
        assert_eq!((e.code(), e.status()), ("LimitExceeded.Role.Policy", 409));
        let e = store_error(StoreError::NotFound(Entity::PolicyVersion));
        assert_eq!(e.code(), "EntityNotExist.Policy.Version");
        let e = store_error(StoreError::AlreadyExists(Entity::OidcIssuerUrl));
        assert_eq!(
            (e.code(), e.status()),
            ("EntityAlreadyExists.OIDCProvider.IssuerUrl", 409)
        );
        let e = store_error(StoreError::NotFound(Entity::SamlProvider));
        assert_eq!(e.code(), "EntityNotExist.SAMLProvider");
        let e = store_error(StoreError::DeleteConflict {
            entity: Entity::OidcFingerprint,
            blocker: Entity::OidcProvider,
        });
        assert_eq!(
            (e.code(), e.status()),
            ("DeleteConflict.OIDCProvider.LastFingerprint", 409)
        );
        let e = store_error(StoreError::LimitExceeded {
            quota: Quota::FingerprintsPerOidcProvider,
            limit: 5,
        });
        assert_eq!(e.code(), "LimitExceeded.OIDCProvider.Fingerprint");
        let e = store_error(StoreError::Unavailable("x".into()));
        assert_eq!(e.status(), 503);
        let e = store_error(StoreError::Internal("select * from secret".into()));
        assert_eq!(e.status(), 500);
        assert!(!e.message().contains("secret"));
    }
}
