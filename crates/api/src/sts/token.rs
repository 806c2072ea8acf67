//! STS security tokens: self-contained, sealed session records.
//!
//! A token carries everything a node needs to authenticate a request signed with STS
//! credentials, with no database read: the session's AccessKeyId and secret, the role, the
//! session name and policy, the MFA flag, and its times. It is sealed with AES-256-GCM, so it
//! can be neither read nor altered by its holder.
//!
//! Sealing keys rotate: the key of period `p` (`period_secs` long) is derived from the master
//! key with HKDF and the label `rampart:sts-token-key:v1:<p>`, so every node derives the same
//! keys without sharing state, a new key takes over at each period boundary, and tokens sealed
//! under earlier keys stay valid until they expire: a token's period is in its clear header,
//! and keys are accepted back as far as the longest session (43,200 s) reaches.
//!
//! Layout (then unpadded Base64url, prefixed `RST1.`): `period (8, big-endian) ‖ nonce (12) ‖
//! ciphertext ‖ tag (16)`, the period authenticated as associated data.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rampart_model::{MasterKey, SecretString, Timestamp};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The longest session RAM allows (a role's `MaxSessionDuration` tops out at 12 hours).
pub const MAX_SESSION_SECS: i64 = 43_200;

const PREFIX: &str = "RST1.";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + NONCE_LEN;
/// Far above any real session (a 2,048-character policy and names), far below abuse.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// How a session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// `AssumeRole` by a RAM user.
    #[serde(rename = "u")]
    User,
    /// `AssumeRole` by another role session (role chaining).
    #[serde(rename = "r")]
    Role,
    #[serde(rename = "s")]
    Saml,
    #[serde(rename = "o")]
    Oidc,
}

/// What a token holds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    #[serde(rename = "k")]
    pub access_key_id: String,
    #[serde(rename = "s")]
    pub secret: String,
    /// The role's account: the account the session acts in.
    #[serde(rename = "a")]
    pub account_id: String,
    #[serde(rename = "ri")]
    pub role_id: String,
    #[serde(rename = "rn")]
    pub role_name: String,
    #[serde(rename = "n")]
    pub session_name: String,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    #[serde(rename = "m", default)]
    pub mfa: bool,
    #[serde(rename = "o")]
    pub origin: Origin,
    /// Who asked for the session: a user or session ARN, or a provider ARN.
    #[serde(rename = "c")]
    pub caller: String,
    /// Unix seconds.
    #[serde(rename = "i")]
    pub issued_at: i64,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("origin", &self.origin)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SessionClaims {
    pub fn secret(&self) -> SecretString {
        SecretString::new(self.secret.clone())
    }
}

/// Why a token was refused; each maps to one of Alibaba's `InvalidSecurityToken.*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the security token is malformed or was altered")]
    Malformed,
    #[error("the security token has expired")]
    Expired,
    #[error("the security token belongs to another AccessKeyId")]
    Mismatch,
    #[error("the token could not be sealed")]
    Seal,
}

/// Seals and opens tokens; shared by every request.
pub struct TokenKeys {
    master: Arc<MasterKey>,
    period_secs: i64,
    keys: RwLock<HashMap<i64, Arc<Aes256Gcm>>>,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("period_secs", &self.period_secs)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// `period_secs` is how long one sealing key is used (at least a minute).
    pub fn new(master: Arc<MasterKey>, period_secs: u64) -> Self {
        Self {
            master,
            period_secs: i64::try_from(period_secs.max(60)).unwrap_or(i64::MAX),
            keys: RwLock::new(HashMap::new()),
        }
    }

    fn period_of(&self, unix_secs: i64) -> i64 {
        unix_secs.div_euclid(self.period_secs)
    }

