//! Groups, roles and policies of an account.

use std::fmt;
use std::str::FromStr;

use crate::id::{AccountId, GroupId, RoleId};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub account_id: AccountId,
    pub group_id: GroupId,
    pub group_name: String,
    pub comments: String,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub account_id: AccountId,
    pub role_id: RoleId,
    pub role_name: String,
    pub description: String,
    /// The trust policy, as the client sent it (validated by the API layer).
    pub assume_role_policy_document: String,
    /// Seconds: 3600–43200.
    pub max_session_duration: u32,
    /// Whether the role may be used to sign in to the console (role SSO).
    pub allow_console_login: bool,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

impl Role {
    pub fn arn(&self) -> String {
        format!("acs:ram::{}:role/{}", self.account_id, self.role_name)
    }
}

/// `System` policies are Alibaba's, shared by every account and read-only; `Custom` ones
/// belong to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    System,
    Custom,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy type must be \"System\" or \"Custom\"")]
pub struct PolicyTypeError;

impl FromStr for PolicyType {
    type Err = PolicyTypeError;
    /// Exact spelling, as RAM requires.
    fn from_str(s: &str) -> Result<Self, PolicyTypeError> {
        match s {
            "System" => Ok(PolicyType::System),
            "Custom" => Ok(PolicyType::Custom),
            _ => Err(PolicyTypeError),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub policy_name: String,
    pub policy_type: PolicyType,
    pub description: String,
    /// `v1`, `v2`, …
    pub default_version: String,
    /// Attachments in the asking account (system policies are shared, their count is not).
    pub attachment_count: u32,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub create_date: Timestamp,
}

/// A user's console password and its flags. The hash is a PHC string; the plain password is
/// never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub user_name: String,
    pub password_hash: String,
    pub password_reset_required: bool,
    pub mfa_bind_required: bool,
    /// IMS's `Status`: `false` is `Inactive`, and console sign-in must refuse the user.
    pub active: bool,
    /// When the current password was set by an administrator (or console logon re-enabled):
    /// an initial password, which IMS reports as `InitialValid` / `InitialExpired` under the
    /// policy's `InitialPasswordAge`. `None` once the user chose its own password.
    pub initial_since: Option<Timestamp>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
}

impl fmt::Debug for LoginProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the hash: it is still worth an offline guessing attack.
        f.debug_struct("LoginProfile")
            .field("user_name", &self.user_name)
            .field("password_reset_required", &self.password_reset_required)
            .field("mfa_bind_required", &self.mfa_bind_required)
            .field("active", &self.active)
            .field("initial_since", &self.initial_since)
            .finish_non_exhaustive()
    }
}

/// A virtual (TOTP) MFA device.
#[derive(Clone, PartialEq, Eq)]
pub struct VirtualMfaDevice {
    /// `acs:ram::<account>:mfa/<name>`.
    pub serial_number: String,
    pub name: String,
    /// The TOTP seed sealed under the master key.
    pub sealed_seed: Vec<u8>,
    /// `(user id, user name, display name)` when bound.
    pub user: Option<(String, String, String)>,
    pub activate_date: Option<Timestamp>,
    pub create_date: Timestamp,
}

impl fmt::Debug for VirtualMfaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualMfaDevice")
            .field("serial_number", &self.serial_number)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}
