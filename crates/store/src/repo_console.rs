//! Console sign-in: sessions, and what a sign-in changes.

use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccountId, Timestamp};

use crate::error::StoreError;
use crate::repo_people::TotpUse;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password passed; the MFA code is due.
    Mfa,
    /// The password passed; MFA is required and no device is bound: binding one is due.
    Bind,
    /// Password (and MFA) passed; a password change is due first.
    Password,
    /// Signed in.
    Active,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Mfa => "mfa",
            SessionStage::Bind => "bind",
            SessionStage::Password => "password",
            SessionStage::Active => "active",
        }
    }
}

/// Who a console session acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionIdentity {
    /// A RAM user, named by the session's `user_name`.
    User,
    /// The account's root identity (`user_name` is `root`).
    Root,
    /// A role assumed through SAML role-based SSO; the session's `user_name` is the role
    /// session's name.
    Role {
        role_id: String,
        role_name: String,
        provider_arn: String,
    },
}

impl SessionIdentity {
    pub fn kind(&self) -> &'static str {
        match self {
            SessionIdentity::User => "user",
            SessionIdentity::Root => "root",
            SessionIdentity::Role { .. } => "role",
        }
    }
}

/// A console session as stored: found by the SHA-256 of its cookie, never the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub token_hash: String,
    pub account_id: AccountId,
    pub user_name: String,
    pub identity: SessionIdentity,
    pub stage: SessionStage,
    /// Whether the sign-in passed MFA (`acs:MFAPresent`).
    pub mfa: bool,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
    /// Idle expiry: a session unused this long is over.
    pub idle: Duration,
}

/// The root identity's console credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootLogin {
    /// argon2id PHC string; `None` until a password is set (no password sign-in).
    pub password_hash: Option<String>,
    pub mfa: Option<RootMfa>,
    pub last_login_date: Option<Timestamp>,
    pub update_date: Timestamp,
}

/// The root identity's virtual MFA device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootMfa {
    pub serial_number: String,
    /// Sealed under the master key to the serial number.
    pub sealed_seed: Vec<u8>,
    pub activate_date: Timestamp,
}

#[async_trait]
pub trait ConsoleRepo: Send + Sync {
    /// Stores a session that is not yet signed in (stage `Mfa` or `Password`), deleting the
    /// pending session `replaces` in the same transaction.
    async fn create_console_session(
        &self,
        session: &ConsoleSession,
        replaces: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The session, whatever its state; callers check expiry against their clock.
    async fn get_console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Records use at `now` (the idle clock restarts).
    async fn touch_console_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    async fn delete_console_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// A completed sign-in, in one transaction: the user's `LastLoginDate` (or the root
    /// identity's) becomes `now`, the pending session `replaces` (if any) is deleted and
    /// `session` (stage `Active`, under a new token) stored. `NotFound(User)` for a user
    /// session whose user is gone.
    async fn complete_sign_in(
        &self,
        session: &ConsoleSession,
        replaces: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Failed sign-ins of the user (wrong password or MFA code) recorded in the audit trail
    /// since `since`: what the password policy's `MaxLoginAttemps` counts.
    async fn count_sign_in_failures(
        &self,
        account: &AccountId,
        user_name: &str,
        since: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Deletes sessions whose absolute expiry passed; returns how many.
    async fn purge_console_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// The root identity's console credentials; `None` when none were ever set.
    async fn get_root_login(&self, account: &AccountId) -> Result<Option<RootLogin>, StoreError>;

    /// Sets (or replaces) the root identity's password hash. `NotFound(Account)`.
    async fn set_root_password(
        &self,
        account: &AccountId,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Binds a virtual MFA device to the root identity. `AlreadyExists(UserMfaDevice)` when
    /// one is bound.
    async fn bind_root_mfa(
        &self,
        account: &AccountId,
        serial_number: &str,
        sealed_seed: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Unbinds (and forgets) the root identity's device; returns its serial.
    /// `NotFound(UserMfaDevice)` when none is bound.
    async fn unbind_root_mfa(
        &self,
        account: &AccountId,
        now: Timestamp,
    ) -> Result<String, StoreError>;

    /// Accepts TOTP `step` of the root device at most once: steps only move forward, so a
    /// code at or before the last accepted one is a replay.
    async fn use_root_totp_step(
        &self,
        account: &AccountId,
        step: u64,
    ) -> Result<TotpUse, StoreError>;
}

/// The error codes of sign-in failures that count towards the lockout.
pub const COUNTED_SIGN_IN_FAILURES: [&str; 2] = ["InvalidPassword", "InvalidMFACode"];
