//! The ways verification fails, each mapped to the code Alibaba's STS answers with.

/// Why an ID token was refused.
///
/// [`OidcError::code`] is the STS error code to answer with; `Display` says which check failed
/// and with what values, for the caller and the logs. No message carries key material or the
/// provider's configured client IDs (the caller is anonymous).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The token is longer than STS accepts.
    #[error("the OIDC token is {len} characters long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    /// The token is not a compact JWS, or its header or payload is not the JSON expected.
    #[error("the OIDC token is malformed: {0}")]
    Malformed(String),
    /// The header names an algorithm this verifier refuses (`none`, `HS*`, anything unknown).
    #[error("the OIDC token's algorithm {alg:?} is not accepted (accepted: RS256, RS384, RS512, PS256, ES256, ES384)")]
    UnsupportedAlgorithm { alg: String },
    /// The issuer URL or the discovered `jwks_uri` is not an absolute `https://` URL.
    #[error("{what} {url:?} is not an https:// URL; only HTTPS is used to fetch OIDC keys")]
    InsecureUrl { what: &'static str, url: String },
    /// The discovery document or the JWKS could not be fetched or read.
    #[error("could not fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
    /// No certificate the issuer's host presented has one of the provider's fingerprints.
    #[error("the TLS certificates presented by {host} have SHA-1 fingerprints [{}], none of which is registered on the OIDC provider", presented.join(", "))]
    FingerprintMismatch {
        host: String,
        presented: Vec<String>,
    },
    /// A registered certificate was presented, but it does not vouch for the connection: the
    /// chain from the server's certificate to it does not verify, a certificate is outside its
    /// validity period, or the server's certificate is not for the host.
    #[error("the TLS certificate chain presented by {host} matches a registered fingerprint but is not acceptable: {reason}")]
    UntrustedCertificate { host: String, reason: String },
    /// The JWKS has no key the token could be verified with.
    #[error("{0}")]
    NoKey(String),
    /// The signature does not verify with the issuer's key.
    #[error("the OIDC token's signature does not verify with the issuer's key {kid:?}")]
    BadSignature { kid: Option<String> },
    /// `iss` differs from the provider's issuer URL.
    #[error("the OIDC token's issuer {seen:?} is not the provider's issuer URL {expected:?}")]
    IssuerMismatch { seen: String, expected: String },
    /// No audience of the token is a client ID of the provider.
    #[error("none of the OIDC token's audiences {seen:?} is a client ID of the OIDC provider")]
    AudienceNotMatch { seen: Vec<String> },
    /// `exp` has passed (beyond the allowed clock skew).
    #[error("the OIDC token expired at {exp} (unix seconds); it is now {now}")]
    Expired { exp: i64, now: i64 },
    /// `nbf` is still ahead (beyond the allowed clock skew).
    #[error("the OIDC token is not valid before {nbf} (unix seconds); it is now {now}")]
    NotYetValid { nbf: i64, now: i64 },
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("the OIDC token claims to be issued at {iat} (unix seconds), after now ({now})")]
    IssuedInFuture { iat: i64, now: i64 },
    /// The token was issued longer ago than the provider's issuance limit allows.
    #[error("the OIDC token was issued at {iat} (unix seconds), {age} s ago, more than the provider's issuance limit of {limit} s")]
    IssuedTooLongAgo { iat: i64, age: i64, limit: u64 },
    /// A required claim is missing or has the wrong JSON type.
    #[error("the OIDC token's {claim:?} claim {problem}")]
    BadClaim {
        claim: &'static str,
        problem: &'static str,
    },
}

impl OidcError {
    /// The Alibaba STS error code for this failure.
    ///
    /// A token issued too long ago answers `.Expired`: to the token's holder it is an expired
    /// token that must be fetched anew. TLS problems that are not a plain mismatch
    /// ([`OidcError::UntrustedCertificate`]) still answer `.PublicKeyFingerprintMismatch`, as
    /// the fix is the same: the provider's fingerprints or the issuer's certificates.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FingerprintMismatch { .. } | Self::UntrustedCertificate { .. } => {
                "AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch"
            }
            Self::AudienceNotMatch { .. } => "AuthenticationFail.OIDCToken.AudienceNotMatch",
            Self::Expired { .. } | Self::IssuedTooLongAgo { .. } => {
                "AuthenticationFail.OIDCToken.Expired"
            }
            _ => "AuthenticationFail.OIDCToken.Invalid",
        }
    }
}
