//! OpenID Connect ID-token verification for `AssumeRoleWithOIDC`.
//!
//! [`OidcVerifier::verify`] checks a token against an OIDC provider's configuration:
//!
//! 1. the token is a compact JWS of at most 20000 characters, signed with RS256, RS384, RS512,
//!    PS256, ES256 or ES384 (never `none` or an HMAC: the issuer's public key must not double as
//!    a shared secret) and without `crit` header parameters;
//! 2. the key comes from the issuer's JWKS, found through
//!    `<IssuerUrl>/.well-known/openid-configuration` and fetched over HTTPS only, trusting the
//!    servers through the provider's certificate fingerprints (see "Pinning" below); the
//!    key is the one named by the token's `kid`, or, for a token without `kid`, the only key of
//!    the set usable for its algorithm; the key's type, curve, `alg`, `use` and `key_ops` must
//!    fit the algorithm, and RSA keys must have at least 2048 bits;
//! 3. the claims: `iss` equals the issuer URL exactly, `sub` is a non-empty string, `exp` is
//!    ahead and `nbf` (if present) and `iat` are not ahead (all give or take the verifier's
//!    clock skew), the token was issued no longer ago than the provider's issuance limit, and
//!    `aud` (string or array) names one of the provider's client IDs.
//!
//! Keys are cached per issuer and fingerprint set for [`OidcVerifierOptions::jwks_ttl`]; a
//! token naming a `kid` the cache lacks makes the verifier refetch the set, at most once per
//! [`OidcVerifierOptions::jwks_min_refresh_interval`] per issuer, so a stream of made-up
//! `kid`s cannot make it hammer the issuer. A refetch that fails is not retried within that
//! interval either, and expired keys are not used in the meantime (they may have been
//! withdrawn for a reason).
//!
//! # Pinning
//!
//! A server is trusted when a certificate of the chain it presents has a registered SHA-1
//! fingerprint, and that certificate vouches for the connection: if it is the server's own
//! certificate, the handshake signature (checked by rustls) proves the server holds its key,
//! and only its validity dates are checked, not its names, as this very certificate was
//! registered; if it is a CA certificate, the server's certificate must chain up to it
//! (signatures, dates, server-auth usage, by rustls's webpki) and name the host, since anyone
//! can append a public CA certificate to a chain of their own. Dates are the caller's clock.
//! Mismatches answer `AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch`.
//!
//! The discovery document's own `issuer` member is not compared with the issuer URL: the
//! token's `iss` is, and the keys can only come from servers the fingerprints vouch for.
//!
//! jsonwebtoken is used for the signature only, with its RustCrypto backend; the claims are
//! read here, strictly typed, against the caller's clock.

mod error;
mod fetch;
mod jwks;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

pub use error::OidcError;

use fetch::Fetcher;
use jwks::{Cache, Entry, Jwk, Selection};

/// The longest token STS accepts.
pub const MAX_TOKEN_LEN: usize = 20_000;

/// An OIDC provider as registered with `CreateOIDCProvider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProviderConfig {
    /// The issuer, e.g. `https://oidc.example.com`; tokens' `iss` must equal it exactly.
    pub issuer_url: String,
    /// SHA-1 fingerprints (hex, lower-case) of certificates trusted for the issuer's HTTPS
    /// servers; colons and upper case are tolerated, anything else that is not 40 hex digits
    /// is ignored.
    pub fingerprints: Vec<String>,
    /// The audiences accepted.
    pub client_ids: Vec<String>,
    /// How long after its issuance (`iat`) a token is still accepted.
    pub issuance_limit: Duration,
}

/// Tuning of an [`OidcVerifier`]; the defaults suit production.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OidcVerifierOptions {
    /// Allowed difference between the issuer's clock and the caller's, for `exp`, `nbf`, `iat`.
    pub clock_skew: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_ttl: Duration,
    /// The least time between two fetches of one issuer's keys.
    pub jwks_min_refresh_interval: Duration,
    /// Deadline for each HTTPS request, from connecting to the last byte.
    pub http_timeout: Duration,
    /// Largest discovery document or JWKS accepted.
    pub max_response_bytes: usize,
}

