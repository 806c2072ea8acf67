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
    LoginProfileRepo, LoginProfileUpdate, MfaRepo, NewLoginProfile, PasswordHistoryEntry,
    ResourceTag, SettingsRepo, TagRepo, TotpUse, TOTP_STEPS_KEPT,
};

/// Passwords kept per user in `password_history`: RAM's largest `PasswordReusePrevention`.
const PASSWORD_HISTORY_KEPT: i64 = 24;

/// Appends a password to the user's history and trims it to [`PASSWORD_HISTORY_KEPT`].
/// Called inside the transaction that sets the password, after [`lock_user`].
async fn remember_password(
    tx: &mut WriteTx,
    account: &AccountId,
    user_id: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO password_history (account_id, user_id, password_hash, set_date) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(account.as_str())
    .bind(user_id)
    .bind(password_hash)
    .bind(now.unix_millis())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM password_history WHERE user_id = $1 AND history_id NOT IN \
         (SELECT history_id FROM password_history WHERE user_id = $1 \
          ORDER BY history_id DESC LIMIT $2)",
    )
    .bind(user_id)
    .bind(PASSWORD_HISTORY_KEPT)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The lookup key of a device named by its name or by its serial number
/// `acs:ram::<account>:mfa/<name>`. A serial of another account, or a malformed one, is
/// `NotFound`: device names cannot contain `:`, so nothing else could match it.
fn device_key(account: &AccountId, device: &str) -> Result<String, StoreError> {
    match device.strip_prefix("acs:ram::") {
        None => Ok(name_key(device)),
        Some(rest) => rest
            .split_once(":mfa/")
            .filter(|(owner, name)| *owner == account.as_str() && !name.is_empty())
            .map(|(_, name)| name_key(name))
            .ok_or(StoreError::NotFound(Entity::VirtualMfaDevice)),
    }
}

fn profile(row: &AnyRow) -> Result<LoginProfile, StoreError> {
    let reset: i64 = row.try_get("password_reset_required")?;
    let mfa: i64 = row.try_get("mfa_bind_required")?;
    let active: i64 = row.try_get("active")?;
    let initial_since: Option<i64> = row.try_get("initial_since")?;
    Ok(LoginProfile {
        user_name: row.try_get("user_name")?,
        password_hash: row.try_get("password_hash")?,
        password_reset_required: reset != 0,
        mfa_bind_required: mfa != 0,
        active: active != 0,
        initial_since: initial_since.map(time).transpose()?,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
    })
}

