//! The repository traits: what the rest of Rampart may ask of storage.
//!
//! Every method that changes something takes `now` from the caller's clock, so one request
//! stamps all its rows with one time and tests control it. Names are compared
//! case-insensitively (ASCII) for uniqueness and lookup, and returned as first written.

use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{
    AccessKey, AccessKeyId, AccessKeyStatus, Account, AccountId, NewAccessKey, Timestamp, User,
};

use crate::error::StoreError;
use crate::page::{Listing, Page};
use crate::repo_federation::FederationRepo;
use crate::repo_iam::{GroupRepo, PolicyRepo, RoleRepo};
use crate::repo_people::{LoginProfileRepo, MfaRepo, SettingsRepo, TagRepo};

/// A new account. Its id is chosen by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Unique across the installation (exact comparison).
    pub name: String,
}

/// A new RAM user, as `CreateUser` describes it; the API layer has validated every field.
/// Its id is chosen by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub mobile_phone: String,
    pub comments: String,
}

/// `UpdateUser`: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub new_user_name: Option<String>,
    pub new_display_name: Option<String>,
    pub new_email: Option<String>,
    pub new_mobile_phone: Option<String>,
    pub new_comments: Option<String>,
}

/// Whose AccessKeys an operation is about, as a request names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwnerRef<'a> {
    AccountRoot(&'a AccountId),
    User {
        account_id: &'a AccountId,
        user_name: &'a str,
    },
}

/// An AccessKey's state as read inside a nonce batch's transaction: what a server that
/// caches keys must re-check on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheck {
    pub status: AccessKeyStatus,
    /// The key's account's authorization epoch.
    pub authz_epoch: i64,
    /// The owning user's current name (`None` for a root key).
    pub user_name: Option<String>,
}

/// Whether a signature nonce was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    /// First use: the request may proceed.
    Fresh,
    /// Seen within its time to live: `SignatureNonceUsed`.
    Replayed,
    /// Only from [`crate::AuditRepo::spend_nonces_and_append`]: the call ran on a
    /// [`KeyAssumption`] that no longer holds. Neither its nonce nor its event was written;
    /// the call must run again from a fresh read of its key.
    KeyChanged,
}

/// A nonce of a call that ran before spending it, and what that call took for its key's
/// state, if it took it from a cache instead of reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceSpend {
    pub access_key_id: String,
    pub nonce: String,
    pub assumed: Option<KeyAssumption>,
}

impl NonceSpend {
    /// A nonce whose call read its key's state itself.
    pub fn new(access_key_id: impl Into<String>, nonce: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            nonce: nonce.into(),
            assumed: None,
        }
    }
}

/// A key's state as a call assumed it: the key exists and is active, its account's
/// authorization epoch is `authz_epoch`, and its owner is named `user_name` (`None`: the
/// account's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAssumption {
    pub authz_epoch: i64,
    pub user_name: Option<String>,
}

impl KeyAssumption {
    /// Whether a key found in this state (or not found: `None`) bears the assumption out.
    pub fn holds(&self, found: Option<&KeyCheck>) -> bool {
        found.is_some_and(|check| {
            check.status == rampart_model::AccessKeyStatus::Active
                && check.authz_epoch == self.authz_epoch
                && check.user_name == self.user_name
        })
    }
}

#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Creates an account and its root identity's first AccessKey, both or neither.
    ///
    /// `AlreadyExists(Account)` if the name is taken, `AlreadyExists(AccessKey)` if the
    /// key id is (then no account is created either).
    async fn create_account(
        &self,
        account: NewAccount,
        root_key: NewAccessKey,
        now: Timestamp,
    ) -> Result<(Account, AccessKey), StoreError>;

    async fn get_account(&self, id: &AccountId) -> Result<Account, StoreError>;

    /// Accounts in id order.
    async fn list_accounts(&self, page: &Page) -> Result<Listing<Account>, StoreError>;
}

