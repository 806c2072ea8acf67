//! Identifiers in the shapes Alibaba Cloud issues them, their generators and their parsers.
//!
//! Every generator draws from the operating system's random source with unbiased rejection
//! sampling. Uniqueness is not promised here: the store enforces it with keys and retries.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroize;

use crate::random::{
    fill_from_alphabet, os_fill, RandomError, ALPHANUMERIC, DIGITS, NONZERO_DIGITS,
};
use crate::secret::SecretString;

/// Which kind of identifier failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    AccountId,
    UserId,
    GroupId,
    RoleId,
    AccessKeyId,
    AccessKeySecret,
    RequestId,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::AccountId => "AccountId",
            IdKind::UserId => "UserId",
            IdKind::GroupId => "GroupId",
            IdKind::RoleId => "RoleId",
            IdKind::AccessKeyId => "AccessKeyId",
            IdKind::AccessKeySecret => "AccessKeySecret",
            IdKind::RequestId => "RequestId",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a well-formed identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a well-formed {kind}")]
pub struct IdError {
    kind: IdKind,
    /// The offending text, cut to 64 characters; empty for secrets, which are never echoed.
    value: String,
}

impl IdError {
    fn new(kind: IdKind, value: &str) -> Self {
        Self {
            kind,
            value: value.chars().take(64).collect(),
        }
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }
}

/// Generates `len` ASCII characters, the first from `first` and the rest from `rest`.
fn generate_ascii(
    prefix: &str,
    len: usize,
    first: &[u8],
    rest: &[u8],
) -> Result<String, RandomError> {
    let mut buf = vec![0u8; len];
    if let Some((head, tail)) = buf.split_first_mut() {
        fill_from_alphabet(std::slice::from_mut(head), first, &mut os_fill)?;
        fill_from_alphabet(tail, rest, &mut os_fill)?;
    }
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    out.extend(buf.iter().map(|&b| char::from(b)));
    Ok(out)
}

fn is_numeric_id(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.as_bytes().first().is_some_and(|&b| b != b'0')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl $name {
            const KIND: IdKind = $kind;
        }
    };
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $len:expr) => {
        string_id!($(#[$doc])* $name, $kind);

        impl $name {
            /// Number of digits.
            pub const LEN: usize = $len;

            /// Accepts exactly [`Self::LEN`] ASCII digits, the first not `0`.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_numeric_id(s, Self::LEN) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError::new(Self::KIND, s))
                }
            }

            /// A fresh random id.
            pub fn generate() -> Result<Self, RandomError> {
                generate_ascii("", Self::LEN, NONZERO_DIGITS, DIGITS).map(Self)
            }
        }
    };
}

numeric_id!(
    /// An Alibaba Cloud account (the root identity): 16 digits, the first not `0`, as real
    /// account ids are. Its ARN is `acs:ram::<id>:root`.
    AccountId,
    IdKind::AccountId,
    16
);
numeric_id!(
    /// A RAM user's immutable id: 17 digits, the first not `0`. Unlike the user name it
    /// survives renames, so rows refer to it.
    UserId,
    IdKind::UserId,
    17
);
numeric_id!(
    /// A RAM group's immutable id: 17 digits, the first not `0`.
    GroupId,
    IdKind::GroupId,
    17
);
numeric_id!(
    /// A RAM role's immutable id: 17 digits, the first not `0`.
    RoleId,
    IdKind::RoleId,
    17
);

string_id!(
    /// A permanent AccessKeyId: `LTAI` and 20 ASCII letters or digits (24 characters).
    /// Generated ids start `LTAI5t`, as modern Alibaba keys do, which some tools check.
    /// Temporary (STS) ids, `STS.…`, are a different type.
    AccessKeyId,
    IdKind::AccessKeyId
);

