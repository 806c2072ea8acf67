use async_trait::async_trait;
use rampart_model::{AccountId, Role, RoleId, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::accounts::fresh_id;
use super::errors::{already_exists, corrupt_id};
use super::groups::has_attachments;
use super::rows::{self, name_key, time};
use super::WriteTx;
use super::{bump_epoch, count, lock_account, SqlStore};
use crate::error::{Entity, PrincipalKind, Quota, StoreError};
use crate::page::{Listing, Page};
use crate::repo_iam::{NewRole, RoleRepo, RoleUpdate};

const ROLE_COLUMNS: &str = "account_id, role_id, role_name, description, trust_policy, \
     max_session_duration, allow_console_login, create_date, update_date";

pub(super) fn role(row: &AnyRow) -> Result<Role, StoreError> {
    let max: i64 = row.try_get("max_session_duration")?;
    let console: i64 = row.try_get("allow_console_login")?;
    Ok(Role {
        account_id: rows::account_id(row.try_get("account_id")?)?,
        role_id: RoleId::parse(row.try_get("role_id")?).map_err(corrupt_id)?,
        role_name: row.try_get("role_name")?,
        description: row.try_get("description")?,
        assume_role_policy_document: row.try_get("trust_policy")?,
        max_session_duration: u32::try_from(max)
            .map_err(|_| StoreError::Internal("stored session duration out of range".into()))?,
        allow_console_login: console != 0,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

pub(super) async fn lock_role(
    tx: &mut WriteTx,
    account: &AccountId,
    role_name: &str,
) -> Result<String, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE roles SET role_id = role_id WHERE account_id = $1 AND role_name_key = $2 \
         RETURNING role_id",
    )
    .bind(account.as_str())
    .bind(name_key(role_name))
    .fetch_optional(&mut **tx)
    .await?;
    id.ok_or(StoreError::NotFound(Entity::Role))
}

#[async_trait]
impl RoleRepo for SqlStore {
    async fn create_role(
        &self,
        account: &AccountId,
        new: NewRole,
        now: Timestamp,
    ) -> Result<Role, StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM roles WHERE account_id = $1",
            &[account.as_str()],
        )
        .await?;
        if existing >= i64::from(self.quotas.roles_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::RolesPerAccount,
                limit: self.quotas.roles_per_account,
            });
        }
        let role_id = fresh_id(
            &mut tx,
            "SELECT 1 FROM roles WHERE role_id = $1",
            RoleId::generate,
        )
        .await?;
        sqlx::query(
            "INSERT INTO roles (account_id, role_id, role_name, role_name_key, description, \
             trust_policy, max_session_duration, allow_console_login, create_date, update_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8, $8)",
        )
        .bind(account.as_str())
        .bind(role_id.as_str())
        .bind(new.role_name.as_str())
        .bind(name_key(&new.role_name))
        .bind(new.description.as_str())
        .bind(new.assume_role_policy_document.as_str())
        .bind(i64::from(new.max_session_duration))
        .bind(now.unix_millis())
        .bind(i64::from(new.allow_console_login))
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::Role))?;
        super::people::put_tags(
            &mut tx,
            account,
            "role",
            &new.role_name,
            &new.tags,
            self.quotas.tags_per_resource,
        )
        .await?;
        tx.commit().await?;
        Ok(Role {
            account_id: account.clone(),
            role_id,
            role_name: new.role_name,
            description: new.description,
            assume_role_policy_document: new.assume_role_policy_document,
            max_session_duration: new.max_session_duration,
            allow_console_login: new.allow_console_login,
            create_date: now,
            update_date: now,
        })
    }

    async fn get_role(&self, account: &AccountId, role_name: &str) -> Result<Role, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 AND role_name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(role_name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::Role))?;
        role(&row)
    }

    async fn role_session_state(
        &self,
        account: &AccountId,
        role_id: &RoleId,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT r.role_name, a.authz_epoch FROM roles r \
             JOIN accounts a ON a.account_id = r.account_id \
             WHERE r.account_id = $1 AND r.role_id = $2",
        )
        .bind(account.as_str())
        .bind(role_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    async fn update_role(
        &self,
        account: &AccountId,
        role_name: &str,
        update: RoleUpdate,
        now: Timestamp,
    ) -> Result<Role, StoreError> {
        let mut tx = self.begin().await?;
        let trust_changed = update.new_assume_role_policy_document.is_some();
        let row = sqlx::query(&format!(
            "UPDATE roles SET trust_policy = COALESCE($3, trust_policy), \
             description = COALESCE($4, description), \
             max_session_duration = COALESCE($5, max_session_duration), update_date = $6, \
             allow_console_login = COALESCE($7, allow_console_login) \
             WHERE account_id = $1 AND role_name_key = $2 RETURNING {ROLE_COLUMNS}"
        ))
        .bind(account.as_str())
        .bind(name_key(role_name))
        .bind(update.new_assume_role_policy_document)
        .bind(update.new_description)
        .bind(update.new_max_session_duration.map(i64::from))
        .bind(now.unix_millis())
        .bind(update.new_allow_console_login.map(i64::from))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Entity::Role))?;
        let updated = role(&row)?;
        if trust_changed {
            // Who may assume the role changed.
            bump_epoch(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_role(&self, account: &AccountId, role_name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let role_id = lock_role(&mut tx, account, role_name).await?;
        if has_attachments(&mut tx, account, PrincipalKind::Role, &role_id).await? {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Role,
                blocker: Entity::Policy,
            });
        }
        sqlx::query("DELETE FROM roles WHERE role_id = $1")
            .bind(role_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM resource_tags WHERE account_id = $1 AND resource_type = 'role' \
             AND resource_name_key = $2",
        )
        .bind(account.as_str())
        .bind(name_key(role_name))
        .execute(&mut *tx)
        .await?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_roles(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<Role>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 AND role_name_key > $2 \
             ORDER BY role_name_key LIMIT $3"
        ))
        .bind(account.as_str())
        .bind(page.after_key())
        .bind(i64::from(page.max_items()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let roles = found.iter().map(role).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(roles, page, |r| name_key(&r.role_name)))
    }
}