    fn key(&self, period: i64) -> Result<Arc<Aes256Gcm>, TokenError> {
        if let Ok(keys) = self.keys.read() {
            if let Some(k) = keys.get(&period) {
                return Ok(Arc::clone(k));
            }
        }
        let label = format!("rampart:sts-token-key:v1:{period}");
        let bytes: Zeroizing<[u8; 32]> = self
            .master
            .derive_key(label.as_bytes())
            .map_err(|_| TokenError::Seal)?;
        let cipher = Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
            bytes.as_slice(),
        )));
        if let Ok(mut keys) = self.keys.write() {
            // Only periods inside the acceptance window are ever derived, so this stays
            // small; dropping the old ones keeps it so for a server that runs for months.
            let oldest = period - self.periods_back() - 2;
            keys.retain(|p, _| *p >= oldest);
            keys.insert(period, Arc::clone(&cipher));
        }
        Ok(cipher)
    }

    /// How many periods back a live token's key can be.
    fn periods_back(&self) -> i64 {
        (MAX_SESSION_SECS + self.period_secs - 1) / self.period_secs
    }

    /// Seals `claims` with the key of the current period.
    pub fn seal(&self, claims: &SessionClaims, now: Timestamp) -> Result<String, TokenError> {
        let period = self.period_of(now.unix_secs());
        let cipher = self.key(period)?;
        let plain = Zeroizing::new(serde_json::to_vec(claims).map_err(|_| TokenError::Seal)?);
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| TokenError::Seal)?;
        let aad = aad(period);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_slice(),
                    aad: &aad,
                },
            )
            .map_err(|_| TokenError::Seal)?;
        let mut raw = Vec::with_capacity(HEADER_LEN + sealed.len());
        raw.extend_from_slice(&period.to_be_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        let mut out = String::with_capacity(PREFIX.len() + raw.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&raw, &mut out);
        Ok(out)
    }

    /// Opens a token presented with `access_key_id` at `now`.
    pub fn open(
        &self,
        token: &str,
        access_key_id: &str,
        now: Timestamp,
    ) -> Result<SessionClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let body = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < HEADER_LEN + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (header, sealed) = raw.split_at(HEADER_LEN);
        let (period_bytes, nonce) = header.split_at(8);
        let mut pb = [0u8; 8];
        pb.copy_from_slice(period_bytes);
        let period = i64::from_be_bytes(pb);
        let current = self.period_of(now.unix_secs());
        // Derive keys only inside the window a live token can come from: anything older has
        // expired whatever it says, and a far-future period is forged. Nodes' clocks may
        // differ a little, hence one period of grace ahead.
        if period < current.saturating_sub(self.periods_back()) {
            return Err(TokenError::Expired);
        }
        if period > current.saturating_add(1) {
            return Err(TokenError::Malformed);
        }
        let cipher = self.key(period)?;
        let aad = aad(period);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| TokenError::Malformed)?,
        );
        let claims: SessionClaims =
            serde_json::from_slice(plain.as_slice()).map_err(|_| TokenError::Malformed)?;
        if claims.access_key_id != access_key_id {
            return Err(TokenError::Mismatch);
        }
        if now.unix_secs() >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn aad(period: i64) -> Vec<u8> {
    let mut aad = b"rampart:sts-token:v1:".to_vec();
    aad.extend_from_slice(&period.to_be_bytes());
    aad
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn claims(now: i64, lifetime: i64) -> SessionClaims {
        SessionClaims {
            access_key_id: "STS.abc".into(),
            secret: "s3cret".into(),
            account_id: "1234567890123456".into(),
            role_id: "300000000000000001".into(),
            role_name: "ops".into(),
            session_name: "alice".into(),
            policy: Some(r#"{"Version":"1","Statement":[]}"#.into()),
            source_identity: None,
            mfa: false,
            origin: Origin::User,
            caller: "acs:ram::1234567890123456:user/alice".into(),
            issued_at: now,
            expires_at: now + lifetime,
        }
    }

    fn keys(period: u64) -> TokenKeys {
        TokenKeys::new(
            Arc::new(MasterKey::from_slice(1, &[7u8; 32]).unwrap()),
            period,
        )
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_secs(secs).unwrap()
    }

    #[test]
    fn round_trip_and_key_rotation_keep_live_tokens() {
        let k = keys(3600);
        let now = 1_800_000_000;
        let c = claims(now, MAX_SESSION_SECS);
        let token = k.seal(&c, at(now)).unwrap();
        assert!(token.starts_with(PREFIX));
        assert!(!token.contains("s3cret"));
        // Eleven hours and several key periods later, on another node (fresh key cache).
        let later = now + MAX_SESSION_SECS - 1;
        let other = keys(3600);
        assert_eq!(other.open(&token, "STS.abc", at(later)).unwrap(), c);
        // A token sealed now uses a different key from one sealed an hour ago.
        let newer = k.seal(&c, at(now + 3600)).unwrap();
        assert_ne!(token[5..16], newer[5..16]);
    }

    #[test]
    fn expired_mismatched_and_tampered_tokens_are_refused() {
        let k = keys(3600);
        let now = 1_800_000_000;
        let token = k.seal(&claims(now, 900), at(now)).unwrap();
        assert_eq!(
            k.open(&token, "STS.abc", at(now + 900)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            k.open(&token, "STS.other", at(now + 1)),
            Err(TokenError::Mismatch)
        );
        // Flip each character of the body in turn: every change is caught.
        let bytes = token.as_bytes();
        for i in PREFIX.len()..bytes.len() {
            let mut altered = bytes.to_vec();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert!(
                k.open(&altered, "STS.abc", at(now + 1)).is_err(),
                "byte {i}"
            );
        }
        assert_eq!(
            k.open("CAIS-not-ours", "STS.abc", at(now)),
            Err(TokenError::Malformed)
        );
        // Another installation's master key cannot open it.
        let foreign = TokenKeys::new(
            Arc::new(MasterKey::from_slice(1, &[8u8; 32]).unwrap()),
            3600,
        );
        assert_eq!(
            foreign.open(&token, "STS.abc", at(now + 1)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn periods_outside_the_window_are_not_derived() {
        let k = keys(3600);
        let now = 1_800_000_000;
        let token = k.seal(&claims(now, 3600), at(now)).unwrap();
        // Far in the future the period is beyond any session: expired without a key lookup.
        assert_eq!(
            k.open(&token, "STS.abc", at(now + 2 * MAX_SESSION_SECS)),
            Err(TokenError::Expired)
        );
        // A token from the future (beyond one period of clock grace) is forged.
        assert_eq!(
            k.open(&token, "STS.abc", at(now - 3 * 3600)),
            Err(TokenError::Malformed)
        );
    }
}
