use async_trait::async_trait;
use rampart_model::{
    AccessKey, AccessKeyId, AccessKeyStatus, AccountId, KeyOwner, NewAccessKey, Timestamp, UserId,
};
use sqlx::AnyPool;

use super::errors::{already_exists, corrupt_id};
use super::rows::{self, access_key_columns, name_key};
use super::users::lock_user;
use super::SqlStore;
use super::WriteTx;
use crate::error::{Entity, Quota, StoreError};
use crate::repo::{AccessKeyRepo, KeyOwnerRef};

/// Selects an owner's keys: `$1` is the account id, `$2` the user id or, for the root
/// identity, the empty string (root keys have no user id). One condition for both kinds of
/// owner keeps the statements and their placeholders fixed; the index on
/// (account_id, user_id) still narrows the scan to the account's keys.
const OWNER_KEYS: &str = "account_id = $1 AND COALESCE(user_id, '') = $2";

/// The bind values for [`OWNER_KEYS`].
fn owner_binds(owner: &KeyOwner) -> (&str, &str) {
    match owner {
        KeyOwner::AccountRoot(account) => (account.as_str(), ""),
        KeyOwner::User {
            account_id,
            user_id,
            ..
        } => (account_id.as_str(), user_id.as_str()),
    }
}

#[async_trait]
impl AccessKeyRepo for SqlStore {
    async fn create_access_key(
        &self,
        owner: KeyOwnerRef<'_>,
        key: NewAccessKey,
        now: Timestamp,
    ) -> Result<AccessKey, StoreError> {
        let mut tx = self.begin().await?;
        let (key_owner, existing, quota, limit) = match owner {
            KeyOwnerRef::AccountRoot(account) => {
                lock_account(&mut tx, account).await?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id IS NULL",
                )
                .bind(account.as_str())
                .fetch_one(&mut *tx)
                .await?;
                let owner = KeyOwner::AccountRoot(account.clone());
                (
                    owner,
                    n,
                    Quota::AccessKeysPerRoot,
                    self.quotas.access_keys_per_root,
                )
            }
            KeyOwnerRef::User {
                account_id,
                user_name,
            } => {
                let (user_id, user_name) = lock_user(&mut tx, account_id, user_name).await?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id = $2",
                )
                .bind(account_id.as_str())
                .bind(user_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
                let owner = KeyOwner::User {
                    account_id: account_id.clone(),
                    user_id,
                    user_name,
                };
                (
                    owner,
                    n,
                    Quota::AccessKeysPerUser,
                    self.quotas.access_keys_per_user,
                )
            }
        };
        if existing >= i64::from(limit) {
            return Err(StoreError::LimitExceeded { quota, limit });
        }
        let user_id = match &key_owner {
            KeyOwner::AccountRoot(_) => None,
            KeyOwner::User { user_id, .. } => Some(user_id.as_str()),
        };
        sqlx::query(
            "INSERT INTO access_keys \
             (access_key_id, account_id, user_id, status, create_date, sealed_secret) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.as_str())
        .bind(key_owner.account_id().as_str())
        .bind(user_id)
        .bind(AccessKeyStatus::Active.as_str())
        .bind(now.unix_millis())
        .bind(key.sealed_secret.as_bytes())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::AccessKey))?;
        tx.commit().await?;
        Ok(AccessKey {
            id: key.id,
            owner: key_owner,
            status: AccessKeyStatus::Active,
            create_date: now,
            sealed_secret: key.sealed_secret,
        })
    }

    async fn get_access_key(&self, id: &AccessKeyId) -> Result<AccessKey, StoreError> {
        let sql = concat!(
            "SELECT ",
            access_key_columns!(),
            " FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id ",
            "WHERE k.access_key_id = $1"
        );
        let row = sqlx::query(sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::AccessKey))?;
        rows::access_key(&row)
    }

    async fn get_access_key_with_epoch(
        &self,
        id: &AccessKeyId,
    ) -> Result<(AccessKey, i64), StoreError> {
        let sql = concat!(
            "SELECT ",
            access_key_columns!(),
            ", a.authz_epoch FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id ",
            "JOIN accounts a ON a.account_id = k.account_id WHERE k.access_key_id = $1"
        );
        let row = sqlx::query(sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::AccessKey))?;
        let epoch: i64 = sqlx::Row::try_get(&row, "authz_epoch")?;
        Ok((rows::access_key(&row)?, epoch))
    }

    async fn list_access_keys(&self, owner: KeyOwnerRef<'_>) -> Result<Vec<AccessKey>, StoreError> {
        let owner = resolve_owner(&self.pool, owner).await?;
        let (account, user) = owner_binds(&owner);
        // OWNER_KEYS, qualified: both tables have a user_id.
        let sql = format!(
            "SELECT {} FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id \
             WHERE k.account_id = $1 AND COALESCE(k.user_id, '') = $2 \
             ORDER BY k.create_date, k.access_key_id",
            access_key_columns!(),
        );
        let found = sqlx::query(&sql)
            .bind(account)
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(rows::access_key).collect()
    }

    async fn set_access_key_status(
        &self,
        owner: KeyOwnerRef<'_>,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), StoreError> {
        let owner = resolve_owner(&self.pool, owner).await?;
        let (account, user) = owner_binds(&owner);
        let sql =
            format!("UPDATE access_keys SET status = $3 WHERE access_key_id = $4 AND {OWNER_KEYS}");
        let mut tx = self.begin().await?;
        let changed = sqlx::query(&sql)
            .bind(account)
            .bind(user)
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(Entity::AccessKey));
        }
        tx.commit().await
    }

    async fn delete_access_key(
        &self,
        owner: KeyOwnerRef<'_>,
        id: &AccessKeyId,
    ) -> Result<(), StoreError> {
        let owner = resolve_owner(&self.pool, owner).await?;
        let (account, user) = owner_binds(&owner);
        let sql = format!("DELETE FROM access_keys WHERE access_key_id = $3 AND {OWNER_KEYS}");
        let mut tx = self.begin().await?;
        let deleted = sqlx::query(&sql)
            .bind(account)
            .bind(user)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(Entity::AccessKey));
        }
        tx.commit().await
    }
}

