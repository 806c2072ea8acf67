//! Groups, roles, policies and what binds them: memberships and attachments, plus what
//! authorization reads (a principal's effective policies and the account's epoch).
//!
//! Names are compared case-insensitively, as for users. Every operation is scoped to one
//! account: an entity of another account is indistinguishable from one that does not exist.

use async_trait::async_trait;
use rampart_model::{
    AccountId, Group, Policy, PolicyType, PolicyVersion, Role, RoleId, Timestamp, User,
};

use crate::error::StoreError;
use crate::page::{Listing, Page};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewGroup {
    pub group_name: String,
    pub comments: String,
}

/// `UpdateGroup`: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    pub new_group_name: Option<String>,
    pub new_comments: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub role_name: String,
    pub description: String,
    pub assume_role_policy_document: String,
    pub max_session_duration: u32,
    pub allow_console_login: bool,
    /// Stored with the role, in the same transaction.
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    pub new_assume_role_policy_document: Option<String>,
    pub new_description: Option<String>,
    pub new_max_session_duration: Option<u32>,
    pub new_allow_console_login: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub policy_name: String,
    pub description: String,
    pub document: String,
    /// Stored with the policy, in the same transaction.
    pub tags: Vec<(String, String)>,
}

/// A principal a policy is attached to, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRef<'a> {
    User(&'a str),
    Group(&'a str),
    Role(&'a str),
}

/// A principal whose permissions are evaluated, by id (ids survive renames).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKey {
    User(String),
    Role(String),
}

/// Which policy, by type and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRef<'a> {
    pub policy_type: PolicyType,
    pub policy_name: &'a str,
}

/// A policy as attached to one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub policy: Policy,
    pub attach_date: Timestamp,
    /// `None`: the account scope.
    pub resource_group_id: Option<String>,
}

/// `ListEntitiesForPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEntities {
    pub users: Vec<(User, Timestamp)>,
    pub groups: Vec<(Group, Timestamp)>,
    pub roles: Vec<(Role, Timestamp)>,
}

/// One policy in force for a principal, with the document of its default version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    pub policy_type: PolicyType,
    pub policy_name: String,
    pub version_id: String,
    pub document: String,
    pub resource_group_id: Option<String>,
    /// The group it is inherited through, if any.
    pub via_group: Option<String>,
}