impl AccessKeyId {
    pub const LEN: usize = 24;
    const PREFIX: &'static str = "LTAI";
    const GENERATED_PREFIX: &'static str = "LTAI5t";

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == Self::LEN
            && s.starts_with(Self::PREFIX)
            && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(Self::KIND, s))
        }
    }

    pub fn generate() -> Result<Self, RandomError> {
        let random = Self::LEN - Self::GENERATED_PREFIX.len();
        generate_ascii(Self::GENERATED_PREFIX, random, ALPHANUMERIC, ALPHANUMERIC).map(Self)
    }
}

/// Length of an AccessKey secret.
pub const ACCESS_KEY_SECRET_LEN: usize = 30;

/// A fresh AccessKey secret: 30 ASCII letters or digits (about 178 bits).
pub fn generate_access_key_secret() -> Result<SecretString, RandomError> {
    let mut buf = vec![0u8; ACCESS_KEY_SECRET_LEN];
    let filled = fill_from_alphabet(&mut buf, ALPHANUMERIC, &mut os_fill);
    // Sized up front: a reallocation would leave an unzeroized copy behind.
    let secret = filled.map(|()| {
        let mut text = String::with_capacity(ACCESS_KEY_SECRET_LEN);
        text.extend(buf.iter().map(|&b| char::from(b)));
        text
    });
    buf.zeroize();
    secret.map(SecretString::new)
}

/// Length of the random part of an STS AccessKeyId (`STS.` + this many letters and digits,
/// the shape Alibaba's temporary keys have).
pub const STS_ACCESS_KEY_ID_RANDOM_LEN: usize = 28;

/// A fresh AccessKeyId for STS credentials: `STS.` and 28 random letters and digits
/// (about 166 bits, so ids never collide and cannot be guessed).
pub fn generate_sts_access_key_id() -> Result<String, RandomError> {
    let mut buf = [0u8; STS_ACCESS_KEY_ID_RANDOM_LEN];
    fill_from_alphabet(&mut buf, ALPHANUMERIC, &mut os_fill)?;
    let mut id = String::with_capacity(4 + STS_ACCESS_KEY_ID_RANDOM_LEN);
    id.push_str("STS.");
    id.extend(buf.iter().map(|&b| char::from(b)));
    Ok(id)
}

/// Checks the shape of an AccessKey secret (30 ASCII letters or digits). The error never
/// contains the secret.
pub fn check_access_key_secret(secret: &SecretString) -> Result<(), IdError> {
    let s = secret.expose();
    if s.len() == ACCESS_KEY_SECRET_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(IdError::new(IdKind::AccessKeySecret, ""))
    }
}

string_id!(
    /// The `RequestId` of every response: an upper-case UUID version 4, e.g.
    /// `455059DD-F146-4F5A-93F0-74FD23470AE0`.
    RequestId,
    IdKind::RequestId
);

impl RequestId {
    pub const LEN: usize = 36;

