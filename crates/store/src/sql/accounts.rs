use async_trait::async_trait;
use rampart_model::{
    AccessKey, AccessKeyStatus, Account, AccountId, KeyOwner, NewAccessKey, Timestamp,
};

use super::errors::already_exists;
use super::rows::{self, ACCOUNT_COLUMNS};
use super::SqlStore;
use super::WriteTx;
use crate::error::{Entity, StoreError};
use crate::page::{Listing, Page};
use crate::repo::{AccountRepo, NewAccount};

/// Generated ids are checked against existing rows and drawn again on a clash; with 16 or
/// 17 random digits a second draw is already rare, so running out means a broken source.
pub(super) const ID_ATTEMPTS: usize = 8;

#[async_trait]
impl AccountRepo for SqlStore {
    async fn create_account(
        &self,
        account: NewAccount,
        root_key: NewAccessKey,
        now: Timestamp,
    ) -> Result<(Account, AccessKey), StoreError> {
        let mut tx = self.begin().await?;
        let id = fresh_id(
            &mut tx,
            "SELECT 1 FROM accounts WHERE account_id = $1",
            AccountId::generate,
        )
        .await?;
        sqlx::query("INSERT INTO accounts (account_id, name, create_date) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(account.name.as_str())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(already_exists(Entity::Account))?;
        sqlx::query(
            "INSERT INTO access_keys \
             (access_key_id, account_id, user_id, status, create_date, sealed_secret) \
             VALUES ($1, $2, NULL, $3, $4, $5)",
        )
        .bind(root_key.id.as_str())
        .bind(id.as_str())
        .bind(AccessKeyStatus::Active.as_str())
        .bind(now.unix_millis())
        .bind(root_key.sealed_secret.as_bytes())
        .execute(&mut *tx)
        .await
        .map_err(already_exists(Entity::AccessKey))?;
        tx.commit().await?;

        let key = AccessKey {
            id: root_key.id,
            owner: KeyOwner::AccountRoot(id.clone()),
            status: AccessKeyStatus::Active,
            create_date: now,
            sealed_secret: root_key.sealed_secret,
        };
        let account = Account {
            id,
            name: account.name,
            created: now,
        };
        Ok((account, key))
    }

    async fn get_account(&self, id: &AccountId) -> Result<Account, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::Account))?;
        rows::account(&row)
    }

    async fn list_accounts(&self, page: &Page) -> Result<Listing<Account>, StoreError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id > $1 \
             ORDER BY account_id LIMIT $2"
        );
        let found = sqlx::query(&sql)
            .bind(page.after_key())
            .bind(i64::from(page.max_items()) + 1)
            .fetch_all(&self.pool)
            .await?;
        let accounts = found
            .iter()
            .map(rows::account)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(accounts, page, |a| a.id.to_string()))
    }
}

/// A random id not yet in use: `exists` is a `SELECT 1 … WHERE <id column> = $1`. Ids are
/// random (16–17 digits), so a second draw is rare and a third practically never happens.
pub(super) async fn fresh_id<T: std::fmt::Display>(
    tx: &mut WriteTx,
    exists: &str,
    generate: fn() -> Result<T, rampart_model::RandomError>,
) -> Result<T, StoreError> {
    for _ in 0..ID_ATTEMPTS {
        let id = generate().map_err(|e| StoreError::Internal(e.to_string()))?;
        let taken = sqlx::query(exists)
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_none() {
            return Ok(id);
        }
    }
    Err(StoreError::Internal(
        "no free id after repeated draws".to_owned(),
    ))
}
