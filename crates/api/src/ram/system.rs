//! The system policies Rampart ships: Alibaba's documents from the policy crate's corpus
//! (`crates/policy/corpus/system`, sources in its SOURCES.md), stored at every start.

use rampart_model::Timestamp;
use rampart_store::{Store, StoreError};
use serde::Deserialize;

const INDEX: &str = include_str!("../../../policy/corpus/system/index.json");

const DOCUMENTS: &[(&str, &str)] = &[
    (
        "AdministratorAccess",
        include_str!("../../../policy/corpus/system/AdministratorAccess.json"),
    ),
    (
        "ReadOnlyAccess",
        include_str!("../../../policy/corpus/system/ReadOnlyAccess.json"),
    ),
    (
        "PowerUserAccess",
        include_str!("../../../policy/corpus/system/PowerUserAccess.json"),
    ),
    (
        "AliyunRAMFullAccess",
        include_str!("../../../policy/corpus/system/AliyunRAMFullAccess.json"),
    ),
    (
        "AliyunRAMReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunRAMReadOnlyAccess.json"),
    ),
    (
        "AliyunSTSAssumeRoleAccess",
        include_str!("../../../policy/corpus/system/AliyunSTSAssumeRoleAccess.json"),
    ),
    (
        "AliyunECSFullAccess",
        include_str!("../../../policy/corpus/system/AliyunECSFullAccess.json"),
    ),
    (
        "AliyunECSReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunECSReadOnlyAccess.json"),
    ),
    (
        "AliyunOSSFullAccess",
        include_str!("../../../policy/corpus/system/AliyunOSSFullAccess.json"),
    ),
    (
        "AliyunOSSReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunOSSReadOnlyAccess.json"),
    ),
    (
        "AliyunLogFullAccess",
        include_str!("../../../policy/corpus/system/AliyunLogFullAccess.json"),
    ),
    (
        "AliyunLogReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunLogReadOnlyAccess.json"),
    ),
    (
        "AliyunResourceDirectoryFullAccess",
        include_str!("../../../policy/corpus/system/AliyunResourceDirectoryFullAccess.json"),
    ),
    (
        "AliyunResourceDirectoryReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunResourceDirectoryReadOnlyAccess.json"),
    ),
    (
        "AliyunCloudSSOFullAccess",
        include_str!("../../../policy/corpus/system/AliyunCloudSSOFullAccess.json"),
    ),
    (
        "AliyunCloudSSOReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunCloudSSOReadOnlyAccess.json"),
    ),
    (
        "AliyunActionTrailFullAccess",
        include_str!("../../../policy/corpus/system/AliyunActionTrailFullAccess.json"),
    ),
    (
        "AliyunActionTrailReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunActionTrailReadOnlyAccess.json"),
    ),
    (
        "AliyunFCFullAccess",
        include_str!("../../../policy/corpus/system/AliyunFCFullAccess.json"),
    ),
    (
        "AliyunApiGatewayFullAccess",
        include_str!("../../../policy/corpus/system/AliyunApiGatewayFullAccess.json"),
    ),
    (
        "AliyunConfigReadOnlyAccess",
        include_str!("../../../policy/corpus/system/AliyunConfigReadOnlyAccess.json"),
    ),
    (
        "AliyunCloudControlAPIFullAccess",
        include_str!("../../../policy/corpus/system/AliyunCloudControlAPIFullAccess.json"),
    ),
];

#[derive(Deserialize)]
struct Entry {
    name: String,
    description: String,
}

/// `(name, description, document)` of every system policy.
pub fn system_policies() -> Vec<(&'static str, String, &'static str)> {
    let index: Vec<Entry> = serde_json::from_str(INDEX).unwrap_or_default();
    DOCUMENTS
        .iter()
        .map(|(name, document)| {
            let description = index
                .iter()
                .find(|e| e.name == *name)
                .map(|e| e.description.clone())
                .unwrap_or_default();
            (*name, description, *document)
        })
        .collect()
}

/// Stores the shipped system policies (idempotent; run at every start).
pub async fn install_system_policies(store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
    for (name, description, document) in system_policies() {
        store
            .upsert_system_policy(name, &description, document, now)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rampart_policy::{Policy, PolicyKind};

    #[test]
    fn every_indexed_policy_ships_parses_and_is_described() {
        let index: Vec<Entry> = serde_json::from_str(INDEX).unwrap();
        let shipped = system_policies();
        assert_eq!(shipped.len(), index.len());
        for (name, description, document) in shipped {
            assert!(!description.is_empty(), "{name}");
            Policy::parse(document, PolicyKind::Identity).unwrap();
        }
        for required in [
            "AdministratorAccess",
            "ReadOnlyAccess",
            "AliyunRAMFullAccess",
            "AliyunRAMReadOnlyAccess",
            "AliyunSTSAssumeRoleAccess",
        ] {
            assert!(index.iter().any(|e| e.name == required), "{required}");
        }
    }
}
