use async_trait::async_trait;
use rampart_model::{AccountId, LoginProfile, Timestamp, VirtualMfaDevice};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::errors::already_exists;
use super::rows::{name_key, time};
use super::users::lock_user;
use super::{count, lock_account, SqlStore, WriteTx};
use crate::error::{Entity, Quota, StoreError};
use crate::page::{Listing, Page};
use crate::repo_people::{
    LoginProfileRepo, LoginProfileUpdate, MfaRepo, NewLoginProfile, ResourceTag, SettingsRepo,
    TagRepo,
};

fn profile(row: &AnyRow) -> Result<LoginProfile, StoreError> {
    let reset: i64 = row.try_get("password_reset_required")?;
    let mfa: i64 = row.try_get("mfa_bind_required")?;
    Ok(LoginProfile {
        user_name: row.try_get("user_name")?,
        password_hash: row.try_get("password_hash")?,
        password_reset_required: reset != 0,
        mfa_bind_required: mfa != 0,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

const PROFILE_SELECT: &str = "SELECT u.user_name, p.password_hash, p.password_reset_required, \
     p.mfa_bind_required, p.create_date, p.update_date FROM login_profiles p \
     JOIN users u ON u.user_id = p.user_id";

#[async_trait]
impl LoginProfileRepo for SqlStore {
    async fn create_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
        new: NewLoginProfile,
        now: Timestamp,
    ) -> Result<LoginProfile, StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, name) = lock_user(&mut tx, account, user_name).await?;
        sqlx::query(
            "INSERT INTO login_profiles (account_id, user_id, password_hash, \
             password_reset_required, mfa_bind_required, create_date, update_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(account.as_str())
        .bind(user_id.as_str())
        .bind(new.password_hash.as_str())
        .bind(i64::from(new.password_reset_required))
        .bind(i64::from(new.mfa_bind_required))
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::LoginProfile))?;
        tx.commit().await?;
        Ok(LoginProfile {
            user_name: name,
            password_hash: new.password_hash,
            password_reset_required: new.password_reset_required,
            mfa_bind_required: new.mfa_bind_required,
            create_date: now,
            update_date: now,
        })
    }

    async fn get_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<LoginProfile, StoreError> {
        let user_id = self.user_id_of(account, user_name).await?;
        let row = sqlx::query(&format!("{PROFILE_SELECT} WHERE p.user_id = $1"))
            .bind(user_id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::LoginProfile))?;
        profile(&row)
    }

    async fn update_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
        update: LoginProfileUpdate,
        now: Timestamp,
    ) -> Result<LoginProfile, StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let changed = sqlx::query(
            "UPDATE login_profiles SET password_hash = COALESCE($2, password_hash), \
             password_reset_required = COALESCE($3, password_reset_required), \
             mfa_bind_required = COALESCE($4, mfa_bind_required), update_date = $5 \
             WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .bind(update.password_hash)
        .bind(update.password_reset_required.map(i64::from))
        .bind(update.mfa_bind_required.map(i64::from))
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(Entity::LoginProfile));
        }
        let row = sqlx::query(&format!("{PROFILE_SELECT} WHERE p.user_id = $1"))
            .bind(user_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        profile(&row)
    }

    async fn delete_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let deleted = sqlx::query("DELETE FROM login_profiles WHERE user_id = $1")
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(Entity::LoginProfile));
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl SettingsRepo for SqlStore {
    async fn get_setting(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM account_settings WHERE account_id = $1 AND name = $2",
        )
        .bind(account.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn put_setting(
        &self,
        account: &AccountId,
        name: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        sqlx::query(
            "INSERT INTO account_settings (account_id, name, value) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value",
        )
        .bind(account.as_str())
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_account_alias(&self, account: &AccountId, alias: &str) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE accounts SET alias = $2 WHERE account_id = $1")
            .bind(account.as_str())
            .bind(alias)
            .execute(&self.pool)
            .await
            .map_err(already_exists(Entity::AccountAlias))?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(Entity::Account));
        }
        Ok(())
    }

    async fn get_account_alias(&self, account: &AccountId) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT alias FROM accounts WHERE account_id = $1")
                .bind(account.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound(Entity::Account))
    }

    async fn clear_account_alias(&self, account: &AccountId) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET alias = NULL WHERE account_id = $1")
            .bind(account.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn find_account_by_alias(&self, alias: &str) -> Result<AccountId, StoreError> {
        let id: String = sqlx::query_scalar("SELECT account_id FROM accounts WHERE alias = $1")
            .bind(alias)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::Account))?;
        super::rows::account_id(&id)
    }
}

const MFA_SELECT: &str = "SELECT d.account_id, d.device_name, d.sealed_seed, d.user_id, \
     u.user_name, u.display_name, d.activate_date, d.create_date FROM mfa_devices d \
     LEFT JOIN users u ON u.user_id = d.user_id";

