//! Signature and timestamp verification of a classified request.

use subtle::ConstantTimeEq;

use crate::classify::{ClassifiedRequest, Scheme};
use crate::encode::SpaceEncoding;
use crate::error::RequestError;
use crate::params::Params;
use crate::request::RawRequest;
use crate::secret::Secret;
use crate::time::check_timestamp;
use crate::v3::Authorization;
use crate::{v1, v3};

/// Knobs of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How far the request time may be from `now`, either way. Alibaba uses 15 minutes.
    pub max_clock_skew_secs: i64,
    /// Also accept V1 signatures computed with spaces as `+`, as the Python credentials library
    /// does (spec §1.3 quirk). Tried only when some parameter contains a space.
    pub accept_plus_encoded_spaces: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: 15 * 60,
            accept_plus_encoded_spaces: true,
        }
    }
}

/// Checks the timestamp window and the signature of a V1 or V3 request.
///
/// `raw` must be the request `req` was classified from; `secret` is the one the caller found for
/// [`ClassifiedRequest::access_key_id`]; `now_unix` is the caller's clock in Unix seconds.
/// Anonymous requests fail with [`RequestError::Unsigned`]. The nonce is not checked here: its
/// uniqueness needs storage.
pub fn verify(
    raw: &RawRequest,
    req: &ClassifiedRequest,
    secret: &Secret,
    now_unix: i64,
    options: &VerifyOptions,
) -> Result<(), RequestError> {
    if matches!(req.scheme(), Scheme::Anonymous | Scheme::Session) {
        return Err(RequestError::Unsigned);
    }
    let timestamp = req
        .timestamp()
        .ok_or(RequestError::MissingParameter("Timestamp"))?;
    check_timestamp(timestamp, now_unix, options.max_clock_skew_secs)?;
    match req.scheme() {
        Scheme::Anonymous | Scheme::Session => Err(RequestError::Unsigned),
        Scheme::V1 { signature } => verify_v1(raw, req.params(), signature, secret, options),
        Scheme::V3(auth) => verify_v3(raw, req.params(), auth, secret),
    }
}

fn verify_v1(
    raw: &RawRequest,
    params: &Params,
    signature: &str,
    secret: &Secret,
    options: &VerifyOptions,
) -> Result<(), RequestError> {
    let canonical = v1::canonicalized_query(params.iter(), SpaceEncoding::Percent20);
    let string_to_sign = v1::string_to_sign(&raw.method, &canonical);
    if constant_time_eq(&v1::sign(secret, &string_to_sign), signature) {
        return Ok(());
    }
    let has_space = params
        .iter()
        .any(|(name, value)| name != "Signature" && (name.contains(' ') || value.contains(' ')));
    if options.accept_plus_encoded_spaces && has_space {
        let plus = v1::canonicalized_query(params.iter(), SpaceEncoding::Plus);
        if constant_time_eq(
            &v1::sign(secret, &v1::string_to_sign(&raw.method, &plus)),
            signature,
        ) {
            return Ok(());
        }
    }
    Err(RequestError::SignatureMismatch {
        string_to_sign: Some(string_to_sign),
    })
}

fn verify_v3(
    raw: &RawRequest,
    params: &Params,
    auth: &Authorization,
    secret: &Secret,
) -> Result<(), RequestError> {
    let claimed = raw.header("x-acs-content-sha256").map(str::trim).ok_or(
        RequestError::IncompleteSignature("x-acs-content-sha256 is missing"),
    )?;
    if !claimed.eq_ignore_ascii_case(&v3::sha256_hex(&raw.body)) {
        return Err(RequestError::ContentHashMismatch);
    }
    let canonical_request = v3::canonical_request(
        &raw.method,
        &raw.path,
        &v3::canonical_query(params.query()),
        &v3::canonical_headers(raw, &auth.signed_headers)?,
        &auth.signed_headers,
        claimed,
    );
    let expected = v3::sign(secret, &v3::string_to_sign(&canonical_request));
    if constant_time_eq(&expected, &auth.signature.to_ascii_lowercase()) {
        Ok(())
    } else {
        Err(RequestError::SignatureMismatch {
            string_to_sign: None,
        })
    }
}

/// Compares two signatures without an early exit on the first differing byte, so response
/// timing does not reveal how much of a forged signature was right. Only the length, which is
/// public (fixed by the algorithm), may leak.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
