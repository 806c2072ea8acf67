use async_trait::async_trait;
use rampart_model::{AccountId, Group, GroupId, Timestamp, User};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::accounts::fresh_id;
use super::errors::{already_exists, corrupt_id};
use super::rows::{self, name_key, time, user_columns};
use super::users::lock_user;
use super::WriteTx;
use super::{bump_epoch, count, lock_account, SqlStore};
use crate::error::{Entity, PrincipalKind, Quota, StoreError};
use crate::page::{Listing, Page};
use crate::repo_iam::{GroupRepo, GroupUpdate, NewGroup};

const GROUP_COLUMNS: &str = "account_id, group_id, group_name, comments, create_date, update_date";

pub(super) fn group(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        account_id: rows::account_id(row.try_get("account_id")?)?,
        group_id: GroupId::parse(row.try_get("group_id")?).map_err(corrupt_id)?,
        group_name: row.try_get("group_name")?,
        comments: row.try_get("comments")?,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

/// Finds a group and locks its row until the transaction ends (see `lock_user`).
pub(super) async fn lock_group(
    tx: &mut WriteTx,
    account: &AccountId,
    group_name: &str,
) -> Result<String, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE groups SET group_id = group_id WHERE account_id = $1 AND group_name_key = $2 \
         RETURNING group_id",
    )
    .bind(account.as_str())
    .bind(name_key(group_name))
    .fetch_optional(&mut **tx)
    .await?;
    id.ok_or(StoreError::NotFound(Entity::Group))
}

