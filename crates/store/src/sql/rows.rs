//! Rows to entities. Every value read back is parsed again: a row changed behind the store's
//! back surfaces as `Internal`, not as a malformed id handed to the API.

use rampart_model::{
    AccessKey, AccessKeyId, AccessKeyStatus, Account, AccountId, KeyOwner, SealedSecret, Timestamp,
    User, UserId,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::errors::{corrupt_id, corrupt_time};
use crate::error::StoreError;

/// The unique, lookup and sort key of a name: ASCII letters lower-cased. Names are ASCII by
/// RAM's rules; anything else is left as is rather than folded by an engine-specific
/// `lower()`.
pub(crate) fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

pub(crate) fn time(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_millis(millis).map_err(corrupt_time)
}

pub(crate) fn account_id(text: &str) -> Result<AccountId, StoreError> {
    AccountId::parse(text).map_err(corrupt_id)
}

pub(crate) const ACCOUNT_COLUMNS: &str = "account_id, name, create_date";

pub(crate) fn account(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: account_id(row.try_get("account_id")?)?,
        name: row.try_get("name")?,
        created: time(row.try_get("create_date")?)?,
    })
}

/// Unqualified, so the list also serves `RETURNING`.
macro_rules! user_columns {
    () => {
        "account_id, user_id, user_name, display_name, email, mobile_phone, comments, \
         create_date, update_date, last_login_date"
    };
}
pub(crate) use user_columns;

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    let last_login: Option<i64> = row.try_get("last_login_date")?;
    Ok(User {
        account_id: account_id(row.try_get("account_id")?)?,
        user_id: UserId::parse(row.try_get("user_id")?).map_err(corrupt_id)?,
        user_name: row.try_get("user_name")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        mobile_phone: row.try_get("mobile_phone")?,
        comments: row.try_get("comments")?,
        create_date: time(row.try_get("create_date")?)?,
        update_date: time(row.try_get("update_date")?)?,
        last_login_date: last_login.map(time).transpose()?,
    })
}

/// Selects an AccessKey with its owner's current name; expects `access_keys k` and
/// `users u` (left-joined on the user id).
macro_rules! access_key_columns {
    () => {
        "k.access_key_id, k.account_id, k.user_id, u.user_name, k.status, k.create_date, \
         k.sealed_secret"
    };
}
pub(crate) use access_key_columns;

pub(crate) fn access_key(row: &AnyRow) -> Result<AccessKey, StoreError> {
    let account = account_id(row.try_get("account_id")?)?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let user_name: Option<String> = row.try_get("user_name")?;
    let owner = match (user_id, user_name) {
        (None, _) => KeyOwner::AccountRoot(account),
        (Some(user_id), Some(user_name)) => KeyOwner::User {
            account_id: account,
            user_id: UserId::parse(&user_id).map_err(corrupt_id)?,
            user_name,
        },
        // INVARIANT: the foreign key (account_id, user_id) → users makes this unreachable
        // unless foreign keys were switched off while the user was deleted.
        (Some(_), None) => {
            return Err(StoreError::Internal(
                "access key refers to a user that does not exist".to_owned(),
            ))
        }
    };
    let status: String = row.try_get("status")?;
    Ok(AccessKey {
        id: AccessKeyId::parse(row.try_get("access_key_id")?).map_err(corrupt_id)?,
        owner,
        status: status
            .parse::<AccessKeyStatus>()
            .map_err(|e| StoreError::Internal(format!("stored {e}")))?,
        create_date: time(row.try_get("create_date")?)?,
        sealed_secret: SealedSecret::from_bytes(row.try_get("sealed_secret")?),
    })
}