const PROFILE_SELECT: &str = "SELECT u.user_name, p.password_hash, p.password_reset_required, \
     p.mfa_bind_required, p.active, p.initial_since, p.create_date, p.update_date \
     FROM login_profiles p \
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
             password_reset_required, mfa_bind_required, active, initial_since, create_date, \
             update_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)",
        )
        .bind(account.as_str())
        .bind(user_id.as_str())
        .bind(new.password_hash.as_str())
        .bind(i64::from(new.password_reset_required))
        .bind(i64::from(new.mfa_bind_required))
        .bind(i64::from(new.active))
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::LoginProfile))?;
        remember_password(&mut tx, account, user_id.as_str(), &new.password_hash, now).await?;
        tx.commit().await?;
        Ok(LoginProfile {
            user_name: name,
            password_hash: new.password_hash,
            password_reset_required: new.password_reset_required,
            mfa_bind_required: new.mfa_bind_required,
            active: new.active,
            initial_since: Some(now),
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
        let new_hash = update.password_hash.clone();
        let changed = sqlx::query(
            "UPDATE login_profiles SET password_hash = COALESCE($2, password_hash), \
             password_reset_required = COALESCE($3, password_reset_required), \
             mfa_bind_required = COALESCE($4, mfa_bind_required), update_date = $5, \
             active = COALESCE($6, active), \
             initial_since = CASE $7 WHEN 1 THEN $5 WHEN 0 THEN NULL ELSE initial_since END \
             WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .bind(update.password_hash)
        .bind(update.password_reset_required.map(i64::from))
        .bind(update.mfa_bind_required.map(i64::from))
        .bind(now.unix_millis())
        .bind(update.active.map(i64::from))
        .bind(update.password_initial.map(i64::from))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(Entity::LoginProfile));
        }
        if let Some(hash) = &new_hash {
            remember_password(&mut tx, account, user_id.as_str(), hash, now).await?;
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

    async fn list_password_history(
        &self,
        account: &AccountId,
        user_name: &str,
        limit: u32,
    ) -> Result<Vec<PasswordHistoryEntry>, StoreError> {
        let user_id = self.user_id_of(account, user_name).await?;
        let found: Vec<(String, i64)> = sqlx::query_as(
            "SELECT password_hash, set_date FROM password_history WHERE user_id = $1 \
             ORDER BY history_id DESC LIMIT $2",
        )
        .bind(user_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        found
            .into_iter()
            .map(|(password_hash, set_date)| {
                Ok(PasswordHistoryEntry {
                    password_hash,
                    set_date: time(set_date)?,
                })
            })
            .collect()
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
        let mut tx = self.begin().await?;
        let updated = sqlx::query("UPDATE accounts SET alias = $2 WHERE account_id = $1")
            .bind(account.as_str())
            .bind(alias)
            .execute(&mut *tx)
            .await
            .map_err(already_exists(Entity::AccountAlias))?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(Entity::Account));
        }
        tx.commit().await
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
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE accounts SET alias = NULL WHERE account_id = $1")
            .bind(account.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
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
        .bind(device_key(account, name)?)
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
        let key = device_key(account, name)?;
        let mut tx = self.begin().await?;
        let bound: Option<Option<String>> = sqlx::query_scalar(
            "SELECT user_id FROM mfa_devices WHERE account_id = $1 AND device_name_key = $2",
        )
        .bind(account.as_str())
        .bind(key.as_str())
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
        .bind(key.as_str())
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
        let key = device_key(account, device_name)?;
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
        .bind(key.as_str())
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
        .bind(key.as_str())
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

    async fn record_totp_use(
        &self,
        account: &AccountId,
        device: &str,
        step: u64,
    ) -> Result<TotpUse, StoreError> {
        let key = device_key(account, device)?;
        let step = i64::try_from(step)
            .map_err(|_| StoreError::Internal("TOTP step out of range".to_owned()))?;
        let kept = i64::try_from(TOTP_STEPS_KEPT).unwrap_or(i64::MAX);
        let mut tx = self.begin().await?;
        // Takes the device's row lock (as lock_user does for users): a concurrent delete of
        // the device cannot slip between the check and the insert.
        let found: Option<String> = sqlx::query_scalar(
            "UPDATE mfa_devices SET device_name_key = device_name_key \
             WHERE account_id = $1 AND device_name_key = $2 RETURNING device_name_key",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(Entity::VirtualMfaDevice));
        }
        sqlx::query(
            "DELETE FROM totp_uses WHERE account_id = $1 AND device_name_key = $2 AND step < $3",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(step.saturating_sub(kept))
        .execute(&mut *tx)
        .await?;
        // INVARIANT: the primary key (account_id, device_name_key, step) is the replay
        // check; of two concurrent uses of one code exactly one inserts the row.
        let inserted = sqlx::query(
            "INSERT INTO totp_uses (account_id, device_name_key, step) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, device_name_key, step) DO NOTHING",
        )
        .bind(account.as_str())
        .bind(key.as_str())
        .bind(step)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if inserted == 0 {
            TotpUse::Replayed
        } else {
            TotpUse::Fresh
        })
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
        // Resumes after the (name key, tag key) pair in the marker. Compared as a pair, not
        // as one concatenated string: `-` and `.` sort before the separator, so "a-b/k"
        // would come before "a/k" as text although "a" < "a-b" as names. Resource names
        // never contain `/`, so the first one separates the two.
        let (after_name, after_key) = page
            .after_key()
            .split_once('/')
            .unwrap_or((page.after_key(), ""));
        let name_keys: Option<Vec<String>> = names.map(|n| n.iter().map(|s| name_key(s)).collect());
        if name_keys.as_ref().is_some_and(Vec::is_empty) || keys.is_some_and(<[String]>::is_empty) {
            return Ok(Listing {
                items: Vec::new(),
                marker: None,
            });
        }
        let mut sql = String::from(
            "SELECT resource_name, resource_name_key, tag_key, tag_value FROM resource_tags \
             WHERE account_id = $1 AND resource_type = $2 \
             AND (resource_name_key > $3 OR (resource_name_key = $3 AND tag_key > $4))",
        );
        let mut next = 5;
        let mut in_list = |sql: &mut String, column: &str, n: usize| {
            let list: Vec<String> = (next..next + n).map(|i| format!("${i}")).collect();
            next += n;
            sql.push_str(&format!(" AND {column} IN ({})", list.join(", ")));
        };
        if let Some(n) = &name_keys {
            in_list(&mut sql, "resource_name_key", n.len());
        }
        if let Some(k) = keys {
            in_list(&mut sql, "tag_key", k.len());
        }
        sql.push_str(&format!(
            " ORDER BY resource_name_key, tag_key LIMIT ${next}"
        ));
        let mut query = sqlx::query(&sql)
            .bind(account.as_str())
            .bind(resource_type)
            .bind(after_name)
            .bind(after_key);
        for n in name_keys.iter().flatten() {
            query = query.bind(n.as_str());
        }
        for k in keys.into_iter().flatten() {
            query = query.bind(k.as_str());
        }
        let found = query
            .bind(i64::from(page.max_items()) + 1)
            .fetch_all(&self.pool)
            .await?;
        let mut rows = Vec::with_capacity(found.len());
        for r in &found {
            let nk: String = r.try_get("resource_name_key")?;
            let tk: String = r.try_get("tag_key")?;
            rows.push((
                format!("{nk}/{tk}"),
                ResourceTag {
                    resource_type: resource_type.to_owned(),
                    resource_name: r.try_get("resource_name")?,
                    tag_key: tk,
                    tag_value: r.try_get("tag_value")?,
                },
            ));
        }
        let listing = Listing::from_rows(rows, page, |(k, _)| k.clone());
        Ok(Listing {
            items: listing.items.into_iter().map(|(_, t)| t).collect(),
            marker: listing.marker,
        })
    }

    async fn tags_for_names(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<(String, String)>> =
            std::collections::HashMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT resource_name_key, tag_key, tag_value FROM resource_tags \
             WHERE account_id = $1 AND resource_type = $2 AND resource_name_key IN ({}) \
             ORDER BY resource_name_key, tag_key",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql)
            .bind(account.as_str())
            .bind(resource_type);
        for name in names {
            q = q.bind(name_key(name));
        }
        for (name, k, v) in q.fetch_all(&self.pool).await? {
            out.entry(name).or_default().push((k, v));
        }
        Ok(out)
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
