use async_trait::async_trait;
use rampart_model::{AccountId, Timestamp, User, UserId};

use super::accounts::ID_ATTEMPTS;
use super::errors::already_exists;
use super::rows::{self, name_key, user_columns};
use super::SqlStore;
use super::WriteTx;
use crate::error::{Entity, StoreError};
use crate::page::{Listing, Page};
use crate::repo::{NewUser, UserRepo, UserUpdate};

#[async_trait]
impl UserRepo for SqlStore {
    async fn create_user(
        &self,
        account: &AccountId,
        user: NewUser,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        // One statement in the common case: the account's existence and the name's
        // uniqueness are both decided by the INSERT, which keeps the write transaction (and,
        // on SQLite, the write gate) as short as possible.
        //
        // INVARIANT: uniqueness of the name is decided by users_name_unique, not by a prior
        // SELECT: of two concurrent creates the second blocks on the index entry (PostgreSQL)
        // or on the write lock (SQLite) and then fails, never both succeed.
        let sql = concat!(
            "INSERT INTO users (",
            user_columns!(),
            ", user_name_key) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10 ",
            "WHERE EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)"
        );
        let mut attempts = 0;
        let user_id = loop {
            attempts += 1;
            let user_id = UserId::generate().map_err(|e| StoreError::Internal(e.to_string()))?;
            let mut tx = self.begin().await?;
            let inserted = sqlx::query(sql)
                .bind(account.as_str())
                .bind(user_id.as_str())
                .bind(user.user_name.as_str())
                .bind(user.display_name.as_str())
                .bind(user.email.as_str())
                .bind(user.mobile_phone.as_str())
                .bind(user.comments.as_str())
                .bind(now.unix_millis())
                .bind(now.unix_millis())
                .bind(name_key(&user.user_name))
                .execute(&mut *tx)
                .await
                .map_err(already_exists(Entity::User));
            match inserted {
                Ok(done) if done.rows_affected() == 0 => {
                    return Err(StoreError::NotFound(Entity::Account));
                }
                Ok(_) => {
                    tx.commit().await?;
                    break user_id;
                }
                Err(StoreError::AlreadyExists(_)) => {
                    drop(tx);
                    // The name, or (once in ~10^17) the random id: only the name is an error.
                    let taken = sqlx::query(
                        "SELECT 1 FROM users WHERE account_id = $1 AND user_name_key = $2",
                    )
                    .bind(account.as_str())
                    .bind(name_key(&user.user_name))
                    .fetch_optional(&self.pool)
                    .await?;
                    if taken.is_some() || attempts >= ID_ATTEMPTS {
                        return Err(StoreError::AlreadyExists(Entity::User));
                    }
                }
                Err(e) => return Err(e),
            }
        };
        Ok(User {
            account_id: account.clone(),
            user_id,
            user_name: user.user_name,
            display_name: user.display_name,
            email: user.email,
            mobile_phone: user.mobile_phone,
            comments: user.comments,
            create_date: now,
            update_date: now,
            last_login_date: None,
        })
    }