/// The owner a request names, by id; `NotFound(Account | User)` if it does not exist, so
/// that "no such key" is only ever said about owners that do. Keys are matched on the user
/// id afterwards, so a concurrent rename cannot redirect the operation.
async fn resolve_owner(pool: &AnyPool, owner: KeyOwnerRef<'_>) -> Result<KeyOwner, StoreError> {
    match owner {
        KeyOwnerRef::AccountRoot(account) => {
            let found = sqlx::query("SELECT 1 FROM accounts WHERE account_id = $1")
                .bind(account.as_str())
                .fetch_optional(pool)
                .await?;
            found
                .map(|_| KeyOwner::AccountRoot(account.clone()))
                .ok_or(StoreError::NotFound(Entity::Account))
        }
        KeyOwnerRef::User {
            account_id,
            user_name,
        } => {
            let found: Option<(String, String)> = sqlx::query_as(
                "SELECT user_id, user_name FROM users \
                 WHERE account_id = $1 AND user_name_key = $2",
            )
            .bind(account_id.as_str())
            .bind(name_key(user_name))
            .fetch_optional(pool)
            .await?;
            let (user_id, user_name) = found.ok_or(StoreError::NotFound(Entity::User))?;
            Ok(KeyOwner::User {
                account_id: account_id.clone(),
                user_id: UserId::parse(&user_id).map_err(corrupt_id)?,
                user_name,
            })
        }
    }
}

/// Takes the account row's lock for the rest of the transaction: the root identity's
/// counterpart of [`lock_user`], with the same invariant.
async fn lock_account(tx: &mut WriteTx, account: &AccountId) -> Result<(), StoreError> {
    let locked = sqlx::query("UPDATE accounts SET account_id = account_id WHERE account_id = $1")
        .bind(account.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if locked == 0 {
        return Err(StoreError::NotFound(Entity::Account));
    }
    Ok(())
}
