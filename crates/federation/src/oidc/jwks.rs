//! The issuer's JSON Web Key Set: parsing, choosing the key for a token, and a per-issuer cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::error::OidcError;

/// RSA keys shorter than this are refused: they can be factored.
const MIN_RSA_MODULUS_BYTES: usize = 2048 / 8;

/// One key of a JWKS, with only the members a signature check reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses `{"keys": [...]}`. Keys that do not parse (other key types, encryption keys with
/// members of unexpected types) are skipped rather than failing the set, as issuers publish
/// keys for other purposes beside their signing keys.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value(k).ok())
        .collect())
}

pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

impl Jwk {
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key to verify `alg` signatures with, or why this key cannot be used for them: the
    /// algorithm must fit the key's type (and curve), and the key's own `alg`, `use` and
    /// `key_ops`, where stated.
    pub(crate) fn decoding_key(&self, alg: Algorithm) -> Result<DecodingKey, String> {
        let name = alg_name(alg);
        if let Some(own) = &self.alg {
            if own != name {
                return Err(format!("is for {own}, the token is signed with {name}"));
            }
        }
        if let Some(usage) = &self.usage {
            if usage != "sig" {
                return Err(format!("has use {usage:?}, not \"sig\""));
            }
        }
        if let Some(ops) = &self.key_ops {
            if !ops.iter().any(|op| op == "verify") {
                return Err("has key_ops without \"verify\"".to_owned());
            }
        }
        let bad = |e: jsonwebtoken::errors::Error| format!("is not a valid key: {e}");
        match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 => {
                let (Some(n), Some(e)) = (&self.n, &self.e) else {
                    return Err(format!(
                        "is a {:?} key, the token is signed with {name}",
                        self.kty
                    ));
                };
                if self.kty != "RSA" {
                    return Err(format!(
                        "is a {:?} key, the token is signed with {name}",
                        self.kty
                    ));
                }
                let modulus = URL_SAFE_NO_PAD
                    .decode(n)
                    .map_err(|_| "has a modulus that is not base64url".to_owned())?;
                let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < MIN_RSA_MODULUS_BYTES * 8 {
                    return Err(format!(
                        "is an RSA key of about {bits} bits; at least 2048 are required"
                    ));
                }
                DecodingKey::from_rsa_components(n, e).map_err(bad)
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let curve = if alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                if self.kty != "EC" || self.crv.as_deref() != Some(curve) {
                    return Err(format!(
                        "is a {:?} key on curve {:?}, the token is signed with {name}",
                        self.kty, self.crv
                    ));
                }
                let (Some(x), Some(y)) = (&self.x, &self.y) else {
                    return Err("is an EC key without x or y".to_owned());
                };
                DecodingKey::from_ec_components(x, y).map_err(bad)
            }
            _ => Err(format!("cannot verify {name}")),
        }
    }
}

/// Picks the key a token names by `kid`. A token without `kid` is accepted only when exactly
/// one key of the set can verify its algorithm: guessing among several would let any of them
/// stand for the issuer's current signing key.
pub(crate) fn select(
    keys: &[Jwk],
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<(DecodingKey, Option<String>), Selection> {
    match kid {
        Some(kid) => {
            let key = keys
                .iter()
                .find(|k| k.kid() == Some(kid))
                .ok_or(Selection::Unknown)?;
            key.decoding_key(alg)
                .map(|d| (d, Some(kid.to_owned())))
                .map_err(|reason| Selection::Unusable(format!("the issuer's key {kid:?} {reason}")))
        }
        None => {
            let mut usable = keys
                .iter()
                .filter_map(|k| k.decoding_key(alg).ok().map(|d| (d, k)));
            match (usable.next(), usable.next()) {
                (Some((key, jwk)), None) => Ok((key, jwk.kid.clone())),
                (None, _) => Err(Selection::Unknown),
                (Some(_), Some(_)) => Err(Selection::Unusable(format!(
                    "the OIDC token has no kid and the issuer's JWKS has several keys for {}; a kid is required",
                    alg_name(alg)
                ))),
            }
        }
    }
}

pub(crate) enum Selection {
    /// No key with that `kid` (or, without `kid`, none for the algorithm): the set may be stale.
    Unknown,
    /// A key was found but cannot be used; refetching would not help.
    Unusable(String),
}

/// What is known of one issuer's keys. Times are the caller's unix seconds.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    pub(crate) keys: Option<Arc<Vec<Jwk>>>,
    pub(crate) fetched_at: i64,
    pub(crate) last_attempt: Option<i64>,
    pub(crate) last_error: Option<OidcError>,
}

impl Entry {
    pub(crate) fn fresh(&self, now: i64, ttl: i64) -> bool {
        self.keys.is_some() && now >= self.fetched_at && now - self.fetched_at < ttl
    }

    /// Whether the issuer may be asked again: a clock going backwards counts as time passed, so
    /// it cannot lock the entry out.
    pub(crate) fn may_fetch(&self, now: i64, min_interval: i64) -> bool {
        self.last_attempt
            .is_none_or(|at| now < at || now - at >= min_interval)
    }
}

/// Issuer URL plus the sorted fingerprints: a provider whose fingerprints change must not be
/// served keys fetched under the old ones.
pub(crate) type CacheKey = (String, Vec<[u8; 20]>);

/// Entries are behind async mutexes so that concurrent verifications of one issuer's tokens
/// fetch its keys once, not once each.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<Entry>>>>,
}

/// Bounds memory if providers come and go; clearing all only costs refetches.
const MAX_ENTRIES: usize = 1024;

impl Cache {
    pub(crate) fn entry(&self, key: CacheKey) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        Arc::clone(entries.entry(key).or_default())
    }
}
