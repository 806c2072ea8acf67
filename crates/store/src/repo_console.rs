//! Console sign-in: sessions, and what a sign-in changes.

use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{AccountId, Timestamp};

use crate::error::StoreError;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password passed; the MFA code is due.
    Mfa,
    /// Password (and MFA) passed; a password change is due first.
    Password,
    /// Signed in.
    Active,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Mfa => "mfa",
            SessionStage::Password => "password",
            SessionStage::Active => "active",
        }
    }
}

/// A console session as stored: found by the SHA-256 of its cookie, never the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub token_hash: String,
    pub account_id: AccountId,
    pub user_name: String,
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

    /// A completed sign-in, in one transaction: the user's `LastLoginDate` becomes `now`,
    /// the pending session `replaces` (if any) is deleted and `session` (stage `Active`,
    /// under a new token) stored. `NotFound(User)`.
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
}

/// The error codes of sign-in failures that count towards the lockout.
pub const COUNTED_SIGN_IN_FAILURES: [&str; 2] = ["InvalidPassword", "InvalidMFACode"];
