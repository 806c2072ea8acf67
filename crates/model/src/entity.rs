//! The RAM entities of this slice, as the rest of Rampart sees them.
//!
//! Plain data: rules about names live in [`crate::names`], storage and its invariants in
//! `rampart-store`.

use std::fmt;
use std::str::FromStr;

use crate::id::{generate_access_key_secret, AccessKeyId, AccountId, UserId};
use crate::secret::{CryptoError, MasterKey, SealedSecret, SecretString};
use crate::time::Timestamp;

/// An Alibaba Cloud account: the tenant every other entity belongs to, and its root
/// identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    /// The operator's name for the tenant; unique across the installation. Not RAM's
    /// `AccountAlias`, which the tenant sets itself.
    pub name: String,
    pub created: Timestamp,
}

impl Account {
    /// `acs:ram::<id>:root`.
    pub fn arn(&self) -> String {
        format!("acs:ram::{}:root", self.id)
    }
}

/// A RAM user. Optional text attributes are empty strings when unset, as RAM returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub mobile_phone: String,
    pub comments: String,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    pub last_login_date: Option<Timestamp>,
}

impl User {
    /// `acs:ram::<account>:user/<name>`.
    pub fn arn(&self) -> String {
        format!("acs:ram::{}:user/{}", self.account_id, self.user_name)
    }
}

/// `Active` or `Inactive`, spelled as RAM spells them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

impl fmt::Display for AccessKeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status that is neither `Active` nor `Inactive` (RAM compares case-sensitively).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access key status {0:?} is neither \"Active\" nor \"Inactive\"")]
pub struct StatusError(String);

impl FromStr for AccessKeyStatus {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, StatusError> {
        match s {
            "Active" => Ok(AccessKeyStatus::Active),
            "Inactive" => Ok(AccessKeyStatus::Inactive),
            other => Err(StatusError(other.chars().take(64).collect())),
        }
    }
}

/// Whose key an AccessKey is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The account's root identity.
    AccountRoot(AccountId),
    /// A RAM user. The name is the user's name now (keys follow renames, since they are
    /// stored against the id).
    User {
        account_id: AccountId,
        user_id: UserId,
        user_name: String,
    },
}

impl KeyOwner {
    pub fn account_id(&self) -> &AccountId {
        match self {
            KeyOwner::AccountRoot(id) => id,
            KeyOwner::User { account_id, .. } => account_id,
        }
    }
}

/// A permanent AccessKey. The secret is sealed; only [`AccessKey::open_secret`], with the
/// master key, recovers it (to verify a signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: AccessKeyId,
    pub owner: KeyOwner,
    pub status: AccessKeyStatus,
    pub create_date: Timestamp,
    pub sealed_secret: SealedSecret,
}

impl AccessKey {
    pub fn open_secret(&self, key: &MasterKey) -> Result<SecretString, CryptoError> {
        key.open_secret(self.sealed_secret.as_bytes(), &secret_aad(&self.id))
    }
}

/// A freshly minted AccessKey, ready to store: its id and its sealed secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    pub id: AccessKeyId,
    pub sealed_secret: SealedSecret,
}

impl NewAccessKey {
    /// Mints an id and a secret and seals the secret to the id. The plain secret is
    /// returned once, for the `CreateAccessKey` response, and is never stored.
    pub fn generate(key: &MasterKey) -> Result<(NewAccessKey, SecretString), CryptoError> {
        let id = AccessKeyId::generate()?;
        let secret = generate_access_key_secret()?;
        let sealed = Self::seal(key, id, &secret)?;
        Ok((sealed, secret))
    }

    /// Seals a given secret to a given id (importing existing keys, fixed test keys).
    pub fn seal(
        key: &MasterKey,
        id: AccessKeyId,
        secret: &SecretString,
    ) -> Result<NewAccessKey, CryptoError> {
        let sealed = key.seal_secret(secret, &secret_aad(&id))?;
        Ok(NewAccessKey {
            id,
            sealed_secret: SealedSecret::from_bytes(sealed),
        })
    }
}

/// Associated data for an AccessKey secret. The domain prefix keeps a sealed AccessKey
/// secret from opening as any other kind of sealed value that might share an id, and the id
/// keeps it from opening in another key's row.
fn secret_aad(id: &AccessKeyId) -> Vec<u8> {
    let mut aad = b"rampart:access-key-secret:".to_vec();
    aad.extend_from_slice(id.as_str().as_bytes());
    aad
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse("1234567890123456").unwrap()
    }

    #[test]
    fn generated_keys_open_with_their_own_id_only() {
        let master = MasterKey::generate(1).unwrap();
        let (new, secret) = NewAccessKey::generate(&master).unwrap();
        let key = AccessKey {
            id: new.id.clone(),
            owner: KeyOwner::AccountRoot(account()),
            status: AccessKeyStatus::Active,
            create_date: Timestamp::UNIX_EPOCH,
            sealed_secret: new.sealed_secret.clone(),
        };
        assert!(key.open_secret(&master).unwrap().ct_eq(&secret));

        let (other, _) = NewAccessKey::generate(&master).unwrap();
        let moved = AccessKey {
            id: other.id,
            ..key.clone()
        };
        assert_eq!(
            moved.open_secret(&master).unwrap_err(),
            CryptoError::Authentication
        );
    }

    #[test]
    fn status_spelling_is_exact() {
        assert_eq!("Active".parse(), Ok(AccessKeyStatus::Active));
        assert_eq!("Inactive".parse(), Ok(AccessKeyStatus::Inactive));
        assert!("active".parse::<AccessKeyStatus>().is_err());
        assert_eq!(AccessKeyStatus::Inactive.to_string(), "Inactive");
    }

    #[test]
    fn arns() {
        let a = Account {
            id: account(),
            name: "acme".into(),
            created: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(a.arn(), "acs:ram::1234567890123456:root");
        let u = User {
            account_id: account(),
            user_id: UserId::parse("12345678901234567").unwrap(),
            user_name: "alice".into(),
            display_name: String::new(),
            email: String::new(),
            mobile_phone: String::new(),
            comments: String::new(),
            create_date: Timestamp::UNIX_EPOCH,
            update_date: Timestamp::UNIX_EPOCH,
            last_login_date: None,
        };
        assert_eq!(u.arn(), "acs:ram::1234567890123456:user/alice");
        let owner = KeyOwner::User {
            account_id: account(),
            user_id: u.user_id.clone(),
            user_name: "alice".into(),
        };
        assert_eq!(owner.account_id(), &account());
    }
}