impl Default for OidcVerifierOptions {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(60),
            jwks_ttl: Duration::from_secs(600),
            jwks_min_refresh_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
        }
    }
}

impl OidcVerifierOptions {
    /// The defaults with another clock skew.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedOidcToken {
    /// `iss`, equal to the provider's issuer URL.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// Every `aud` value, in the token's order (at least one is a client ID of the provider).
    pub audiences: Vec<String>,
    /// `iat`, unix seconds.
    pub issued_at: i64,
    /// `exp`, unix seconds.
    pub expires_at: i64,
    /// All claims of the payload.
    pub claims: Map<String, Value>,
}

/// Verifies OIDC ID tokens. Clones share one key cache; it is `Send + Sync`.
#[derive(Debug, Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: OidcVerifierOptions,
    fetcher: Fetcher,
    cache: Cache,
}

impl Default for OidcVerifier {
    fn default() -> Self {
        Self::new(OidcVerifierOptions::default())
    }
}

/// The parts of a token that are read before its signature is checked.
struct Parsed<'t> {
    alg: Algorithm,
    kid: Option<String>,
    signing_input: &'t str,
    signature: &'t str,
    claims: Map<String, Value>,
}

impl OidcVerifier {
    pub fn new(options: OidcVerifierOptions) -> Self {
        let fetcher = Fetcher {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            timeout: options.http_timeout,
            max_body: options.max_response_bytes,
        };
        Self {
            inner: Arc::new(Inner {
                options,
                fetcher,
                cache: Cache::default(),
            }),
        }
    }

    /// Verifies `token` for `provider` at `now_unix_secs` (the caller's clock, used for the
    /// claims, the key cache and the issuer's certificate dates alike).
    pub async fn verify(
        &self,
        provider: &OidcProviderConfig,
        token: &str,
        now_unix_secs: i64,
    ) -> Result<VerifiedOidcToken, OidcError> {
        let now = now_unix_secs;
        fetch::https_target("the OIDC provider's issuer URL", &provider.issuer_url)?;
        let parsed = parse(token)?;
        let key = self
            .key_for(provider, parsed.alg, parsed.kid.as_deref(), now)
            .await?;
        let verified = jsonwebtoken::crypto::verify(
            parsed.signature,
            parsed.signing_input.as_bytes(),
            &key.0,
            parsed.alg,
        )
        .unwrap_or(false);
        if !verified {
            return Err(OidcError::BadSignature { kid: key.1 });
        }
        check_claims(provider, parsed.claims, now, &self.inner.options)
    }

    /// The key to verify with, from the cache or the issuer.
    async fn key_for(
        &self,
        provider: &OidcProviderConfig,
        alg: Algorithm,
        kid: Option<&str>,
        now: i64,
    ) -> Result<(DecodingKey, Option<String>), OidcError> {
        let options = &self.inner.options;
        let ttl = secs(options.jwks_ttl);
        let min_interval = secs(options.jwks_min_refresh_interval);
        let pins = pins(&provider.fingerprints);
        let slot = self
            .inner
            .cache
            .entry((provider.issuer_url.clone(), pins.clone()));
        let mut entry = slot.lock().await;

        let mut fetched_now = false;
        if !entry.fresh(now, ttl) {
            self.refresh(&mut entry, provider, &pins, now, min_interval)
                .await?;
            fetched_now = true;
        }
        let keys = current(&entry)?;
        match jwks::select(&keys, kid, alg) {
            Ok(key) => return Ok(key),
            Err(Selection::Unusable(reason)) => return Err(OidcError::NoKey(reason)),
            Err(Selection::Unknown) => {}
        }
        if !fetched_now && entry.may_fetch(now, min_interval) {
            self.refresh(&mut entry, provider, &pins, now, min_interval)
                .await?;
            let keys = current(&entry)?;
            if let Ok(key) = jwks::select(&keys, kid, alg) {
                return Ok(key);
            }
        }
        Err(OidcError::NoKey(match kid {
            Some(kid) => format!("the issuer's JWKS has no key with kid {kid:?}"),
            None => format!(
                "the OIDC token has no kid and the issuer's JWKS has no key for {}",
                jwks::alg_name(alg)
            ),
        }))
    }

