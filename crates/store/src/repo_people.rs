//! Login profiles, account settings and alias, virtual MFA devices and resource tags.

use async_trait::async_trait;
use rampart_model::{AccountId, LoginProfile, Timestamp, VirtualMfaDevice};

use crate::error::StoreError;
use crate::page::{Listing, Page};

#[derive(Clone, PartialEq, Eq)]
pub struct NewLoginProfile {
    pub password_hash: String,
    pub password_reset_required: bool,
    pub mfa_bind_required: bool,
    /// IMS's `Status` (`Active` when `true`). The password is an initial one, set now.
    pub active: bool,
}

impl std::fmt::Debug for NewLoginProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLoginProfile").finish_non_exhaustive()
    }
}

/// `None` leaves a field as it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginProfileUpdate {
    pub password_hash: Option<String>,
    pub password_reset_required: Option<bool>,
    pub mfa_bind_required: Option<bool>,
    /// IMS's `Status` (`Active` when `true`).
    pub active: Option<bool>,
    /// `Some(true)`: the password is (again) an initial one from now (an administrator set
    /// it, or re-enabled console logon); `Some(false)`: the user chose it.
    pub password_initial: Option<bool>,
}

impl std::fmt::Debug for LoginProfileUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfileUpdate")
            .field("password_reset_required", &self.password_reset_required)
            .field("mfa_bind_required", &self.mfa_bind_required)
            .field("active", &self.active)
            .field("password_initial", &self.password_initial)
            .finish_non_exhaustive()
    }
}

/// A password a login profile was given, for `PasswordReusePrevention`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHistoryEntry {
    /// The PHC string stored at the time; never a plain password.
    pub password_hash: String,
    pub set_date: Timestamp,
}

impl std::fmt::Debug for PasswordHistoryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the hash: it is still worth an offline guessing attack.
        f.debug_struct("PasswordHistoryEntry")
            .field("set_date", &self.set_date)
            .finish_non_exhaustive()
    }
}

/// Whether a TOTP code (one time step of one device) was accepted before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpUse {
    /// First use: the code may be accepted.
    Fresh,
    /// Already accepted once: refuse it (`CheckAuthenticationCodeFail`).
    Replayed,
}

/// One tag of one resource, as `ListTagResources` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTag {
    pub resource_type: String,
    pub resource_name: String,
    pub tag_key: String,
    pub tag_value: String,
}

#[async_trait]
pub trait LoginProfileRepo: Send + Sync {
    /// `NotFound(User)`, `AlreadyExists(LoginProfile)`.
    async fn create_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
        profile: NewLoginProfile,
        now: Timestamp,
    ) -> Result<LoginProfile, StoreError>;
    /// `NotFound(User | LoginProfile)`.
    async fn get_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<LoginProfile, StoreError>;
    async fn update_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
        update: LoginProfileUpdate,
        now: Timestamp,
    ) -> Result<LoginProfile, StoreError>;
    async fn delete_login_profile(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<(), StoreError>;
    /// The passwords the user's login profile was given, newest first, at most `limit`
    /// (the store keeps the newest 24). Written by `create_login_profile` and by
    /// `update_login_profile` with a password, in the same transaction; kept when the login
    /// profile is deleted, removed with the user. `NotFound(User)`.
    async fn list_password_history(
        &self,
        account: &AccountId,
        user_name: &str,
        limit: u32,
    ) -> Result<Vec<PasswordHistoryEntry>, StoreError>;
}

#[async_trait]
pub trait SettingsRepo: Send + Sync {
    /// A setting's JSON document, `None` if never written.
    async fn get_setting(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<Option<String>, StoreError>;
    async fn put_setting(
        &self,
        account: &AccountId,
        name: &str,
        value: &str,
    ) -> Result<(), StoreError>;
    /// `AlreadyExists(AccountAlias)` if another account has it; replaces this account's.
    async fn set_account_alias(&self, account: &AccountId, alias: &str) -> Result<(), StoreError>;
    async fn get_account_alias(&self, account: &AccountId) -> Result<Option<String>, StoreError>;
    async fn clear_account_alias(&self, account: &AccountId) -> Result<(), StoreError>;
    /// For sign-in names `user@alias`. `NotFound(Account)`.
    async fn find_account_by_alias(&self, alias: &str) -> Result<AccountId, StoreError>;
}

#[async_trait]
pub trait MfaRepo: Send + Sync {
    /// `AlreadyExists(VirtualMFADevice)`.
    async fn create_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
        sealed_seed: Vec<u8>,
        now: Timestamp,
    ) -> Result<VirtualMfaDevice, StoreError>;
    async fn list_virtual_mfa_devices(
        &self,
        account: &AccountId,
    ) -> Result<Vec<VirtualMfaDevice>, StoreError>;
    /// By device name or serial number (`acs:ram::<account>:mfa/<name>`; a serial of
    /// another account is not found). `NotFound(VirtualMFADevice)`.
    async fn get_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<VirtualMfaDevice, StoreError>;
    /// `device` is the name or the serial number. `NotFound(VirtualMFADevice)`;
    /// `DeleteConflict { VirtualMFADevice, User }` while bound.
    async fn delete_virtual_mfa_device(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<(), StoreError>;
    /// `device_name` may also be the serial number.
    /// `NotFound(User | VirtualMFADevice)`; `AlreadyExists(UserMFADevice)` if the user has a
    /// device; `AlreadyExists(VirtualMFADeviceUser)` if the device is bound to someone.
    async fn bind_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
        device_name: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Returns the device that was bound. `NotFound(UserMFADevice)`.
    async fn unbind_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<VirtualMfaDevice, StoreError>;
    /// `NotFound(User | UserMFADevice)`.
    async fn get_user_mfa_device(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<VirtualMfaDevice, StoreError>;
    /// Records that the device accepted the code of TOTP time `step` (Unix seconds / 30)
    /// and says whether it had accepted it before: each code works at most once, atomically
    /// across processes. Steps more than [`TOTP_STEPS_KEPT`] below `step` are forgotten, so
    /// callers must only accept codes for steps near now. `device` is the name or the serial
    /// number. `NotFound(VirtualMFADevice)`.
    async fn record_totp_use(
        &self,
        account: &AccountId,
        device: &str,
        step: u64,
    ) -> Result<TotpUse, StoreError>;
}

/// How many TOTP steps back [`MfaRepo::record_totp_use`] remembers (10 minutes).
pub const TOTP_STEPS_KEPT: u64 = 20;

#[async_trait]
pub trait TagRepo: Send + Sync {
    /// Sets tags on every named resource, all or nothing; an existing key gets the new
    /// value. `LimitExceeded(TagsPerResource)` beyond the quota.
    async fn tag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
        tags: &[(String, String)],
    ) -> Result<(), StoreError>;
    /// Removes the keys, or every tag when `keys` is `None`.
    async fn untag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
        keys: Option<&[String]>,
    ) -> Result<(), StoreError>;
    /// Tags in (resource name, key) order, filtered by resource names and tag keys when
    /// given (an empty filter matches nothing). The marker resumes after the last
    /// (resource name, key) pair returned.
    async fn list_tag_resources(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: Option<&[String]>,
        keys: Option<&[String]>,
        page: &Page,
    ) -> Result<Listing<ResourceTag>, StoreError>;
    /// The tags of many resources in one read, keyed by lower-cased resource name; resources
    /// without tags are absent.
    async fn tags_for_names(
        &self,
        account: &AccountId,
        resource_type: &str,
        names: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, StoreError>;
    async fn tags_for(
        &self,
        account: &AccountId,
        resource_type: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
}
