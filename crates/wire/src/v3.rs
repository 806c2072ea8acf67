//! `ACS3-HMAC-SHA256`, the V3 signature every current SDK uses by default.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::encode::{percent_encode, sorted_query};
use crate::error::RequestError;
use crate::request::RawRequest;
use crate::secret::Secret;

/// The only V3 algorithm accepted.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Lower-hex SHA-256 of an empty body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Headers a V3 request must both carry and sign. Every other `x-acs-*` header present must be
/// signed too (see [`crate::classify`]).
pub const REQUIRED_SIGNED_HEADERS: [&str; 4] = [
    "host",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// The parsed `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub algorithm: String,
    /// The AccessKeyId.
    pub credential: String,
    /// In the client's order, which is also the order they are canonicalised in.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses an `Authorization` header value. Does not judge the algorithm: an `ACS3-*` value
/// with another algorithm parses, so the caller can answer `InvalidSignatureMethod`.
pub fn parse_authorization(value: &str) -> Result<Authorization, RequestError> {
    let incomplete = RequestError::IncompleteSignature;
    let (algorithm, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(incomplete("authorization has no credential part"))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part
            .trim()
            .split_once('=')
            .ok_or(incomplete("authorization part without '='"))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(incomplete("unknown authorization part")),
        };
        if slot.replace(val).is_some() {
            return Err(incomplete("repeated authorization part"));
        }
    }
    let credential = credential
        .filter(|c| !c.is_empty())
        .ok_or(incomplete("authorization without credential"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(incomplete("authorization without signature"))?;
    let signed_headers: Vec<String> = signed_headers
        .ok_or(incomplete("authorization without signed headers"))?
        .split(';')
        .map(str::to_owned)
        .collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(incomplete("empty signed header name"));
    }
    for (i, name) in signed_headers.iter().enumerate() {
        if signed_headers
            .iter()
            .skip(i + 1)
            .any(|other| other.eq_ignore_ascii_case(name))
        {
            return Err(incomplete("repeated signed header"));
        }
    }
    Ok(Authorization {
        algorithm: algorithm.to_owned(),
        credential: credential.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// *CanonicalQueryString*: the decoded query parameters sorted by name, values RFC 3986-encoded,
/// names as sent (the Python SDK does not encode them; RAM names are plain ASCII anyway).
/// Form-body parameters are not part of it: the body is covered by its hash.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let pairs: Vec<(&str, String)> = query
        .iter()
        .map(|(name, value)| (name.as_str(), percent_encode(value)))
        .collect();
    sorted_query(pairs)
}

/// *CanonicalHeaders*: `name:value\n` for each signed header; values trimmed, and repeated
/// headers joined with `,` after sorting. A signed header the request lacks is an error rather
/// than an empty value: nothing the SDKs send would produce it.
pub fn canonical_headers(
    raw: &RawRequest,
    signed_headers: &[String],
) -> Result<String, RequestError> {
    let mut out = String::new();
    for name in signed_headers {
        let mut values: Vec<&str> = raw.header_values(name).map(str::trim).collect();
        if values.is_empty() {
            return Err(RequestError::IncompleteSignature(
                "a signed header is missing from the request",
            ));
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// The full *CanonicalRequest*, from the parts.
pub fn canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &[String],
    payload_sha256: &str,
) -> String {
    format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{}\n{payload_sha256}",
        signed_headers.join(";")
    )
}

/// `ACS3-HMAC-SHA256\n` + lower-hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Lower-hex `HMAC-SHA256(secret, string_to_sign)`; unlike V1, the key has no trailing `&`.
pub fn sign(secret: &Secret, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Lower-hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_header() {
        let auth = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-date,Signature=abc",
        )
        .unwrap();
        assert_eq!(auth.algorithm, "ACS3-HMAC-SHA256");
        assert_eq!(auth.credential, "testid");
        assert_eq!(auth.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(auth.signature, "abc");
        // Some clients put a space after each comma.
        let spaced = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=testid, SignedHeaders=host;x-acs-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(spaced, auth);
    }

    #[test]
    fn rejects_incomplete_headers() {
        for bad in [
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 ",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=a,Signature=s",
            "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=s",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;host,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=s,Extra=1",
            "ACS3-HMAC-SHA256 Credential=a;SignedHeaders=host;Signature=s",
        ] {
            assert!(
                matches!(
                    parse_authorization(bad),
                    Err(RequestError::IncompleteSignature(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined() {
        let raw = RawRequest::new("GET", "/", "")
            .with_header("x-acs-b", " 2 ")
            .with_header("X-Acs-B", "1");
        assert_eq!(
            canonical_headers(&raw, &["x-acs-b".to_owned()]).unwrap(),
            "x-acs-b:1,2\n"
        );
    }

    #[test]
    fn empty_body_hash() {
        assert_eq!(sha256_hex(b""), EMPTY_BODY_SHA256);
    }
}