    async fn get_user(&self, account: &AccountId, user_name: &str) -> Result<User, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE account_id = $1 AND user_name_key = $2"
        );
        let row = sqlx::query(sql)
            .bind(account.as_str())
            .bind(name_key(user_name))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::User))?;
        rows::user(&row)
    }

    async fn update_user(
        &self,
        account: &AccountId,
        user_name: &str,
        update: UserUpdate,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        // One statement, fields merged in SQL: two concurrent updates of different fields
        // both take effect instead of the later one writing back a stale copy.
        let sql = concat!(
            "UPDATE users SET ",
            "user_name = COALESCE($3, user_name), ",
            "user_name_key = COALESCE($4, user_name_key), ",
            "display_name = COALESCE($5, display_name), ",
            "email = COALESCE($6, email), ",
            "mobile_phone = COALESCE($7, mobile_phone), ",
            "comments = COALESCE($8, comments), ",
            "update_date = $9 ",
            "WHERE account_id = $1 AND user_name_key = $2 RETURNING ",
            user_columns!()
        );
        let new_key = update.new_user_name.as_deref().map(name_key);
        let renamed = update.new_user_name.is_some();
        let mut tx = self.begin().await?;
        let row = sqlx::query(sql)
            .bind(account.as_str())
            .bind(name_key(user_name))
            .bind(update.new_user_name)
            .bind(new_key)
            .bind(update.new_display_name)
            .bind(update.new_email)
            .bind(update.new_mobile_phone)
            .bind(update.new_comments)
            .bind(now.unix_millis())
            .fetch_optional(&mut *tx)
            .await
            .map_err(already_exists(Entity::User))?
            .ok_or(StoreError::NotFound(Entity::User))?;
        let user = rows::user(&row)?;
        // Authorization: a rename changes the principal's ARN (acs:ram::<uid>:user/<name>),
        // which compiled policy sets may have captured.
        if renamed {
            super::bump_epoch(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_user(&self, account: &AccountId, user_name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (user_id, _) = lock_user(&mut tx, account, user_name).await?;
        let keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id = $2",
        )
        .bind(account.as_str())
        .bind(user_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if keys > 0 {
            return Err(StoreError::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::AccessKey,
            });
        }
        let groups: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM group_members WHERE account_id = $1 AND user_id = $2",
        )
        .bind(account.as_str())
        .bind(user_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if groups > 0 {
            return Err(StoreError::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::Group,
            });
        }
        if super::groups::has_attachments(
            &mut tx,
            account,
            crate::error::PrincipalKind::User,
            user_id.as_str(),
        )
        .await?
        {
            return Err(StoreError::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::Policy,
            });
        }
        for (sql, blocker) in [
            (
                "SELECT COUNT(*) FROM login_profiles WHERE user_id = $1",
                Entity::LoginProfile,
            ),
            (
                "SELECT COUNT(*) FROM mfa_devices WHERE user_id = $1",
                Entity::UserMfaDevice,
            ),
        ] {
            let n: i64 = sqlx::query_scalar(sql)
                .bind(user_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                return Err(StoreError::DeleteConflict {
                    entity: Entity::User,
                    blocker,
                });
            }
        }
        sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        // Authorization: every deletion of a principal moves the epoch (lock order: the
        // user's row, then the account's).
        super::bump_epoch(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_users(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<User>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE account_id = $1 AND user_name_key > $2 ",
            "ORDER BY user_name_key LIMIT $3"
        );
        let found = sqlx::query(sql)
            .bind(account.as_str())
            .bind(page.after_key())
            .bind(i64::from(page.max_items()) + 1)
            .fetch_all(&self.pool)
            .await?;
        let users = found
            .iter()
            .map(rows::user)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing::from_rows(users, page, |u| name_key(&u.user_name)))
    }
}

/// Finds a user and takes its row lock until the transaction ends; returns its id and
/// current name.
///
/// INVARIANT: every change that adds a row depending on a user (an AccessKey today; group
/// memberships, attachments, login profile, MFA later) and every delete of a user calls
/// this first. The lock orders them, so a quota count or a "has no dependents" check made
/// after it sees everything committed by whoever held the lock before. On PostgreSQL the
/// no-op UPDATE is what takes the row lock (READ COMMITTED re-reads after the wait); on
/// SQLite the transaction already holds the database write lock.
pub(super) async fn lock_user(
    tx: &mut WriteTx,
    account: &AccountId,
    user_name: &str,
) -> Result<(UserId, String), StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "UPDATE users SET user_id = user_id WHERE account_id = $1 AND user_name_key = $2 \
         RETURNING user_id, user_name",
    )
    .bind(account.as_str())
    .bind(name_key(user_name))
    .fetch_optional(&mut **tx)
    .await?;
    let (user_id, user_name) = row.ok_or(StoreError::NotFound(Entity::User))?;
    let user_id = UserId::parse(&user_id).map_err(super::errors::corrupt_id)?;
    Ok((user_id, user_name))
}