#[async_trait]
pub trait GroupRepo: Send + Sync {
    /// `NotFound(Account)`, `AlreadyExists(Group)`, `LimitExceeded(GroupsPerAccount)`.
    async fn create_group(
        &self,
        account: &AccountId,
        group: NewGroup,
        now: Timestamp,
    ) -> Result<Group, StoreError>;
    async fn get_group(&self, account: &AccountId, group_name: &str) -> Result<Group, StoreError>;
    /// A rename onto a taken name is `AlreadyExists(Group)` and changes nothing.
    async fn update_group(
        &self,
        account: &AccountId,
        group_name: &str,
        update: GroupUpdate,
        now: Timestamp,
    ) -> Result<Group, StoreError>;
    /// `DeleteConflict { Group, User }` with members, `{ Group, Policy }` with attachments.
    async fn delete_group(&self, account: &AccountId, group_name: &str) -> Result<(), StoreError>;
    /// Groups in name order.
    async fn list_groups(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<Group>, StoreError>;

    /// `NotFound(Group | User)`, `AlreadyExists(UserGroup)`, `LimitExceeded(GroupsPerUser)`.
    async fn add_user_to_group(
        &self,
        account: &AccountId,
        group_name: &str,
        user_name: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// `NotFound(Group | User | UserGroup)`.
    async fn remove_user_from_group(
        &self,
        account: &AccountId,
        group_name: &str,
        user_name: &str,
    ) -> Result<(), StoreError>;
    /// The user's groups with join dates, in name order. `NotFound(User)`.
    async fn list_groups_for_user(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<Vec<(Group, Timestamp)>, StoreError>;
    /// The group's members with join dates, in name order. `NotFound(Group)`.
    async fn list_users_for_group(
        &self,
        account: &AccountId,
        group_name: &str,
        page: &Page,
    ) -> Result<Listing<(User, Timestamp)>, StoreError>;
}

#[async_trait]
pub trait RoleRepo: Send + Sync {
    /// `NotFound(Account)`, `AlreadyExists(Role)`, `LimitExceeded(RolesPerAccount)`.
    async fn create_role(
        &self,
        account: &AccountId,
        role: NewRole,
        now: Timestamp,
    ) -> Result<Role, StoreError>;
    async fn get_role(&self, account: &AccountId, role_name: &str) -> Result<Role, StoreError>;
    /// What a request signed with a role session needs, in one read: the role's current
    /// name and the account's authorization epoch, or `None` when the role with this id no
    /// longer exists (deleting a role ends its sessions; a new role of the same name has a
    /// new id and does not revive them).
    async fn role_session_state(
        &self,
        account: &AccountId,
        role_id: &RoleId,
    ) -> Result<Option<(String, i64)>, StoreError>;
    async fn update_role(
        &self,
        account: &AccountId,
        role_name: &str,
        update: RoleUpdate,
        now: Timestamp,
    ) -> Result<Role, StoreError>;
    /// `DeleteConflict { Role, Policy }` while policies are attached.
    async fn delete_role(&self, account: &AccountId, role_name: &str) -> Result<(), StoreError>;
    async fn list_roles(
        &self,
        account: &AccountId,
        page: &Page,
    ) -> Result<Listing<Role>, StoreError>;
}

#[async_trait]
pub trait PolicyRepo: Send + Sync {
    /// Creates or updates a system policy (one version, `v1`); a changed document bumps
    /// every account's epoch. Idempotent: the server calls it at every start.
    async fn upsert_system_policy(
        &self,
        policy_name: &str,
        description: &str,
        document: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A custom policy with its first version `v1`, the default. `AlreadyExists(Policy)`
    /// (also for a system policy's name), `LimitExceeded(CustomPoliciesPerAccount)`.
    async fn create_policy(
        &self,
        account: &AccountId,
        policy: NewPolicy,
        now: Timestamp,
    ) -> Result<(Policy, PolicyVersion), StoreError>;
    /// The policy and its default version. System policies are visible to every account.
    async fn get_policy(
        &self,
        account: &AccountId,
        policy: PolicyRef<'_>,
    ) -> Result<(Policy, PolicyVersion), StoreError>;
    /// System and the account's custom policies, ordered by type (System first) then name;
    /// `None` lists both.
    async fn list_policies(
        &self,
        account: &AccountId,
        policy_type: Option<PolicyType>,
        page: &Page,
    ) -> Result<Listing<Policy>, StoreError>;
    /// Custom policies only (system policies are `NotFound` here, as for every change).
    async fn update_policy_description(
        &self,
        account: &AccountId,
        policy_name: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<Policy, StoreError>;
    /// `DeleteConflict { Policy, User | Group | Role }` while attached;
    /// `DeleteConflict { Policy, PolicyVersion }` while it has non-default versions, unless
    /// `cascade`.
    async fn delete_policy(
        &self,
        account: &AccountId,
        policy_name: &str,
        cascade: bool,
    ) -> Result<(), StoreError>;

    /// A new version `v<n>` (ids are never reused). At the limit:
    /// `LimitExceeded(VersionsPerPolicy)`, or with `rotate` the oldest non-default version
    /// is deleted first.
    async fn create_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        document: &str,
        set_as_default: bool,
        rotate: bool,
        now: Timestamp,
    ) -> Result<PolicyVersion, StoreError>;
    async fn get_policy_version(
        &self,
        account: &AccountId,
        policy: PolicyRef<'_>,
        version_id: &str,
    ) -> Result<PolicyVersion, StoreError>;
    /// Newest first.
    async fn list_policy_versions(
        &self,
        account: &AccountId,
        policy: PolicyRef<'_>,
    ) -> Result<Vec<PolicyVersion>, StoreError>;
    /// `DeleteConflict { Policy, PolicyDefaultVersion }` for the default version.
    async fn delete_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        version_id: &str,
    ) -> Result<(), StoreError>;
    async fn set_default_policy_version(
        &self,
        account: &AccountId,
        policy_name: &str,
        version_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// `NotFound` for the principal or policy; `AlreadyExists({User,Group,Role}Policy)`;
    /// `LimitExceeded({Custom,System}PoliciesPerPrincipal)`.
    async fn attach_policy(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
        policy: PolicyRef<'_>,
        resource_group_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// `NotFound({User,Group,Role}Policy)` when not attached in that scope.
    async fn detach_policy(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
        policy: PolicyRef<'_>,
        resource_group_id: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn list_policies_for(
        &self,
        account: &AccountId,
        principal: PrincipalRef<'_>,
    ) -> Result<Vec<AttachedPolicy>, StoreError>;
    async fn list_entities_for_policy(
        &self,
        account: &AccountId,
        policy: PolicyRef<'_>,
    ) -> Result<PolicyEntities, StoreError>;

    /// Every policy in force for the principal: attached to it, or (users) to its groups.
    /// One query.
    async fn effective_policies(
        &self,
        account: &AccountId,
        principal: &PrincipalKey,
    ) -> Result<Vec<EffectivePolicy>, StoreError>;

    /// The account's authorization epoch (one primary-key row). INVARIANT: every change that
    /// can alter anyone's effective policies in the account increments it in the change's
    /// own transaction, so a cache keyed by the epoch is never stale, whichever process made
    /// the change: attach and detach, membership add and remove, a new default version
    /// (set or created as default), version deletion (also by rotation), deletion of a
    /// policy, user, group or role, a role's trust policy update, a user or group rename,
    /// and (for every account at once) a changed system policy document. Reads and failed
    /// changes never move it. `NotFound(Account)`.
    ///
    /// Read the epoch *before* loading what it guards: a set loaded after the read is at
    /// least as new as the epoch it is cached under.
    async fn authz_epoch(&self, account: &AccountId) -> Result<i64, StoreError>;
}