fn device(row: &AnyRow) -> Result<VirtualMfaDevice, StoreError> {
    let account: String = row.try_get("account_id")?;
    let name: String = row.try_get("device_name")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let user_name: Option<String> = row.try_get("user_name")?;
    let display: Option<String> = row.try_get("display_name")?;
    let activated: Option<i64> = row.try_get("activate_date")?;
    Ok(VirtualMfaDevice {
        serial_number: format!("acs:ram::{account}:mfa/{name}"),
        name,
        sealed_seed: row.try_get("sealed_seed")?,
        user: match (user_id, user_name) {
            (Some(id), Some(n)) => Some((id, n, display.unwrap_or_default())),
            _ => None,
        },
        activate_date: activated.map(time).transpose()?,
        create_date: time(row.try_get("create_date")?)?,
    })
}

#[async_trait]
impl MfaRepo for SqlStore {
    async fn create_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
        sealed_seed: Vec<u8>,
        now: Timestamp,
    ) -> Result<VirtualMfaDevice, StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let existing = count(
            &mut tx,
            "SELECT COUNT(*) FROM mfa_devices WHERE account_id = $1",
            &[account.as_str()],
        )
        .await?;
        if existing >= i64::from(self.quotas.mfa_devices_per_account) {
            return Err(StoreError::LimitExceeded {
                quota: Quota::MfaDevicesPerAccount,
                limit: self.quotas.mfa_devices_per_account,
            });
        }
        sqlx::query(
            "INSERT INTO mfa_devices (account_id, device_name, device_name_key, sealed_seed, \
             create_date) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account.as_str())
        .bind(name)
        .bind(name_key(name))
        .bind(sealed_seed.clone())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::VirtualMfaDevice))?;
        tx.commit().await?;
        Ok(VirtualMfaDevice {
            serial_number: format!("acs:ram::{account}:mfa/{name}"),
            name: name.to_owned(),
            sealed_seed,
            user: None,
            activate_date: None,
            create_date: now,
        })
    }

    async fn list_virtual_mfa_devices(
        &self,
        account: &AccountId,
    ) -> Result<Vec<VirtualMfaDevice>, StoreError> {
        let found = sqlx::query(&format!(
            "{MFA_SELECT} WHERE d.account_id = $1 ORDER BY d.device_name_key"
        ))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(device).collect()
    }

    async fn get_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<VirtualMfaDevice, StoreError> {
        let row = sqlx::query(&format!(
            "{MFA_SELECT} WHERE d.account_id = $1 AND d.device_name_key = $2"
        ))
        .bind(account.as_str())
        .bind(name_key(name))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(Entity::VirtualMfaDevice))?;
        device(&row)
    }

    async fn delete_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let bound: Option<Option<String>> = sqlx::query_scalar(
            "SELECT user_id FROM mfa_devices WHERE account_id = $1 AND device_name_key = $2",
        )
        .bind(account.as_str())
        .bind(name_key(name))
        .fetch_optional(&mut *tx)
        .await?;
        match bound {
            None => return Err(StoreError::NotFound(Entity::VirtualMfaDevice)),
            Some(Some(_)) => {
                return Err(StoreError::DeleteConflict {
                    entity: Entity::VirtualMfaDevice,
                    blocker: Entity::User,
                })
            }
            Some(None) => {}
        }
        // The `user_id IS NULL` guard closes the race with a concurrent bind.
        let deleted = sqlx::query(
            "DELETE FROM mfa_devices WHERE account_id = $1 AND device_name_key = $2 \
             AND user_id IS NULL",
        )
        .bind(account.as_str())
        .bind(name_key(name))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(StoreError::DeleteConflict {
                entity: Entity::VirtualMfaDevice,
                blocker: Entity::User,
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn bind_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
        device_name: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let has = count(
            &mut tx,
            "SELECT COUNT(*) FROM mfa_devices WHERE user_id = $1",
            &[user_id.as_str()],
        )
        .await?;
        if has > 0 {
            return Err(StoreError::AlreadyExists(Entity::UserMfaDevice));
        }
        let bound: Option<Option<String>> = sqlx::query_scalar(
            "SELECT user_id FROM mfa_devices WHERE account_id = $1 AND device_name_key = $2",
        )
        .bind(account.as_str())
        .bind(name_key(device_name))
        .fetch_optional(&mut *tx)
        .await?;
        match bound {
            None => return Err(StoreError::NotFound(Entity::VirtualMfaDevice)),
            Some(Some(_)) => return Err(StoreError::AlreadyExists(Entity::VirtualMfaDeviceUser)),
            Some(None) => {}
        }
        let updated = sqlx::query(
            "UPDATE mfa_devices SET user_id = $3, activate_date = $4 WHERE account_id = $1 \
             AND device_name_key = $2 AND user_id IS NULL",
        )
        .bind(account.as_str())
        .bind(name_key(device_name))
        .bind(user_id.as_str())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::UserMfaDevice))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::AlreadyExists(Entity::VirtualMfaDeviceUser));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unbind_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<VirtualMfaDevice, StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let row = sqlx::query(&format!("{MFA_SELECT} WHERE d.user_id = $1"))
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound(Entity::UserMfaDevice))?;
        let before = device(&row)?;
        sqlx::query(
            "UPDATE mfa_devices SET user_id = NULL, activate_date = NULL WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn get_user_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<VirtualMfaDevice, StoreError> {
        let user_id = self.user_id_of(account, user_name).await?;
        let row = sqlx::query(&format!("{MFA_SELECT} WHERE d.user_id = $1"))
            .bind(user_id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::UserMfaDevice))?;
        device(&row)
    }
}

