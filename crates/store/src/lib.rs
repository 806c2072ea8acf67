//! Rampart's storage: the repository traits the API layer works against ([`AccountRepo`],
//! [`UserRepo`], [`AccessKeyRepo`], [`NonceRepo`], gathered in [`Store`] so the server can
//! hold one `Arc<dyn Store>`), and [`SqlStore`], which implements them on SQLite or
//! PostgreSQL with one body of portable SQL. Uniqueness, quotas, delete preconditions and
//! nonce replay are enforced by database constraints inside transactions, so they hold
//! across concurrent requests, restarts and several server processes on one database.
//!
//! What it must never do: hold or see a plain secret (AccessKey secrets arrive sealed by the
//! caller's master key), put a secret or a statement parameter in an error, read the system
//! clock (callers pass `now`), validate or translate for the wire (names are checked by the
//! API layer with `rampart_model::Field`, and `StoreError` is mapped to RAM codes there),
//! branch on the database engine outside `sql/engine.rs`, or panic.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rampart_model::{MasterKey, NewAccessKey, SystemClock, Clock};
//! use rampart_store::{NewAccount, NewUser, Page, SqlStore, Store};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn Store> = Arc::new(SqlStore::open("sqlite:///var/lib/rampart/db?mode=rwc").await?);
//! let master = MasterKey::generate(1)?;
//! let (root_key, _secret_shown_once) = NewAccessKey::generate(&master)?;
//! let now = SystemClock.now();
//! let (account, _) = store.create_account(NewAccount { name: "acme".into() }, root_key, now).await?;
//! let user = NewUser { user_name: "alice".into(), ..NewUser::default() };
//! store.create_user(&account.id, user, now).await?;
//! let page = store.list_users(&account.id, &Page::default()).await?;
//! assert_eq!(page.items.len(), 1);
//! # Ok(())
//! # }
//! ```

mod error;
mod page;
mod repo;
mod repo_audit;
mod repo_console;
mod repo_federation;
mod repo_iam;
mod repo_people;
mod sql;

pub use error::{Entity, PrincipalKind, Quota, StoreError};
pub use page::{InvalidMarker, Listing, Marker, Page};
pub use repo::{
    AccessKeyRepo, AccountRepo, KeyAssumption, KeyCheck, KeyOwnerRef, NewAccount, NewUser,
    NonceRepo, NonceSpend, NonceUse, Store, UserRepo, UserUpdate,
};
pub use repo_audit::{AuditCursor, AuditEventRow, AuditQuery, AuditRepo, AuditSlot};
pub use repo_console::{
    ConsoleRepo, ConsoleSession, RootLogin, RootMfa, SessionIdentity, SessionStage,
    COUNTED_SIGN_IN_FAILURES,
};
pub use repo_federation::{
    FederationRepo, NewOidcProvider, NewSamlProvider, OidcProviderUpdate, SamlMetadata,
    SamlProviderUpdate,
};
pub use repo_iam::{
    AttachedPolicy, EffectivePolicy, GroupRepo, GroupUpdate, NewGroup, NewPolicy, NewRole,
    PolicyEntities, PolicyRef, PolicyRepo, PrincipalKey, PrincipalRef, RoleRepo, RoleUpdate,
};
pub use repo_people::{
    LoginProfileRepo, LoginProfileUpdate, MfaRepo, NewLoginProfile, PasswordHistoryEntry,
    ResourceTag, SettingsRepo, TagRepo, TotpUse, TOTP_STEPS_KEPT,
};
pub use sql::{postgres_unsealed_events_query, Quotas, SqlStore, StoreOptions};
