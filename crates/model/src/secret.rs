//! Secrets in memory and at rest.
//!
//! A [`SecretString`] is a secret in memory: zeroized on drop, never printed, compared only
//! in constant time. A [`MasterKey`] seals secrets for storage with AES-256-GCM (RustCrypto
//! `aes-gcm`), binding each ciphertext to the row it belongs to through its associated data.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::random::{os_fill, RandomError};

/// A secret string (an AccessKey secret, a password, a TOTP seed).
///
/// Zeroized on drop; `Debug` and `Display` print `[redacted]`; deliberately without
/// `PartialEq`, so the only comparison is the constant-time [`SecretString::ct_eq`].
///
/// ```compile_fail
/// let a = rampart_model::SecretString::new("x");
/// let b = rampart_model::SecretString::new("x");
/// let _ = a == b;
/// ```
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret text, for signing or sealing. Do not log, store or return the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time that depends only on the lengths, not on where the texts differ.
    pub fn ct_eq(&self, other: &SecretString) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Sealing or opening a secret failed. No variant carries key or plaintext material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("a master key must be {expected} bytes, not {actual}")]
    KeyLength { expected: usize, actual: usize },
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("sealed data is {0} bytes, too short to hold a header and a tag")]
    Truncated(usize),
    #[error("sealed data names key version {found}, but this key is version {expected}")]
    KeyVersion { expected: u8, found: u8 },
    #[error("sealed data does not authenticate: wrong key, wrong row, or tampered")]
    Authentication,
    #[error("the secret is too long to seal")]
    TooLong,
    #[error("the opened secret is not UTF-8")]
    NotUtf8,
}

/// The key that seals every secret Rampart stores: 32 bytes for AES-256-GCM, zeroized on
/// drop, never printed.
///
/// Sealed layout: `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The version byte names
/// the key that sealed the data, so a later keyring can hold old keys for opening while new
/// data is sealed with the newest; it is also authenticated (it is prepended to the
/// associated data). Nonces are random: at 2^32 seals under one key the collision chance is
/// about 2^-33, and rotating keys through the version byte keeps each key far below that.
pub struct MasterKey {
    version: u8,
    // Holds only the expanded key schedule and the GHASH key, both zeroized on drop by
    // `aes` and `ghash` (their `zeroize` features are switched on in Cargo.toml); the raw
    // key bytes are not kept.
    cipher: Aes256Gcm,
    // HKDF pseudo-random key extracted from the master key: subkeys (STS token keys) are
    // expanded from it, so the master key itself never encrypts anything but stored secrets.
    prk: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    /// Key length in bytes.
    pub const LEN: usize = 32;
    const NONCE_LEN: usize = 12;
    const TAG_LEN: usize = 16;
    const OVERHEAD: usize = 1 + Self::NONCE_LEN + Self::TAG_LEN;

