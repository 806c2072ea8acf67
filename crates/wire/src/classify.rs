//! Which authentication scheme a request uses, and the common values every scheme carries.

use crate::envelope::{negotiate_format, ResponseFormat};
use crate::error::RequestError;
use crate::params::Params;
use crate::request::RawRequest;
use crate::v1;
use crate::v3::{self, Authorization};

/// V1 common parameters: they are protocol, not business input.
pub const V1_COMMON_PARAMS: [&str; 10] = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
    "SecurityToken",
];

/// How the request claims to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// No credentials: only `AssumeRoleWithSAML` and `AssumeRoleWithOIDC` may be called so.
    Anonymous,
    /// A `Signature` parameter (HMAC-SHA1).
    V1 { signature: String },
    /// `Authorization: ACS3-HMAC-SHA256 ...`.
    V3(Authorization),
    /// A call the server makes for a signed-in console session, whose cookie it checked
    /// itself. Never produced by [`classify`]: only [`ClassifiedRequest::for_session`] builds
    /// it, so nothing on the wire can claim it.
    Session,
}

/// A request whose scheme and common values are known but whose signature is not yet checked.
///
/// Built only by [`classify`], so a `V1`/`V3` value has passed every structural check that
/// needs no secret (signature method and version, required signed headers, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifiedRequest {
    scheme: Scheme,
    action: String,
    version: String,
    format: ResponseFormat,
    access_key_id: Option<String>,
    security_token: Option<String>,
    nonce: Option<String>,
    timestamp: Option<String>,
    params: Params,
}

impl ClassifiedRequest {
    /// A console session's call: the server's own pages acting for a signed-in person
    /// through the same action tables (and so the same authorization) as signed calls.
    pub fn for_session(action: &str, version: &str, params: Params) -> Self {
        Self {
            scheme: Scheme::Session,
            action: action.to_owned(),
            version: version.to_owned(),
            format: ResponseFormat::Json,
            access_key_id: None,
            security_token: None,
            nonce: None,
            timestamp: None,
            params,
        }
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    pub fn action(&self) -> &str {
        &self.action
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn format(&self) -> ResponseFormat {
        self.format
    }

    /// The claimed AccessKeyId: V1 `AccessKeyId`, V3 `Credential=`. `None` when anonymous.
    pub fn access_key_id(&self) -> Option<&str> {
        self.access_key_id.as_deref()
    }

    /// V1 `SecurityToken`, V3 `x-acs-security-token`. `None` when anonymous.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// V1 `SignatureNonce`, V3 `x-acs-signature-nonce`. Required on signed requests, optional
    /// on anonymous ones. Uniqueness needs storage, so the caller checks it.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// V1 `Timestamp`, V3 `x-acs-date`, unparsed; [`crate::verify`] checks it.
    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    /// Every parameter, including the V1 common ones.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The parameters minus the V1 common ones, in arrival order.
    pub fn business_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .filter(|(name, _)| !V1_COMMON_PARAMS.contains(name))
    }

    /// A business parameter by name; always `None` for a V1 common parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        if V1_COMMON_PARAMS.contains(&name) {
            return None;
        }
        self.params.get(name)
    }
}

/// Classifies a decoded request (spec §1.1): V3 if `Authorization` starts with `ACS3-`, else V1
/// if a `Signature` parameter is present, else anonymous.
pub fn classify(raw: &RawRequest, params: Params) -> Result<ClassifiedRequest, RequestError> {
    if raw.method != "GET" && raw.method != "POST" {
        return Err(RequestError::UnsupportedMethod(raw.method.clone()));
    }
    let format = negotiate_format(params.get("Format"), raw.header("accept"))?;
    let authorization = raw
        .header("authorization")
        .filter(|a| a.starts_with("ACS3-"));
    let signed = if let Some(value) = authorization {
        classify_v3(raw, value)?
    } else if let Some(signature) = params.get("Signature") {
        classify_v1(&params, signature)?
    } else {
        Signed {
            scheme: Scheme::Anonymous,
            access_key_id: None,
            security_token: None,
            nonce: params
                .get("SignatureNonce")
                .or_else(|| raw.header("x-acs-signature-nonce"))
                .map(str::to_owned),
            timestamp: params
                .get("Timestamp")
                .or_else(|| raw.header("x-acs-date"))
                .map(str::to_owned),
        }
    };
    // Action and Version must come from signed input. V1 signs only parameters, so it reads
    // only them (SDKs also send x-acs-* headers on V1 calls, unsigned). V3 signs both headers
    // and query, so either place is safe; anonymous calls sign nothing and accept both.
    let from_params = (params.get("Action"), params.get("Version"));
    let from_headers = (raw.header("x-acs-action"), raw.header("x-acs-version"));
    let (action, version) = match signed.scheme {
        Scheme::V1 { .. } => from_params,
        Scheme::V3(_) => (
            from_headers.0.or(from_params.0),
            from_headers.1.or(from_params.1),
        ),
        Scheme::Anonymous | Scheme::Session => (
            from_params.0.or(from_headers.0),
            from_params.1.or(from_headers.1),
        ),
    };
    let action = non_empty(action).ok_or(RequestError::MissingParameter("Action"))?;
    let version = non_empty(version).ok_or(RequestError::MissingParameter("Version"))?;
    Ok(ClassifiedRequest {
        scheme: signed.scheme,
        action: action.to_owned(),
        version: version.to_owned(),
        format,
        access_key_id: signed.access_key_id,
        security_token: signed.security_token,
        nonce: signed.nonce,
        timestamp: signed.timestamp,
        params,
    })
}

