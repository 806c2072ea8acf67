//! Signature version 1.0: RPC `HMAC-SHA1` over the sorted parameters.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use crate::encode::{percent_encode, percent_encode_with, sorted_query, SpaceEncoding};
use crate::secret::Secret;

/// The only `SignatureMethod` accepted.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The only `SignatureVersion` accepted.
pub const SIGNATURE_VERSION: &str = "1.0";

/// *CanonicalizedQueryString*: every parameter except `Signature`, each name and value
/// percent-encoded, sorted by encoded name, joined `k=v` with `&`.
pub fn canonicalized_query<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    space: SpaceEncoding,
) -> String {
    let pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(name, _)| *name != "Signature")
        .map(|(name, value)| {
            (
                percent_encode_with(name, space),
                percent_encode_with(value, space),
            )
        })
        .collect();
    sorted_query(pairs)
}

/// `METHOD&%2F&enc(canonicalized_query)`.
pub fn string_to_sign(method: &str, canonicalized_query: &str) -> String {
    format!("{method}&%2F&{}", percent_encode(canonicalized_query))
}

/// `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn sign(secret: &Secret, string_to_sign: &str) -> String {
    let mut key = Zeroizing::new(Vec::with_capacity(secret.expose().len() + 1));
    key.extend_from_slice(secret.expose().as_bytes());
    key.push(b'&');
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
