//! Rampart's domain vocabulary: the identifiers Alibaba Cloud issues (account, user, group
//! and role ids, AccessKeyIds and secrets, request ids) with their generators and parsers;
//! the rules RAM applies to names and free-text values; the entities (accounts, users,
//! AccessKeys); time as Alibaba writes it, behind an injectable [`Clock`]; and the types that
//! carry secrets ([`SecretString`], and [`MasterKey`], which seals secrets for storage with
//! AES-256-GCM).
//!
//! What it must never do: perform I/O other than drawing from the operating system's random
//! source, read the system clock anywhere but [`SystemClock`], be async, know about a
//! database or the wire format, print or compare a secret in variable time, implement a
//! cryptographic primitive itself, or panic on any input.
//!
//! ```
//! use rampart_model::{AccessKey, AccessKeyStatus, Field, KeyOwner, MasterKey, NewAccessKey,
//!     ManualClock, Clock, Timestamp, AccountId};
//!
//! Field::UserName.check("alice")?;
//! let clock = ManualClock::new(Timestamp::parse("2024-01-01T12:00:00Z")?);
//! let master = MasterKey::generate(1)?;
//! let (new_key, secret) = NewAccessKey::generate(&master)?;
//! let stored = AccessKey {
//!     id: new_key.id,
//!     owner: KeyOwner::AccountRoot(AccountId::generate()?),
//!     status: AccessKeyStatus::Active,
//!     create_date: clock.now(),
//!     sealed_secret: new_key.sealed_secret,
//! };
//! assert!(stored.open_secret(&master)?.ct_eq(&secret));
//! assert_eq!(stored.create_date.to_string(), "2024-01-01T12:00:00Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit;
mod entity;
mod federation;
mod iam;
mod id;
mod names;
mod random;
mod secret;
mod time;

pub use audit::{
    chain_hash, referenced_resources, seal as seal_chain, AuditBodyError, AuditRecord, ChainHead,
    ChainProblem, ChainReport, ChainRow, ChainVerifier, GENESIS_HASH,
};
pub use entity::{AccessKey, AccessKeyStatus, Account, KeyOwner, NewAccessKey, StatusError, User};
pub use federation::{
    AuthnSignAlgo, AuthnSignAlgoError, OidcProvider, ProviderArn, ProviderArnError, ProviderKind,
    SamlProvider, DEFAULT_ISSUANCE_LIMIT_HOURS, ISSUANCE_LIMIT_HOURS, MAX_CLIENT_IDS,
    MAX_FINGERPRINTS,
};
pub use iam::{
    Group, LoginProfile, Policy, PolicyType, PolicyTypeError, PolicyVersion, Role, VirtualMfaDevice,
};
pub use id::{
    check_access_key_secret, generate_access_key_secret, generate_sts_access_key_id, AccessKeyId,
    AccountId, GroupId, IdError, IdKind, RequestId, RoleId, UserId, ACCESS_KEY_SECRET_LEN,
};
pub use names::{Field, NameError, NameErrorKind};
pub use random::RandomError;
pub use secret::{CryptoError, MasterKey, SealedSecret, SecretString};
pub use time::{Clock, ManualClock, SystemClock, Timestamp, TimestampError};