#[async_trait]
impl GroupRepo for SqlStore {
    async fn create_group(
        &self,
        account: &AccountId,
        group: NewGroup,
        now: Timestamp,
    ) -> Result<Group, StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM groups WHERE account_id = $1",
            &[account.as_str()],
        )
        .await?;
        if existing >= i64::from(self.quotas.groups_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::GroupsPerAccount,
                limit: self.quotas.groups_per_account,
            });
        }
        let group_id = fresh_id(
            &mut tx,
            "SELECT 1 FROM groups WHERE group_id = $1",
            GroupId::generate,
        )
        .await?;
        sqlx::query(
            "INSERT INTO groups (account_id, group_id, group_name, group_name_key, comments, \
             create_date, update_date) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(account.as_str())
        .bind(group_id.as_str())
        .bind(group.group_name.as_str())
        .bind(name_key(&group.group_name))
        .bind(group.comments.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::Group))?;
        tx.commit().await?;
        Ok(Group {
            account_id: account.clone(),
            group_id,
            group_name: group.group_name,
            comments: group.comments,
            create_date: now,
            update_date: now,
        })
    }

    async fn get_group(&self, account: &AccountId, group_name: &str) -> Result<Group, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = $1 AND group_name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(group_name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::Group))?;
        group(&row)
    }

    async fn update_group(
        &self,
        account: &AccountId,
        group_name: &str,
        update: GroupUpdate,
        now: Timestamp,
    ) -> Result<Group, StoreError> {
        let new_key = update.new_group_name.as_deref().map(name_key);
        let renamed = update.new_group_name.is_some();
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE groups SET group_name = COALESCE($3, group_name), \
             group_name_key = COALESCE($4, group_name_key), \
             comments = COALESCE($5, comments), update_date = $6 \
             WHERE account_id = $1 AND group_name_key = $2 RETURNING {GROUP_COLUMNS}"
        ))
        .bind(account.as_str())
        .bind(name_key(group_name))
        .bind(update.new_group_name)
        .bind(new_key)
        .bind(update.new_comments)
        .bind(now.unix_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(already_exists(Entity::Group))?
        .ok_or(StoreError::NotFound(Entity::Group))?;
        let group = group(&row)?;
        // Effective policies name the group they come through (`via_group`).
        if renamed {
            bump_epoch(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(group)
    }

    async fn delete_group(&self, account: &AccountId, group_name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let group_id = lock_group(&mut tx, account, group_name).await?;
        let members = count(
            &mut tx,
            "SELECT COUNT(*) FROM group_members WHERE group_id = $1",
            &[&group_id],
        )
        .await?;
        if members > 0 {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Group,
                blocker: Entity::User,
            });
        }
        if has_attachments(&mut tx, account, PrincipalKind::Group, &group_id).await? {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Group,
                blocker: Entity::Policy,
            });
        }
        sqlx::query("DELETE FROM groups WHERE group_id = $1")
            .bind(group_id.as_str())
            .execute(&mut *tx)
            .await?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_groups(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<Group>, StoreError> {
        let found = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = $1 AND group_name_key > $2 \
             ORDER BY group_name_key LIMIT $3"
        ))
        .bind(account.as_str())
        .bind(page.after_key())
        .bind(i64::from(page.max_items()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let groups = found.iter().map(group).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(groups, page, |g| {
            name_key(&g.group_name)
        }))
    }

    async fn add_user_to_group(
        &self,
        account: &AccountId,
        group_name: &str,
        user_name: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // Lock order everywhere: user before group.
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let group_id = lock_group(&mut tx, account, group_name).await?;
        let joined = count(
            &mut tx,
            "SELECT COUNT(*) FROM group_members WHERE account_id = $1 AND user_id = $2",
            &[account.as_str(), user_id.as_str()],
        )
        .await?;
        if joined >= i64::from(self.quotas.groups_per_user) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::GroupsPerUser,
                limit: self.quotas.groups_per_user,
            });
        }
        sqlx::query(
            "INSERT INTO group_members (account_id, group_id, user_id, join_date) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(account.as_str())
        .bind(group_id.as_str())
        .bind(user_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::UserGroup))?;
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_user_from_group(
        &self,
        account: &AccountId,
        group_name: &str,
        user_name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let group_id = lock_group(&mut tx, account, group_name).await?;
        let removed = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id.as_str())
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound(Entity::UserGroup));
        }
        bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_groups_for_user(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<Vec<(Group, Timestamp)>, StoreError> {
        let user = self.user_id_of(account, user_name).await?;
        let found = sqlx::query(
            "SELECT g.account_id, g.group_id, g.group_name, g.comments, g.create_date, \
             g.update_date, m.join_date FROM group_members m \
             JOIN groups g ON g.group_id = m.group_id \
             WHERE m.account_id = $1 AND m.user_id = $2 ORDER BY g.group_name_key",
        )
        .bind(account.as_str())
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|r| Ok((group(r)?, time(r.try_get("join_date")?)?)))
            .collect()
    }

    async fn list_users_for_group(
        &self,
        account: &AccountId,
        group_name: &str,
        page: &Page,
    ) -> Result<Listing<(User, Timestamp)>, StoreError> {
        let group_id: String = sqlx::query_scalar(
            "SELECT group_id FROM groups WHERE account_id = $1 AND group_name_key = $2",
        )
        .bind(account.as_str())
        .bind(name_key(group_name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::Group))?;
        let sql = format!(
            "SELECT {}, m.join_date FROM group_members m JOIN users u ON u.user_id = m.user_id \
             WHERE m.group_id = $1 AND u.user_name_key > $2 ORDER BY u.user_name_key LIMIT $3",
            user_columns!()
                .split(", ")
                .map(|c| format!("u.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let found = sqlx::query(&sql)
            .bind(group_id.as_str())
            .bind(page.after_key())
            .bind(i64::from(page.max_items()) + 1)
            .fetch_all(&self.pool)
            .await?;
        let users = found
            .iter()
            .map(|r| Ok((rows::user(r)?, time(r.try_get("join_date")?)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Listing::from_rows(users, page, |(u, _)| {
            name_key(&u.user_name)
        }))
    }
}

pub(super) async fn has_attachments(
    tx: &mut WriteTx,
    account: &AccountId,
    kind: PrincipalKind,
    principal_id: &str,
) -> Result<bool, StoreError> {
    let n = count(
        tx,
        "SELECT COUNT(*) FROM policy_attachments WHERE account_id = $1 AND principal_type = $2 \
         AND principal_id = $3",
        &[account.as_str(), kind.as_str(), principal_id],
    )
    .await?;
    Ok(n > 0)
}

impl SqlStore {
    pub(super) async fn user_id_of(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT user_id FROM users WHERE account_id = $1 AND user_name_key = $2")
            .bind(account.as_str())
            .bind(name_key(user_name))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::User))
    }
}