/// Sets tags on one resource inside the caller's transaction, then checks the quota (an
/// error drops the transaction, so nothing of the call remains).
pub(super) async fn put_tags(
    tx: &mut WriteTx,
    account: &AccountId,
    resource_type: &str,
    name: &str,
    tags: &[(String, String)],
    quota: u32,
) -> Result<(), StoreError> {
    let key = name_key(name);
    for (k, v) in tags {
        sqlx::query(
            "INSERT INTO resource_tags (account_id, resource_type, resource_name_key, \
             resource_name, tag_key, tag_value) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, resource_type, resource_name_key, tag_key) \
             DO UPDATE SET tag_value = excluded.tag_value",
        )
        .bind(account.as_str())
        .bind(resource_type)
        .bind(key.as_str())
        .bind(name)
        .bind(k.as_str())
        .bind(v.as_str())
        .execute(&mut **tx)
        .await?;
    }
    let n = count(
        tx,
        "SELECT COUNT(*) FROM resource_tags WHERE account_id = $1 \
         AND resource_type = $2 AND resource_name_key = $3",
        &[account.as_str(), resource_type, key.as_str()],
    )
    .await?;
    if n > i64::from(quota) {
        return Err(StoreError::LimitExceeded {
            quota: Quota::TagsPerResource,
            limit: quota,
        });
    }
    Ok(())
}

#[async_trait]
impl TagRepo for SqlStore {
    async fn tag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        for name in names {
            put_tags(
                &mut tx,
                account,
                resource_type,
                name,
                tags,
                self.quotas.tags_per_resource,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn untag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
        keys: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for name in names {
            let key = name_key(name);
            match keys {
                None => {
                    sqlx::query(
                        "DELETE FROM resource_tags WHERE account_id = $1 AND resource_type = $2 \
                         AND resource_name_key = $3",
                    )
                    .bind(account.as_str())
                    .bind(resource_type)
                    .bind(key.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                Some(keys) => {
                    for k in keys {
                        sqlx::query(
                            "DELETE FROM resource_tags WHERE account_id = $1 \
                             AND resource_type = $2 AND resource_name_key = $3 AND tag_key = $4",
                        )
                        .bind(account.as_str())
                        .bind(resource_type)
                        .bind(key.as_str())
                        .bind(k.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_tag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: Option<&[String]>,
        keys: Option<&[String]>,
        page: &Page,
    ) -> Result<Listing<ResourceTag>, StoreError> {
        // Filters are applied here rather than in SQL: a resource has at most 20 tags and
        // the lists are short, and this keeps one portable statement.
        let found = sqlx::query(
            "SELECT resource_name, resource_name_key, tag_key, tag_value FROM resource_tags \
             WHERE account_id = $1 AND resource_type = $2 \
             AND (resource_name_key || '/' || tag_key) > $3 \
             ORDER BY resource_name_key, tag_key",
        )
        .bind(account.as_str())
        .bind(resource_type)
        .bind(page.after_key())
        .fetch_all(&self.pool)
        .await?;
        let name_keys: Option<Vec<String>> = names.map(|n| n.iter().map(|s| name_key(s)).collect());
        let max = usize::try_from(page.max_items()).unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        for r in &found {
            let nk: String = r.try_get("resource_name_key")?;
            let tk: String = r.try_get("tag_key")?;
            if name_keys.as_ref().is_some_and(|n| !n.contains(&nk)) {
                continue;
            }
            if keys.is_some_and(|k| !k.contains(&tk)) {
                continue;
            }
            rows.push((
                format!("{nk}/{tk}"),
                ResourceTag {
                    resource_type: resource_type.to_owned(),
                    resource_name: r.try_get("resource_name")?,
                    tag_key: tk,
                    tag_value: r.try_get("tag_value")?,
                },
            ));
            if rows.len() > max {
                break;
            }
        }
        let listing = Listing::from_rows(rows, page, |(k, _)| k.clone());
        Ok(Listing {
            items: listing.items.into_iter().map(|(_, t)| t).collect(),
            marker: listing.marker,
        })
    }

    async fn tags_for(
        &self,
        account: &AccountId,
        resource_type: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT tag_key, tag_value FROM resource_tags WHERE account_id = $1 \
             AND resource_type = $2 AND resource_name_key = $3 ORDER BY tag_key",
        )
        .bind(account.as_str())
        .bind(resource_type)
        .bind(name_key(name))
        .fetch_all(&self.pool)
        .await?;
        Ok(found)
    }
}
