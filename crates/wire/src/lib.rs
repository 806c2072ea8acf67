//! The Alibaba Cloud OpenAPI RPC wire protocol as Rampart speaks it: request decoding,
//! classification (V1, V3, anonymous), V1 `HMAC-SHA1` and V3 `ACS3-HMAC-SHA256` signatures,
//! and the JSON/XML success and error envelopes, checked against SDK-captured vectors.
//!
//! What it must never do: perform I/O, read the clock, touch storage, depend on an HTTP
//! framework, log or render a secret, or panic on any input. The clock (`now_unix`) and the
//! secret for an AccessKeyId are handed in by the caller; nonce uniqueness, key status and STS
//! token checks need storage and stay with the caller.
//!
//! # Flow
//! ```
//! use rampart_wire::{classify, decode_params, verify, Limits, RawRequest, Scheme, Secret,
//!     VerifyOptions};
//!
//! let raw = RawRequest::new("GET", "/", "Action=AssumeRole&Format=JSON&Version=2015-04-01\
//!     &DurationSeconds=3600&RoleArn=acs%3Aram%3A%3A123456789012%3Arole%2Fops\
//!     &RoleSessionName=alice&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0\
//!     &Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=0b2a4f2e-6c1d-4a55-9d1e-2f3b4c5d6e7f\
//!     &AccessKeyId=testid&Signature=SB4NvznREgvaOdIbMAt%2BdzJJ460%3D");
//! let params = decode_params(&raw, &Limits::default())?;
//! let req = classify(&raw, params)?;
//! assert!(matches!(req.scheme(), Scheme::V1 { .. }));
//! // The caller looks the secret up (async, from storage) by req.access_key_id() ...
//! let secret = Secret::new("testsecret");
//! // ... and passes its own clock.
//! verify(&raw, &req, &secret, 1_704_110_400, &VerifyOptions::default())?;
//! assert_eq!(req.param("RoleSessionName"), Some("alice"));
//! # Ok::<(), rampart_wire::RequestError>(())
//! ```
//! Any [`RequestError`] converts into the [`ApiError`] the client should see, and
//! [`render_error`] / [`render_success`] produce the body in the [`ResponseFormat`] chosen by
//! [`negotiate_format`] (also available as [`ClassifiedRequest::format`]).

mod classify;
mod encode;
mod envelope;
mod error;
mod params;
mod request;
mod secret;
mod time;
pub mod v1;
pub mod v3;
mod verify;

pub use classify::{classify, ClassifiedRequest, Scheme, V1_COMMON_PARAMS};
pub use encode::{form_decode, percent_encode, percent_encode_with, SpaceEncoding};
pub use envelope::{
    negotiate_format, recommend_url, render_error, render_success, write_xml_element, xml_escape,
    ErrorContext, Rendered, ResponseFormat,
};
pub use error::{AccessDeniedDetail, ApiError, RequestError};
pub use params::{format_request_id, parse_bool, Params, Tag};
pub use request::{decode_params, Limits, RawRequest};
pub use secret::Secret;
pub use time::{check_timestamp, format_timestamp, parse_timestamp};
pub use verify::{constant_time_eq, verify, VerifyOptions};

/// [`decode_params`] then [`classify`].
pub fn parse_request(raw: &RawRequest, limits: &Limits) -> Result<ClassifiedRequest, RequestError> {
    classify(raw, decode_params(raw, limits)?)
}