struct Signed {
    scheme: Scheme,
    access_key_id: Option<String>,
    security_token: Option<String>,
    nonce: Option<String>,
    timestamp: Option<String>,
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn required(params: &Params, name: &'static str) -> Result<String, RequestError> {
    non_empty(params.get(name))
        .map(str::to_owned)
        .ok_or(RequestError::MissingParameter(name))
}

fn classify_v1(params: &Params, signature: &str) -> Result<Signed, RequestError> {
    // An empty signature can never be right, and refusing it here means no failure mode of the
    // signing code (which returns "" on an impossible HMAC error) can ever compare equal.
    if signature.is_empty() {
        return Err(RequestError::IncompleteSignature("empty signature"));
    }
    let method = required(params, "SignatureMethod")?;
    if method != v1::SIGNATURE_METHOD {
        return Err(RequestError::InvalidSignatureMethod(method));
    }
    let version = required(params, "SignatureVersion")?;
    if version != v1::SIGNATURE_VERSION {
        return Err(RequestError::InvalidSignatureVersion(version));
    }
    Ok(Signed {
        scheme: Scheme::V1 {
            signature: signature.to_owned(),
        },
        access_key_id: Some(required(params, "AccessKeyId")?),
        security_token: params.get("SecurityToken").map(str::to_owned),
        nonce: Some(required(params, "SignatureNonce")?),
        timestamp: Some(required(params, "Timestamp")?),
    })
}

fn classify_v3(raw: &RawRequest, value: &str) -> Result<Signed, RequestError> {
    let auth = v3::parse_authorization(value)?;
    if auth.algorithm != v3::ALGORITHM {
        return Err(RequestError::InvalidSignatureMethod(auth.algorithm));
    }
    let is_signed = |name: &str| {
        auth.signed_headers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
    };
    for name in v3::REQUIRED_SIGNED_HEADERS {
        if raw.header(name).is_none_or(str::is_empty) || !is_signed(name) {
            return Err(RequestError::IncompleteSignature(
                "host, x-acs-date, x-acs-signature-nonce and x-acs-content-sha256 must be signed",
            ));
        }
    }
    // An unsigned x-acs-* header could change meaning (token, action) without breaking the
    // signature, so all of them must be signed.
    if raw
        .headers
        .iter()
        .any(|(name, _)| name.to_ascii_lowercase().starts_with("x-acs-") && !is_signed(name))
    {
        return Err(RequestError::IncompleteSignature(
            "every x-acs-* header must be signed",
        ));
    }
    for name in &auth.signed_headers {
        if raw.header(name).is_none() {
            return Err(RequestError::IncompleteSignature(
                "a signed header is missing from the request",
            ));
        }
    }
    if let Some(id) = raw.header("x-acs-accesskey-id") {
        if id != auth.credential {
            return Err(RequestError::IncompleteSignature(
                "x-acs-accesskey-id differs from the credential",
            ));
        }
    }
    Ok(Signed {
        access_key_id: Some(auth.credential.clone()),
        security_token: raw.header("x-acs-security-token").map(str::to_owned),
        nonce: raw.header("x-acs-signature-nonce").map(str::to_owned),
        timestamp: raw.header("x-acs-date").map(str::to_owned),
        scheme: Scheme::V3(auth),
    })
}