    /// Fetches the issuer's keys into `entry`, unless it was tried too recently, in which case
    /// the previous attempt's outcome stands.
    async fn refresh(
        &self,
        entry: &mut Entry,
        provider: &OidcProviderConfig,
        pins: &[[u8; 20]],
        now: i64,
        min_interval: i64,
    ) -> Result<(), OidcError> {
        if !entry.may_fetch(now, min_interval) {
            return match (
                &entry.last_error,
                entry.fresh(now, secs(self.inner.options.jwks_ttl)),
            ) {
                (_, true) => Ok(()),
                (Some(error), false) => Err(error.clone()),
                (None, false) => Err(OidcError::NoKey(
                    "the issuer's keys were fetched too recently to fetch them again".to_owned(),
                )),
            };
        }
        entry.last_attempt = Some(now);
        match self.fetch_keys(provider, pins, now).await {
            Ok(keys) => {
                entry.keys = Some(Arc::new(keys));
                entry.fetched_at = now;
                entry.last_error = None;
                Ok(())
            }
            Err(error) => {
                // Keys past their time are not used when the issuer cannot be reached: they
                // may have been withdrawn.
                entry.keys = None;
                entry.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    async fn fetch_keys(
        &self,
        provider: &OidcProviderConfig,
        pins: &[[u8; 20]],
        now: i64,
    ) -> Result<Vec<Jwk>, OidcError> {
        let fetcher = &self.inner.fetcher;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer_url.trim_end_matches('/')
        );
        let body = fetcher
            .get("the issuer URL", &discovery_url, pins, now)
            .await?;
        let document: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|e| OidcError::Fetch {
                url: discovery_url.clone(),
                reason: format!("not a JSON object: {e}"),
            })?;
        let Some(Value::String(jwks_uri)) = document.get("jwks_uri") else {
            return Err(OidcError::Fetch {
                url: discovery_url,
                reason: "the discovery document has no jwks_uri string".to_owned(),
            });
        };
        fetch::https_target("the discovered jwks_uri", jwks_uri)?;
        let body = fetcher
            .get("the discovered jwks_uri", jwks_uri, pins, now)
            .await?;
        jwks::parse_jwks(&body).map_err(|reason| OidcError::Fetch {
            url: jwks_uri.clone(),
            reason,
        })
    }
}

fn current(entry: &Entry) -> Result<Arc<Vec<Jwk>>, OidcError> {
    entry.keys.clone().ok_or_else(|| {
        entry
            .last_error
            .clone()
            .unwrap_or_else(|| OidcError::NoKey("the issuer's keys are not available".to_owned()))
    })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The provider's fingerprints as bytes, sorted so that the cache key does not depend on order.
fn pins(fingerprints: &[String]) -> Vec<[u8; 20]> {
    let mut pins: Vec<[u8; 20]> = fingerprints
        .iter()
        .filter_map(|f| {
            let clean: String = f.chars().filter(|c| *c != ':').collect();
            let mut pin = [0u8; 20];
            hex::decode_to_slice(clean.to_ascii_lowercase(), &mut pin)
                .ok()
                .map(|()| pin)
        })
        .collect();
    pins.sort_unstable();
    pins.dedup();
    pins
}

fn malformed(reason: impl Into<String>) -> OidcError {
    OidcError::Malformed(reason.into())
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, OidcError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("the {what} is not base64url without padding")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| malformed(format!("the {what} is not a JSON object")))
}

fn parse(token: &str) -> Result<Parsed<'_>, OidcError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OidcError::TooLong {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return Err(malformed(
            "it is not a JWS in compact form (header.payload.signature)",
        ));
    };
    let Some((header, payload)) = signing_input.split_once('.') else {
        return Err(malformed(
            "it is not a JWS in compact form (header.payload.signature)",
        ));
    };
    if payload.contains('.') {
        return Err(malformed(
            "it has more than three parts (encrypted tokens are not accepted)",
        ));
    }
    let header = decode_json(header, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        _ => return Err(malformed("the header has no alg string")),
    };
    let alg = match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        other => {
            return Err(OidcError::UnsupportedAlgorithm {
                alg: other.to_owned(),
            })
        }
    };
    if header.contains_key("crit") {
        return Err(malformed(
            "the header has critical extensions (crit), none of which are supported",
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the header's kid is not a string")),
    };
    if signature.is_empty() {
        return Err(malformed("the signature is empty"));
    }
    let claims = decode_json(payload, "payload")?;
    Ok(Parsed {
        alg,
        kid,
        signing_input,
        signature,
        claims,
    })
}

/// A NumericDate: JSON numbers, fractions rounded down.
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, OidcError> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let bad = OidcError::BadClaim {
        claim,
        problem: "is not a number of seconds",
    };
    let Value::Number(n) = value else {
        return Err(bad);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        #[allow(clippy::cast_possible_truncation, reason = "range checked just before")]
        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
        _ => Err(bad),
    }
}

