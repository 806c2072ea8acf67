use async_trait::async_trait;
use rampart_model::{AccountId, Policy, PolicyType, PolicyVersion, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::errors::already_exists;
use super::groups::{group, lock_group};
use super::roles::{lock_role, role};
use super::rows::{self, name_key, time};
use super::users::lock_user;
use super::WriteTx;
use super::{bump_epoch, count, lock_account, SqlStore};
use crate::error::{Entity, PrincipalKind, Quota, StoreError};
use crate::page::{Listing, Page};
use crate::repo_iam::{
    AttachedPolicy, EffectivePolicy, NewPolicy, PolicyEntities, PolicyRef, PolicyRepo,
    PrincipalKey, PrincipalRef,
};

/// The `owner` column: '' for system policies, the account for custom ones.
fn owner(account: &AccountId, policy_type: PolicyType) -> &str {
    match policy_type {
        PolicyType::System => "",
        PolicyType::Custom => account.as_str(),
    }
}

fn version_id(n: i64) -> String {
    format!("v{n}")
}

/// `v3` → 3; anything else names no version.
fn version_number(id: &str) -> Result<i64, StoreError> {
    id.strip_prefix('v')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
        .and_then(|n| n.parse().ok())
        .ok_or(StoreError::NotFound(Entity::PolicyVersion))
}

fn policy_type(text: &str) -> Result<PolicyType, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Internal("stored policy type is not valid".to_owned()))
}

/// Policy columns with the attachment count in account `$1`; expects `policies p`.
const POLICY_COLUMNS: &str = "p.policy_type, p.policy_name, p.description, p.default_version, \
     p.create_date, p.update_date, \
     (SELECT COUNT(*) FROM policy_attachments a WHERE a.account_id = $1 \
      AND a.policy_owner = p.owner AND a.policy_type = p.policy_type \
      AND a.policy_name_key = p.policy_name_key) AS attachment_count";