#[async_trait]
pub trait UserRepo: Send + Sync {
    /// `NotFound(Account)`, or `AlreadyExists(User)` if the account has a user of that name
    /// in any letter case.
    async fn create_user(
        &self,
        account: &AccountId,
        user: NewUser,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    async fn get_user(&self, account: &AccountId, user_name: &str) -> Result<User, StoreError>;

    /// Applies `update` and sets `UpdateDate`. A rename onto a taken name is
    /// `AlreadyExists(User)` and changes nothing.
    async fn update_user(
        &self,
        account: &AccountId,
        user_name: &str,
        update: UserUpdate,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    /// `DeleteConflict { User, AccessKey }` while the user has AccessKeys.
    async fn delete_user(&self, account: &AccountId, user_name: &str) -> Result<(), StoreError>;

    /// Users in name order (case-insensitive). An unknown account has no users.
    async fn list_users(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<User>, StoreError>;
}

#[async_trait]
pub trait AccessKeyRepo: Send + Sync {
    /// Stores a new `Active` key for `owner`. `NotFound(User | Account)`,
    /// `LimitExceeded` when the owner already has as many keys as its quota allows (checked
    /// under a lock on the owner, so concurrent creates cannot overshoot), or
    /// `AlreadyExists(AccessKey)` for a duplicate id.
    async fn create_access_key(
        &self,
        owner: KeyOwnerRef<'_>,
        key: NewAccessKey,
        now: Timestamp,
    ) -> Result<AccessKey, StoreError>;

    /// The key, its owner, status and sealed secret: what signature verification needs.
    async fn get_access_key(&self, id: &AccessKeyId) -> Result<AccessKey, StoreError>;

    /// [`AccessKeyRepo::get_access_key`] and its account's authorization epoch in one read:
    /// what authenticating and then authorizing a request needs.
    async fn get_access_key_with_epoch(
        &self,
        id: &AccessKeyId,
    ) -> Result<(AccessKey, i64), StoreError>;

    /// The owner's keys, oldest first. `NotFound(User | Account)` if the owner is unknown.
    async fn list_access_keys(&self, owner: KeyOwnerRef<'_>) -> Result<Vec<AccessKey>, StoreError>;

    /// `NotFound(AccessKey)` if the key does not exist or belongs to someone else.
    async fn set_access_key_status(
        &self,
        owner: KeyOwnerRef<'_>,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), StoreError>;

    /// `NotFound(AccessKey)` if the key does not exist or belongs to someone else.
    async fn delete_access_key(
        &self,
        owner: KeyOwnerRef<'_>,
        id: &AccessKeyId,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait NonceRepo: Send + Sync {
    /// Records that `nonce` was used with `access_key_id` (permanent or STS), and says
    /// whether it had been used before and not yet expired. Atomic across every process
    /// sharing the database. A nonce is remembered for `ttl` after `now`, which should be at
    /// least the accepted clock skew. Expired nonces are purged from time to time.
    async fn use_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<NonceUse, StoreError>;

    /// [`NonceRepo::use_nonce`] for many `(access_key_id, nonce)` pairs in one transaction:
    /// the server batches concurrent requests' nonces so that one commit serves them all.
    /// The answers are in the batch's order.
    async fn use_nonces(
        &self,
        batch: &[(String, String)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<NonceUse>, StoreError> {
        let checked = self.use_nonces_with_keys(batch, now, ttl).await?;
        Ok(checked.into_iter().map(|(used, _)| used).collect())
    }

    /// [`NonceRepo::use_nonces`], and in the same transaction the current state of each
    /// AccessKey named in the batch (`None`: no such key), so a server may cache keys and
    /// still refuse a disabled or deleted one on the very next request.
    async fn use_nonces_with_keys(
        &self,
        batch: &[(String, String)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<(NonceUse, Option<KeyCheck>)>, StoreError>;

    /// Deletes every nonce expired at `now`; returns how many. [`NonceRepo::use_nonce`]
    /// already does this now and then, so calling it is optional.
    async fn purge_expired_nonces(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Everything the server needs from storage, behind one handle: `Arc<dyn Store>`.
pub trait Store:
    AccountRepo
    + UserRepo
    + AccessKeyRepo
    + NonceRepo
    + GroupRepo
    + RoleRepo
    + PolicyRepo
    + LoginProfileRepo
    + SettingsRepo
    + MfaRepo
    + TagRepo
    + FederationRepo
    + crate::repo_audit::AuditRepo
    + crate::repo_console::ConsoleRepo
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: AccountRepo
        + UserRepo
        + AccessKeyRepo
        + NonceRepo
        + GroupRepo
        + RoleRepo
        + PolicyRepo
        + LoginProfileRepo
        + SettingsRepo
        + MfaRepo
        + TagRepo
        + FederationRepo
        + crate::repo_audit::AuditRepo
        + crate::repo_console::ConsoleRepo
        + std::fmt::Debug
{
}