fn required_date(claims: &Map<String, Value>, claim: &'static str) -> Result<i64, OidcError> {
    numeric_date(claims, claim)?.ok_or(OidcError::BadClaim {
        claim,
        problem: "is missing",
    })
}

fn check_claims(
    provider: &OidcProviderConfig,
    claims: Map<String, Value>,
    now: i64,
    options: &OidcVerifierOptions,
) -> Result<VerifiedOidcToken, OidcError> {
    let skew = secs(options.clock_skew);
    let issuer = match claims.get("iss") {
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => {
            return Err(OidcError::BadClaim {
                claim: "iss",
                problem: "is not a string",
            })
        }
        None => {
            return Err(OidcError::BadClaim {
                claim: "iss",
                problem: "is missing",
            })
        }
    };
    if issuer != provider.issuer_url {
        return Err(OidcError::IssuerMismatch {
            seen: issuer,
            expected: provider.issuer_url.clone(),
        });
    }
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => {
            return Err(OidcError::BadClaim {
                claim: "sub",
                problem: "is not a non-empty string",
            })
        }
        None => {
            return Err(OidcError::BadClaim {
                claim: "sub",
                problem: "is missing",
            })
        }
    };

    let expires_at = required_date(&claims, "exp")?;
    if now >= expires_at.saturating_add(skew) {
        return Err(OidcError::Expired {
            exp: expires_at,
            now,
        });
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")? {
        if nbf > now.saturating_add(skew) {
            return Err(OidcError::NotYetValid { nbf, now });
        }
    }
    let issued_at = required_date(&claims, "iat")?;
    if issued_at > now.saturating_add(skew) {
        return Err(OidcError::IssuedInFuture {
            iat: issued_at,
            now,
        });
    }
    let age = now.saturating_sub(issued_at);
    let limit = provider.issuance_limit.as_secs();
    if u64::try_from(age).is_ok_and(|age| age > limit) {
        return Err(OidcError::IssuedTooLongAgo {
            iat: issued_at,
            age,
            limit,
        });
    }

    let bad_aud = OidcError::BadClaim {
        claim: "aud",
        problem: "is not a string or an array of strings",
    };
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(auds)) => auds
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or(bad_aud.clone()))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad_aud),
        None => {
            return Err(OidcError::BadClaim {
                claim: "aud",
                problem: "is missing",
            })
        }
    };
    if !audiences
        .iter()
        .any(|aud| provider.client_ids.contains(aud))
    {
        return Err(OidcError::AudienceNotMatch { seen: audiences });
    }

    Ok(VerifiedOidcToken {
        issuer,
        subject,
        audiences,
        issued_at,
        expires_at,
        claims,
    })
}