fn policy(row: &AnyRow) -> Result<Policy, StoreError> {
    let count: i64 = row.try_get("attachment_count")?;
    Ok(Policy {
        policy_name: row.try_get("policy_name")?,
        policy_type: policy_type(row.try_get("policy_type")?)?,
        description: row.try_get("description")?,
        default_version: version_id(row.try_get("default_version")?),
        attachment_count: u32::try_from(count).unwrap_or(u32::MAX),
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

fn version_row(row: &AnyRow, default: i64) -> Result<PolicyVersion, StoreError> {
    let n: i64 = row.try_get("version_number")?;
    Ok(PolicyVersion {
        version_id: version_id(n),
        document: row.try_get("document")?,
        is_default: n == default,
        create_date: time(row.try_get("create_date")?)?,
    })
}

/// Locks a custom policy's row; returns its default version number. System policies are
/// `NotFound` here: no request may change them.
async fn lock_custom(
    tx: &mut WriteTx,
    account: &AccountId,
    policy_name: &str,
) -> Result<i64, StoreError> {
    let default: Option<i64> = sqlx::query_scalar(
        "UPDATE policies SET owner = owner WHERE owner = $1 AND policy_type = 'Custom' \
         AND policy_name_key = $2 RETURNING default_version",
    )
    .bind(account.as_str())
    .bind(name_key(policy_name))
    .fetch_optional(&mut **tx)
    .await?;
    default.ok_or(StoreError::NotFound(Entity::Policy))
}

/// The principal's kind and id, its row locked until the transaction ends.
async fn lock_principal(
    tx: &mut WriteTx,
    account: &AccountId,
    principal: PrincipalRef<'_>,
) -> Result<(PrincipalKind, String), StoreError> {
    Ok(match principal {
        PrincipalRef::User(name) => (
            PrincipalKind::User,
            lock_user(tx, account, name).await?.0.as_str().to_owned(),
        ),
        PrincipalRef::Group(name) => (PrincipalKind::Group, lock_group(tx, account, name).await?),
        PrincipalRef::Role(name) => (PrincipalKind::Role, lock_role(tx, account, name).await?),
    })
}

fn attachment_entity(kind: PrincipalKind) -> Entity {
    match kind {
        PrincipalKind::User => Entity::UserPolicy,
        PrincipalKind::Group => Entity::GroupPolicy,
        PrincipalKind::Role => Entity::RolePolicy,
    }
}

impl SqlStore {
    async fn principal_id(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
    ) -> Result<(PrincipalKind, String), StoreError> {
        let (kind, sql, missing) = match principal {
            PrincipalRef::User(_) => (
                PrincipalKind::User,
                "SELECT user_id FROM users WHERE account_id = $1 AND user_name_key = $2",
                Entity::User,
            ),
            PrincipalRef::Group(_) => (
                PrincipalKind::Group,
                "SELECT group_id FROM groups WHERE account_id = $1 AND group_name_key = $2",
                Entity::Group,
            ),
            PrincipalRef::Role(_) => (
                PrincipalKind::Role,
                "SELECT role_id FROM roles WHERE account_id = $1 AND role_name_key = $2",
                Entity::Role,
            ),
        };
        let name = match principal {
            PrincipalRef::User(n) | PrincipalRef::Group(n) | PrincipalRef::Role(n) => n,
        };
        let id: Option<String> = sqlx::query_scalar(sql)
            .bind(account.as_str())
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        Ok((kind, id.ok_or(StoreError::NotFound(missing))?))
    }

    /// The number of the policy's default version; `NotFound(Policy)` if there is no such
    /// policy (system policies are visible to every account).
    async fn default_version(
        &self,
        account: &AccountId,
        policy: PolicyRef<'_>,
    ) -> Result<i64, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT default_version FROM policies WHERE owner = $1 AND policy_type = $2 \
             AND policy_name_key = $3",
        )
        .bind(owner(account, policy.policy_type))
        .bind(policy.policy_type.as_str())
        .bind(name_key(policy.policy_name))
        .fetch_optional(&self.pool)
        .await?;
        found.ok_or(StoreError::NotFound(Entity::Policy))
    }
}

#[async_trait]
impl PolicyRepo for SqlStore {
    async fn upsert_system_policy(
        &self,
        policy_name: &str,
        description: &str,
        document: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let key = name_key(policy_name);
        let current: Option<(String, String)> = sqlx::query_as(
            "SELECT p.description, v.document FROM policies p JOIN policy_versions v \
             ON v.owner = p.owner AND v.policy_type = p.policy_type \
             AND v.policy_name_key = p.policy_name_key AND v.version_number = p.default_version \
             WHERE p.owner = '' AND p.policy_type = 'System' AND p.policy_name_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        match current {
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO policies (owner, policy_type, policy_name, policy_name_key, \
                     description, default_version, next_version, create_date, update_date) \
                     VALUES ('', 'System', $1, $2, $3, 1, 2, $4, $4)",
                )
                .bind(policy_name)
                .bind(key.as_str())
                .bind(description)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await;
                match inserted.map_err(already_exists(Entity::Policy)) {
                    // Another node installed it at the same moment.
                    Err(StoreError::AlreadyExists(_)) => return Ok(()),
                    other => other?,
                };
                sqlx::query(
                    "INSERT INTO policy_versions (owner, policy_type, policy_name_key, \
                     version_number, document, create_date) VALUES ('', 'System', $1, 1, $2, $3)",
                )
                .bind(key.as_str())
                .bind(document)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await?;
            }
            Some((old_description, old_document)) => {
                if old_document != document {
                    sqlx::query(
                        "UPDATE policy_versions SET document = $2 WHERE owner = '' \
                         AND policy_type = 'System' AND policy_name_key = $1",
                    )
                    .bind(key.as_str())
                    .bind(document)
                    .execute(&mut *tx)
                    .await?;
                    // Shared by every account: every account's cached sets may be stale.
                    sqlx::query("UPDATE accounts SET authz_epoch = authz_epoch + 1")
                        .execute(&mut *tx)
                        .await?;
                }
                if old_document != document || old_description != description {
                    sqlx::query(
                        "UPDATE policies SET description = $2, update_date = $3 WHERE owner = '' \
                         AND policy_type = 'System' AND policy_name_key = $1",
                    )
                    .bind(key.as_str())
                    .bind(description)
                    .bind(now.unix_millis())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_policy(
        &self,
        account: &AccountId,
        new: NewPolicy,
        now: Timestamp,
    ) -> Result<(Policy, PolicyVersion), StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let key = name_key(&new.policy_name);
        // A custom policy may not take a system policy's name: requests name policies by
        // type and name, and RAM refuses the clash.
        let system = count(
            &mut tx,
            "SELECT COUNT(*) FROM policies WHERE owner = '' AND policy_name_key = $1",
            &[key.as_str()],
        )
        .await?;
        if system > 0 {
            return Err(StoreError::AlreadyExists(Entity::Policy));
        }
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM policies WHERE owner = $1",
            &[account.as_str()],
        )
        .await?;
        if existing >= i64::from(self.quotas.custom_policies_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::CustomPoliciesPerAccount,
                limit: self.quotas.custom_policies_per_account,
            });
        }
        sqlx::query(
            "INSERT INTO policies (owner, policy_type, policy_name, policy_name_key, description, \
             default_version, next_version, create_date, update_date) \
             VALUES ($1, 'Custom', $2, $3, $4, 1, 2, $5, $5)",
        )
        .bind(account.as_str())
        .bind(new.policy_name.as_str())
        .bind(key.as_str())
        .bind(new.description.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::Policy))?;
        sqlx::query(
            "INSERT INTO policy_versions (owner, policy_type, policy_name_key, version_number, \
             document, create_date) VALUES ($1, 'Custom', $2, 1, $3, $4)",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(new.document.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        super::people::put_tags(
            &mut tx,
            account,
            "policy",
            &new.policy_name,
            &new.tags,
            self.quotas.tags_per_resource,
        )
        .await?;
        tx.commit().await?;
        Ok((
            Policy {
                policy_name: new.policy_name,
                policy_type: PolicyType::Custom,
                description: new.description,
                default_version: version_id(1),
                attachment_count: 0,
                create_date: now,
                update_date: now,
            },
            PolicyVersion {
                version_id: version_id(1),
                document: new.document,
                is_default: true,
                create_date: now,
            },
        ))
    }

    async fn get_policy(
        &self,
        account: &AccountId,
        policy_ref: PolicyRef<'_>,
    ) -> Result<(Policy, PolicyVersion), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS}, v.version_number, v.document, \
             v.create_date AS version_create_date FROM policies p JOIN policy_versions v \
             ON v.owner = p.owner AND v.policy_type = p.policy_type \
             AND v.policy_name_key = p.policy_name_key AND v.version_number = p.default_version \
             WHERE p.owner = $2 AND p.policy_type = $3 AND p.policy_name_key = $4"
        ))
        .bind(account.as_str())
        .bind(owner(account, policy_ref.policy_type))
        .bind(policy_ref.policy_type.as_str())
        .bind(name_key(policy_ref.policy_name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::Policy))?;
        let p = policy(&row)?;
        let n: i64 = row.try_get("version_number")?;
        let v = PolicyVersion {
            version_id: version_id(n),
            document: row.try_get("document")?,
            is_default: true,
            create_date: time(row.try_get("version_create_date")?)?,
        };
        Ok((p, v))
    }

    async fn list_policies(
        &self,
        account: &AccountId,
        policy_type: Option<PolicyType>,
        page: &Page,
    ) -> Result<Listing<Policy>, StoreError> {
        // System first, then custom, each by name: one sort key the marker can hold.
        let sort_key = "(CASE p.policy_type WHEN 'System' THEN '0:' ELSE '1:' END \
                        || p.policy_name_key)";
        let type_filter = match policy_type {
            Some(PolicyType::System) => "AND p.policy_type = 'System'",
            Some(PolicyType::Custom) => "AND p.policy_type = 'Custom'",
            None => "",
        };
        let found = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies p WHERE (p.owner = '' OR p.owner = $1) \
             {type_filter} AND {sort_key} > $2 ORDER BY {sort_key} LIMIT $3"
        ))
        .bind(account.as_str())
        .bind(page.after_key())
        .bind(i64::from(page.max_items()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let policies = found.iter().map(policy).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(policies, page, |p| {
            let prefix = match p.policy_type {
                PolicyType::System => "0:",
                PolicyType::Custom => "1:",
            };
            format!("{prefix}{}", name_key(&p.policy_name))
        }))
    }

    async fn update_policy_description(
        &self,
        account: &AccountId,
        policy_name: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<Policy, StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE policies SET description = $3, update_date = $4 WHERE owner = $1 \
             AND policy_type = 'Custom' AND policy_name_key = $2",
        )
        .bind(account.as_str())
        .bind(name_key(policy_name))
        .bind(description)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(Entity::Policy));
        }
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies p WHERE p.owner = $1 \
             AND p.policy_type = 'Custom' AND p.policy_name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(policy_name))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        policy(&row)
    }

    async fn delete_policy(
        &self,
        account: &AccountId,
        policy_name: &str,
        cascade: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_custom(&mut tx, account, policy_name).await?;
        let key = name_key(policy_name);
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT principal_type FROM policy_attachments WHERE policy_owner = $1 \
             AND policy_type = 'Custom' AND policy_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for (kind, blocker) in [
            ("User", Entity::User),
            ("Group", Entity::Group),
            ("Role", Entity::Role),
        ] {
            if kinds.iter().any(|k| k == kind) {
                return Err(StoreError::DeleteConflict {
                    entity: Entity::Policy,
                    blocker,
                });
            }
        }
        let versions = count(
            &mut tx,
            "SELECT COUNT(*) FROM policy_versions WHERE owner = $1 AND policy_type = 'Custom' \
             AND policy_name_key = $2",
            &[account.as_str(), key.as_str()],
        )
        .await?;
        if versions > 1 && !cascade {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Policy,
                blocker: Entity::PolicyVersion,
            });
        }
        sqlx::query(
            "DELETE FROM policy_versions WHERE owner = $1 AND policy_type = 'Custom' \
             AND policy_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM policies WHERE owner = $1 AND policy_type = 'Custom' \
             AND policy_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM resource_tags WHERE account_id = $1 AND resource_type = 'policy' \
             AND resource_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        document: &str,
        set_as_default: bool,
        rotate: bool,
        now: Timestamp,
    ) -> Result<PolicyVersion, StoreError> {
        let mut tx = self.begin().await?;
        let default = lock_custom(&mut tx, account, policy_name).await?;
        let key = name_key(policy_name);
        let versions = count(
            &mut tx,
            "SELECT COUNT(*) FROM policy_versions WHERE owner = $1 AND policy_type = 'Custom' \
             AND policy_name_key = $2",
            &[account.as_str(), key.as_str()],
        )
        .await?;
        if versions >= i64::from(self.quotas.versions_per_policy) {
            let oldest: Option<i64> = if rotate {
                sqlx::query_scalar(
                    "SELECT MIN(version_number) FROM policy_versions WHERE owner = $1 \
                     AND policy_type = 'Custom' AND policy_name_key = $2 \
                     AND version_number <> $3",
                )
                .bind(account.as_str())
                .bind(key.as_str())
                .bind(default)
                .fetch_one(&mut *tx)
                .await?
            } else {
                None
            };
            let Some(oldest) = oldest else {
                return Err(StoreError::LimitExceeded {
                    quota: Quota::VersionsPerPolicy,
                    limit: self.quotas.versions_per_policy,
                });
            };
            sqlx::query(
                "DELETE FROM policy_versions WHERE owner = $1 AND policy_type = 'Custom' \
                 AND policy_name_key = $2 AND version_number = $3",
            )
            .bind(account.as_str())
            .bind(key.as_str())
            .bind(oldest)
            .execute(&mut *tx)
            .await?;
            bump_epoch(&mut tx, account).await?;
        }
        let n: i64 = sqlx::query_scalar(
            "UPDATE policies SET next_version = next_version + 1, update_date = $3 \
             WHERE owner = $1 AND policy_type = 'Custom' AND policy_name_key = $2 \
             RETURNING next_version - 1",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(now.unix_millis())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO policy_versions (owner, policy_type, policy_name_key, version_number, \
             document, create_date) VALUES ($1, 'Custom', $2, $3, $4, $5)",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(n)
        .bind(document)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        if set_as_default {
            sqlx::query(
                "UPDATE policies SET default_version = $3 WHERE owner = $1 \
                 AND policy_type = 'Custom' AND policy_name_key = $2",
            )
            .bind(account.as_str())
            .bind(key.as_str())
            .bind(n)
            .execute(&mut *tx)
            .await?;
            bump_epoch(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(PolicyVersion {
            version_id: version_id(n),
            document: document.to_owned(),
            is_default: set_as_default,
            create_date: now,
        })
    }

    async fn get_policy_version(
        &self,
        account: &AccountId,
        policy_ref: PolicyRef<'_>,
        version: &str,
    ) -> Result<PolicyVersion, StoreError> {
        let n = version_number(version)?;
        let owner = owner(account, policy_ref.policy_type);
        let key = name_key(policy_ref.policy_name);
        let default = self.default_version(account, policy_ref).await?;
        let row = sqlx::query(
            "SELECT version_number, document, create_date FROM policy_versions \
             WHERE owner = $1 AND policy_type = $2 AND policy_name_key = $3 \
             AND version_number = $4",
        )
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .bind(n)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::PolicyVersion))?;
        version_row(&row, default)
    }

    async fn list_policy_versions(
        &self,
        account: &AccountId,
        policy_ref: PolicyRef<'_>,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let owner = owner(account, policy_ref.policy_type);
        let key = name_key(policy_ref.policy_name);
        let default = self.default_version(account, policy_ref).await?;
        let found = sqlx::query(
            "SELECT version_number, document, create_date FROM policy_versions \
             WHERE owner = $1 AND policy_type = $2 AND policy_name_key = $3 \
             ORDER BY version_number DESC",
        )
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(|r| version_row(r, default)).collect()
    }

    async fn delete_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        version: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let default = lock_custom(&mut tx, account, policy_name).await?;
        let n = version_number(version)?;
        if n == default {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Policy,
                blocker: Entity::PolicyDefaultVersion,
            });
        }
        let deleted = sqlx::query(
            "DELETE FROM policy_versions WHERE owner = $1 AND policy_type = 'Custom' \
             AND policy_name_key = $2 AND version_number = $3",
        )
        .bind(account.as_str())
        .bind(name_key(policy_name))
        .bind(n)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(Entity::PolicyVersion));
        }
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_default_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        version: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_custom(&mut tx, account, policy_name).await?;
        let n = version_number(version)?;
        let key = name_key(policy_name);
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT version_number FROM policy_versions WHERE owner = $1 \
             AND policy_type = 'Custom' AND policy_name_key = $2 AND version_number = $3",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(n)
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(Entity::PolicyVersion));
        }
        sqlx::query(
            "UPDATE policies SET default_version = $3, update_date = $4 WHERE owner = $1 \
             AND policy_type = 'Custom' AND policy_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(n)
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attach_policy(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
        policy_ref: PolicyRef<'_>,
        resource_group_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (kind, principal_id) = lock_principal(&mut tx, account, principal).await?;
        let owner = owner(account, policy_ref.policy_type);
        let key = name_key(policy_ref.policy_name);
        match policy_ref.policy_type {
            // INVARIANT: a custom policy's row is locked (after the principal's, before the
            // account's, the order everywhere), so a concurrent DeletePolicy either sees this
            // attachment (DeleteConflict) or has deleted the policy first (NotFound here),
            // never a foreign-key failure.
            PolicyType::Custom => {
                lock_custom(&mut tx, account, policy_ref.policy_name).await?;
            }
            // System policies are never deleted by requests.
            PolicyType::System => {
                let exists = count(
                    &mut tx,
                    "SELECT COUNT(*) FROM policies WHERE owner = $1 AND policy_type = $2 \
                     AND policy_name_key = $3",
                    &[owner, policy_ref.policy_type.as_str(), key.as_str()],
                )
                .await?;
                if exists == 0 {
                    return Err(StoreError::NotFound(Entity::Policy));
                }
            }
        }
        let attached = count(
            &mut tx,
            "SELECT COUNT(*) FROM policy_attachments WHERE account_id = $1 \
             AND principal_type = $2 AND principal_id = $3 AND policy_type = $4",
            &[
                account.as_str(),
                kind.as_str(),
                principal_id.as_str(),
                policy_ref.policy_type.as_str(),
            ],
        )
        .await?;
        let (limit, quota) = match policy_ref.policy_type {
            PolicyType::Custom => (
                self.quotas.custom_policies_per_principal,
                Quota::CustomPoliciesPerPrincipal(kind),
            ),
            PolicyType::System => (
                self.quotas.system_policies_per_principal,
                Quota::SystemPoliciesPerPrincipal(kind),
            ),
        };
        if attached >= i64::from(limit) {
            return Err(StoreError::LimitExceeded { quota, limit });
        }
        sqlx::query(
            "INSERT INTO policy_attachments (account_id, principal_type, principal_id, \
             policy_owner, policy_type, policy_name_key, scope, attach_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(account.as_str())
        .bind(kind.as_str())
        .bind(principal_id.as_str())
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .bind(resource_group_id.unwrap_or(""))
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(attachment_entity(kind)))?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn detach_policy(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
        policy_ref: PolicyRef<'_>,
        resource_group_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (kind, principal_id) = lock_principal(&mut tx, account, principal).await?;
        let removed = sqlx::query(
            "DELETE FROM policy_attachments WHERE account_id = $1 AND principal_type = $2 \
             AND principal_id = $3 AND policy_owner = $4 AND policy_type = $5 \
             AND policy_name_key = $6 AND scope = $7",
        )
        .bind(account.as_str())
        .bind(kind.as_str())
        .bind(principal_id.as_str())
        .bind(owner(account, policy_ref.policy_type))
        .bind(policy_ref.policy_type.as_str())
        .bind(name_key(policy_ref.policy_name))
        .bind(resource_group_id.unwrap_or(""))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound(attachment_entity(kind)));
        }
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_policies_for(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
    ) -> Result<Vec<AttachedPolicy>, StoreError> {
        let (kind, principal_id) = self.principal_id(account, principal).await?;
        let found = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS}, x.attach_date, x.scope FROM policy_attachments x \
             JOIN policies p ON p.owner = x.policy_owner AND p.policy_type = x.policy_type \
             AND p.policy_name_key = x.policy_name_key \
             WHERE x.account_id = $1 AND x.principal_type = $2 AND x.principal_id = $3 \
             ORDER BY p.policy_type DESC, p.policy_name_key, x.scope"
        ))
        .bind(account.as_str())
        .bind(kind.as_str())
        .bind(principal_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|r| {
                let scope: String = r.try_get("scope")?;
                Ok(AttachedPolicy {
                    policy: policy(r)?,
                    attach_date: time(r.try_get("attach_date")?)?,
                    resource_group_id: (!scope.is_empty()).then_some(scope),
                })
            })
            .collect()
    }

    async fn list_entities_for_policy(
        &self,
        account: &AccountId,
        policy_ref: PolicyRef<'_>,
    ) -> Result<PolicyEntities, StoreError> {
        self.default_version(account, policy_ref).await?;
        let owner = owner(account, policy_ref.policy_type);
        let key = name_key(policy_ref.policy_name);
        let filter = "x.account_id = $1 AND x.policy_owner = $2 AND x.policy_type = $3 \
                      AND x.policy_name_key = $4";
        let users = sqlx::query(&format!(
            "SELECT u.account_id, u.user_id, u.user_name, u.display_name, u.email, \
             u.mobile_phone, u.comments, u.create_date, u.update_date, u.last_login_date, \
             x.attach_date FROM policy_attachments x JOIN users u ON u.user_id = x.principal_id \
             WHERE x.principal_type = 'User' AND {filter} ORDER BY u.user_name_key"
        ))
        .bind(account.as_str())
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        let groups = sqlx::query(&format!(
            "SELECT g.account_id, g.group_id, g.group_name, g.comments, g.create_date, \
             g.update_date, x.attach_date FROM policy_attachments x \
             JOIN groups g ON g.group_id = x.principal_id \
             WHERE x.principal_type = 'Group' AND {filter} ORDER BY g.group_name_key"
        ))
        .bind(account.as_str())
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        let roles = sqlx::query(&format!(
            "SELECT r.account_id, r.role_id, r.role_name, r.description, r.trust_policy, \
             r.max_session_duration, r.allow_console_login, r.create_date, r.update_date, x.attach_date \
             FROM policy_attachments x JOIN roles r ON r.role_id = x.principal_id \
             WHERE x.principal_type = 'Role' AND {filter} ORDER BY r.role_name_key"
        ))
        .bind(account.as_str())
        .bind(owner)
        .bind(policy_ref.policy_type.as_str())
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        let attach =
            |r: &AnyRow| -> Result<Timestamp, StoreError> { time(r.try_get("attach_date")?) };
        Ok(PolicyEntities {
            users: users
                .iter()
                .map(|r| Ok((rows::user(r)?, attach(r)?)))
                .collect::<Result<_, StoreError>>()?,
            groups: groups
                .iter()
                .map(|r| Ok((group(r)?, attach(r)?)))
                .collect::<Result<_, StoreError>>()?,
            roles: roles
                .iter()
                .map(|r| Ok((role(r)?, attach(r)?)))
                .collect::<Result<_, StoreError>>()?,
        })
    }

    async fn effective_policies(
        &self,
        account: &AccountId,
        principal: &PrincipalKey,
    ) -> Result<Vec<EffectivePolicy>, StoreError> {
        let (direct_type, id) = match principal {
            PrincipalKey::User(id) => ("User", id),
            PrincipalKey::Role(id) => ("Role", id),
        };
        // A role has no groups: the subquery then finds nothing (no user has a role's id).
        let found = sqlx::query(
            "SELECT p.policy_type, p.policy_name, p.default_version, v.document, x.scope, \
             g.group_name AS via_group \
             FROM policy_attachments x \
             JOIN policies p ON p.owner = x.policy_owner AND p.policy_type = x.policy_type \
             AND p.policy_name_key = x.policy_name_key \
             JOIN policy_versions v ON v.owner = p.owner AND v.policy_type = p.policy_type \
             AND v.policy_name_key = p.policy_name_key AND v.version_number = p.default_version \
             LEFT JOIN groups g ON x.principal_type = 'Group' AND g.group_id = x.principal_id \
             WHERE x.account_id = $1 AND ((x.principal_type = $2 AND x.principal_id = $3) \
             OR (x.principal_type = 'Group' AND x.principal_id IN \
             (SELECT m.group_id FROM group_members m WHERE m.account_id = $1 AND m.user_id = $3))) \
             ORDER BY x.principal_type DESC, p.policy_type DESC, p.policy_name_key",
        )
        .bind(account.as_str())
        .bind(direct_type)
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|r| {
                let scope: String = r.try_get("scope")?;
                Ok(EffectivePolicy {
                    policy_type: policy_type(r.try_get("policy_type")?)?,
                    policy_name: r.try_get("policy_name")?,
                    version_id: version_id(r.try_get("default_version")?),
                    document: r.try_get("document")?,
                    resource_group_id: (!scope.is_empty()).then_some(scope),
                    via_group: r.try_get("via_group")?,
                })
            })
            .collect()
    }

    async fn authz_epoch(&self, account: &AccountId) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT authz_epoch FROM accounts WHERE account_id = $1")
            .bind(account.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::Account))
    }
}