    /// A key from its bytes (e.g. read from a key file). The caller should zeroize its copy.
    pub fn from_slice(version: u8, bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; Self::LEN]);
        if bytes.len() != Self::LEN {
            return Err(CryptoError::KeyLength {
                expected: Self::LEN,
                actual: bytes.len(),
            });
        }
        key.copy_from_slice(bytes);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice()));
        let (prk_bytes, _) =
            Hkdf::<Sha256>::extract(Some(b"rampart:master-key:subkeys"), key.as_slice());
        let mut prk = Zeroizing::new([0u8; 32]);
        prk.copy_from_slice(prk_bytes.as_slice());
        Ok(Self {
            version,
            cipher,
            prk,
        })
    }

    /// A fresh random key.
    pub fn generate(version: u8) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; Self::LEN]);
        os_fill(bytes.as_mut_slice())?;
        Self::from_slice(version, bytes.as_slice())
    }

    /// A 256-bit subkey for `label` (HKDF-SHA256 expand): the same master key and label give
    /// the same subkey on every node, and no subkey reveals the master key or another subkey.
    pub fn derive_key(&self, label: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let hk = Hkdf::<Sha256>::from_prk(self.prk.as_slice()).map_err(|_| CryptoError::TooLong)?;
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label, out.as_mut_slice())
            .map_err(|_| CryptoError::TooLong)?;
        Ok(out)
    }

    /// The version byte this key writes and accepts.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Encrypts and authenticates `plaintext`, binding it to `aad` (typically the id of the
    /// row the result is stored in): [`MasterKey::open`] succeeds only with the same `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; Self::NONCE_LEN];
        os_fill(&mut nonce)?;
        let full_aad = self.full_aad(self.version, aad);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| CryptoError::TooLong)?;
        let mut sealed = Vec::with_capacity(1 + Self::NONCE_LEN + ciphertext.len());
        sealed.push(self.version);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Authenticates and decrypts what [`MasterKey::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < Self::OVERHEAD {
            return Err(CryptoError::Truncated(sealed.len()));
        }
        let (header, rest) = sealed.split_at(1);
        let found = header.first().copied().unwrap_or_default();
        if found != self.version {
            return Err(CryptoError::KeyVersion {
                expected: self.version,
                found,
            });
        }
        let (nonce, ciphertext) = rest.split_at(Self::NONCE_LEN);
        let full_aad = self.full_aad(found, aad);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &full_aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }

    /// [`MasterKey::seal`] for a [`SecretString`].
    pub fn seal_secret(&self, secret: &SecretString, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(secret.expose().as_bytes(), aad)
    }

    /// [`MasterKey::open`] into a [`SecretString`].
    pub fn open_secret(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretString, CryptoError> {
        let mut plain = self.open(sealed, aad)?;
        let bytes = std::mem::take(&mut *plain);
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SecretString::new(text)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(CryptoError::NotUtf8)
            }
        }
    }

    fn full_aad(&self, version: u8, aad: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(1 + aad.len());
        full.push(version);
        full.extend_from_slice(aad);
        full
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A secret as stored: the output of [`MasterKey::seal`]. Not secret itself, but there is
/// nothing useful to print.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn derived_keys_are_stable_per_label_and_independent() {
        let a = MasterKey::from_slice(1, &[3u8; 32]).unwrap();
        let again = MasterKey::from_slice(1, &[3u8; 32]).unwrap();
        let other = MasterKey::from_slice(1, &[4u8; 32]).unwrap();
        let k1 = a.derive_key(b"label-1").unwrap();
        assert_eq!(*k1, *again.derive_key(b"label-1").unwrap());
        assert_ne!(*k1, *a.derive_key(b"label-2").unwrap());
        assert_ne!(*k1, *other.derive_key(b"label-1").unwrap());
        assert_ne!(*k1, [3u8; 32]);
    }

    #[test]
    fn secret_strings_never_print() {
        let s = SecretString::new("hunter2hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2hunter2");
    }

    #[test]
    fn constant_time_equality() {
        let a = SecretString::new("abc");
        assert!(a.ct_eq(&SecretString::new("abc")));
        assert!(!a.ct_eq(&SecretString::new("abd")));
        assert!(!a.ct_eq(&SecretString::new("abcd")));
        assert!(!a.ct_eq(&SecretString::new("")));
    }

    #[test]
    fn seal_and_open_round_trip() {
        let key = MasterKey::from_slice(1, &KEY).unwrap();
        let sealed = key.seal(b"the secret", b"LTAI5tROW").unwrap();
        assert_eq!(sealed.first(), Some(&1));
        assert_eq!(sealed.len(), 1 + 12 + 10 + 16);
        assert_eq!(
            key.open(&sealed, b"LTAI5tROW").unwrap().as_slice(),
            b"the secret"
        );
        // Random nonces: sealing twice gives different bytes.
        assert_ne!(key.seal(b"the secret", b"LTAI5tROW").unwrap(), sealed);
        let s = key
            .open_secret(
                &key.seal_secret(&SecretString::new("x y"), b"r").unwrap(),
                b"r",
            )
            .unwrap();
        assert_eq!(s.expose(), "x y");
    }

    #[test]
    fn ciphertext_copied_to_another_row_does_not_open() {
        let key = MasterKey::from_slice(1, &KEY).unwrap();
        let sealed = key.seal(b"the secret", b"LTAI5tROWA").unwrap();
        assert_eq!(
            key.open(&sealed, b"LTAI5tROWB").unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            key.open(&sealed, b"").unwrap_err(),
            CryptoError::Authentication
        );
    }

    #[test]
    fn tampering_is_detected_everywhere() {
        let key = MasterKey::from_slice(1, &KEY).unwrap();
        let sealed = key.seal(b"the secret", b"row").unwrap();
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                key.open(&bad, b"row").unwrap_err(),
                CryptoError::Authentication,
                "{i}"
            );
        }
        let mut bad = sealed.clone();
        bad[0] = 2;
        assert!(matches!(
            key.open(&bad, b"row").unwrap_err(),
            CryptoError::KeyVersion {
                expected: 1,
                found: 2
            }
        ));
        for len in 0..29 {
            assert!(matches!(
                key.open(&sealed[..len.min(sealed.len())], b"row"),
                Err(CryptoError::Truncated(_) | CryptoError::Authentication)
            ));
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            key.open(&longer, b"row").unwrap_err(),
            CryptoError::Authentication
        );
    }

    #[test]
    fn the_wrong_key_does_not_open() {
        let key = MasterKey::from_slice(1, &KEY).unwrap();
        let other = MasterKey::generate(1).unwrap();
        let sealed = key.seal(b"the secret", b"row").unwrap();
        assert_eq!(
            other.open(&sealed, b"row").unwrap_err(),
            CryptoError::Authentication
        );
        // Same bytes under another version number: refused before decrypting.
        let renumbered = MasterKey::from_slice(2, &KEY).unwrap();
        assert!(matches!(
            renumbered.open(&sealed, b"row").unwrap_err(),
            CryptoError::KeyVersion { .. }
        ));
    }

    #[test]
    fn key_length_and_debug() {
        assert_eq!(
            MasterKey::from_slice(1, &[0; 16]).unwrap_err(),
            CryptoError::KeyLength {
                expected: 32,
                actual: 16
            }
        );
        let key = MasterKey::from_slice(3, &KEY).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey { version: 3, .. }");
        assert_eq!(key.version(), 3);
    }

    #[test]
    fn open_secret_refuses_non_utf8() {
        let key = MasterKey::from_slice(1, &KEY).unwrap();
        let sealed = key.seal(&[0xff, 0xfe], b"row").unwrap();
        assert_eq!(
            key.open_secret(&sealed, b"row").unwrap_err(),
            CryptoError::NotUtf8
        );
    }

    #[test]
    fn sealed_secret_debug_is_short() {
        let s = SealedSecret::from_bytes(vec![1, 2, 3]);
        assert_eq!(format!("{s:?}"), "SealedSecret(3 bytes)");
    }
}