    /// Accepts only what [`RequestId::generate`] produces: upper-case hex, hyphens at 8, 13,
    /// 18 and 23, version nibble `4`, variant nibble `8`–`B`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        let shape = b.len() == Self::LEN
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_digit() || (b'A'..=b'F').contains(&c),
            });
        let version = b.get(14) == Some(&b'4');
        let variant = b.get(19).is_some_and(|c| b"89AB".contains(c));
        if shape && version && variant {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(Self::KIND, s))
        }
    }

    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = [0u8; 16];
        os_fill(&mut bytes)?;
        // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 0b10 in byte 8.
        if let Some(b) = bytes.get_mut(6) {
            *b = (*b & 0x0f) | 0x40;
        }
        if let Some(b) = bytes.get_mut(8) {
            *b = (*b & 0x3f) | 0x80;
        }
        let mut out = String::with_capacity(Self::LEN);
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push_str(&format!("{byte:02X}"));
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numeric_ids_parse() {
        assert!(AccountId::parse("1234567890123456").is_ok());
        assert!(UserId::parse("21695933900065432").is_ok());
        assert!(GroupId::parse("10000000000000000").is_ok());
        assert!(RoleId::parse("99999999999999999").is_ok());
        for bad in [
            "",
            "0234567890123456",
            "123456789012345",
            "12345678901234567",
            "123456789012345a",
            " 234567890123456",
            "+234567890123456",
            "１234567890123456",
        ] {
            let err = AccountId::parse(bad).unwrap_err();
            assert_eq!(err.kind(), IdKind::AccountId);
        }
        assert!(UserId::parse("1234567890123456").is_err());
        assert!(UserId::parse("02345678901234567").is_err());
    }

    #[test]
    fn generated_numeric_ids_have_their_shape_and_differ() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let a = AccountId::generate().unwrap();
            assert_eq!(AccountId::parse(a.as_str()), Ok(a.clone()));
            let u = UserId::generate().unwrap();
            assert_eq!(UserId::parse(u.as_str()), Ok(u.clone()));
            assert!(GroupId::parse(GroupId::generate().unwrap().as_str()).is_ok());
            assert!(RoleId::parse(RoleId::generate().unwrap().as_str()).is_ok());
            assert!(seen.insert(u.to_string()));
        }
    }

    #[test]
    fn access_key_ids() {
        assert!(AccessKeyId::parse("LTAI5tABCDEFGHIJKLMNOPQR").is_ok());
        assert!(AccessKeyId::parse("LTAIabcdefghij0123456789").is_ok());
        for bad in [
            "",
            "LTAI5tABCDEFGHIJKLMNOPQ",
            "LTAI5tABCDEFGHIJKLMNOPQRS",
            "LTAX5tABCDEFGHIJKLMNOPQR",
            "ltai5tABCDEFGHIJKLMNOPQR",
            "STS.5tABCDEFGHIJKLMNOPQR",
            "LTAI5tABCDEFGHIJKLMNOP-R",
        ] {
            assert_eq!(
                AccessKeyId::parse(bad).unwrap_err().kind(),
                IdKind::AccessKeyId,
                "{bad}"
            );
        }
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let id = AccessKeyId::generate().unwrap();
            assert!(id.as_str().starts_with("LTAI5t"));
            assert_eq!(AccessKeyId::parse(id.as_str()), Ok(id.clone()));
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn access_key_secrets() {
        for _ in 0..100 {
            let secret = generate_access_key_secret().unwrap();
            assert_eq!(secret.expose().len(), ACCESS_KEY_SECRET_LEN);
            assert!(check_access_key_secret(&secret).is_ok());
        }
        let a = generate_access_key_secret().unwrap();
        let b = generate_access_key_secret().unwrap();
        assert!(!a.ct_eq(&b));
        let bad = SecretString::new("short-and-secret");
        let err = check_access_key_secret(&bad).unwrap_err();
        assert!(!err.to_string().contains("short-and-secret"));
    }

    #[test]
    fn request_ids() {
        assert!(RequestId::parse("455059DD-F146-4F5A-93F0-74FD23470AE0").is_ok());
        for bad in [
            "455059dd-f146-4f5a-93f0-74fd23470ae0",
            "455059DD-F146-3F5A-93F0-74FD23470AE0",
            "455059DD-F146-4F5A-C3F0-74FD23470AE0",
            "455059DDF1464F5A93F074FD23470AE0",
            "455059DD-F146-4F5A-93F0-74FD23470AE",
            "455059DD-F146-4F5A-93F0-74FD23470AE0 ",
        ] {
            assert!(RequestId::parse(bad).is_err(), "{bad}");
        }
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let id = RequestId::generate().unwrap();
            assert_eq!(RequestId::parse(id.as_str()), Ok(id.clone()), "{id}");
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn ids_print_plainly_and_debug_names_their_type() {
        let id = AccountId::parse("1234567890123456").unwrap();
        assert_eq!(id.to_string(), "1234567890123456");
        assert_eq!(format!("{id:?}"), "AccountId(\"1234567890123456\")");
        assert!(id == "1234567890123456");
    }
}
