//! Errors: [`RequestError`] is what this crate detects; [`ApiError`] is what goes on the wire.
//!
//! The mapping from one to the other lives here and nowhere else, so a wire code or HTTP status
//! changes in exactly one place.

use std::borrow::Cow;

/// A problem found while decoding, classifying or verifying a request.
///
/// Messages are for logs. Clients see the [`ApiError`] this converts into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("parameter {name:?} appears more than once")]
    DuplicateParameter { name: String },
    #[error("more than {max} parameters")]
    TooManyParameters { max: usize },
    #[error("a parameter name is longer than {max} bytes")]
    ParameterNameTooLong { max: usize },
    #[error("parameter {name:?} is longer than {max} bytes")]
    ParameterValueTooLong { name: String, max: usize },
    #[error("an empty parameter name")]
    EmptyParameterName,
    #[error("malformed percent-encoding")]
    MalformedEncoding,
    #[error("percent-decoded bytes are not utf-8")]
    InvalidUtf8,
    #[error("missing parameter {0:?}")]
    MissingParameter(&'static str),
    #[error("parameter {name:?} is not valid")]
    InvalidParameter { name: String },
    #[error("response format {0:?} is neither json nor xml")]
    InvalidFormat(String),
    #[error("http method {0:?} is not supported")]
    UnsupportedMethod(String),
    #[error("signature method {0:?} is not supported")]
    InvalidSignatureMethod(String),
    #[error("signature version {0:?} is not supported")]
    InvalidSignatureVersion(String),
    #[error("incomplete signature: {0}")]
    IncompleteSignature(&'static str),
    #[error("the request carries no signature")]
    Unsigned,
    #[error("timestamp {0:?} is not well formatted")]
    TimestampFormat(String),
    #[error("timestamp is outside the allowed clock skew")]
    TimestampExpired,
    #[error("x-acs-content-sha256 does not match the body")]
    ContentHashMismatch,
    /// `string_to_sign` is the server's, shown to V1 clients so they can debug their encoder.
    /// It never contains key material.
    #[error("signature does not match")]
    SignatureMismatch { string_to_sign: Option<String> },
}

/// One `AccessDeniedDetail` object of an authorization failure.
///
/// Every member is optional; only present ones are rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessDeniedDetail {
    pub policy_type: Option<String>,
    pub auth_principal_owner_id: Option<String>,
    pub auth_principal_type: Option<String>,
    pub auth_principal_display_name: Option<String>,
    pub no_permission_type: Option<String>,
    pub auth_action: Option<String>,
    pub encoded_diagnostic_message: Option<String>,
}

impl AccessDeniedDetail {
    /// The present members under their wire names, in the order Alibaba renders them.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("PolicyType", &self.policy_type),
            ("AuthPrincipalOwnerId", &self.auth_principal_owner_id),
            ("AuthPrincipalType", &self.auth_principal_type),
            (
                "AuthPrincipalDisplayName",
                &self.auth_principal_display_name,
            ),
            ("NoPermissionType", &self.no_permission_type),
            ("AuthAction", &self.auth_action),
            ("EncodedDiagnosticMessage", &self.encoded_diagnostic_message),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
    }
}

/// An error as the client sees it: Alibaba `Code`, `Message` and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct ApiError {
    code: Cow<'static, str>,
    message: String,
    status: u16,
    access_denied_detail: Option<Box<AccessDeniedDetail>>,
}

impl ApiError {
    /// Any code, for business errors (`EntityNotExist.User`, ...) and gateway codes not listed.
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        status: u16,
    ) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            access_denied_detail: None,
        }
    }

    fn fixed(code: &'static str, message: &str, status: u16) -> Self {
        Self::new(code, message, status)
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// The code, without copying the common case of a fixed one.
    pub fn code_cow(&self) -> Cow<'static, str> {
        self.code.clone()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn access_denied_detail(&self) -> Option<&AccessDeniedDetail> {
        self.access_denied_detail.as_deref()
    }

    pub fn with_access_denied_detail(mut self, detail: AccessDeniedDetail) -> Self {
        self.access_denied_detail = Some(Box::new(detail));
        self
    }

    /// `MissingParameter`: `{name} is mandatory for this action.`
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("{name} is mandatory for this action."),
            400,
        )
    }

    /// `Missing{Name}`, the per-parameter form of [`Self::missing_parameter`].
    pub fn missing_named(name: &str) -> Self {
        Self::new(
            format!("Missing{name}"),
            format!("{name} is mandatory for this action."),
            400,
        )
    }

    /// `InvalidParameter`: `Specified parameter {name} is not valid.`
    pub fn invalid_parameter(name: &str) -> Self {
        Self::new(
            "InvalidParameter",
            format!("Specified parameter {name} is not valid."),
            400,
        )
    }

    /// `Invalid{Name}`, the per-parameter form of [`Self::invalid_parameter`].
    pub fn invalid_named(name: &str) -> Self {
        Self::new(
            format!("Invalid{name}"),
            format!("Specified parameter {name} is not valid."),
            400,
        )
    }

    /// `InvalidParameter.Format`: the `Format` parameter is neither JSON nor XML.
    pub fn invalid_format() -> Self {
        Self::fixed(
            "InvalidParameter.Format",
            "Specified parameter Format is not valid.",
            400,
        )
    }

    pub fn invalid_action() -> Self {
        Self::fixed(
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
            404,
        )
    }

    pub fn invalid_version() -> Self {
        Self::fixed(
            "InvalidVersion",
            "Specified parameter Version is not valid.",
            400,
        )
    }

    pub fn invalid_product() -> Self {
        Self::fixed(
            "InvalidProduct.NotFound",
            "Cannot find product according to your specified domain.",
            404,
        )
    }

    pub fn access_key_not_found() -> Self {
        Self::fixed(
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
            404,
        )
    }

    pub fn access_key_inactive() -> Self {
        Self::fixed(
            "InvalidAccessKeyId.Inactive",
            "Specified access key is disabled.",
            400,
        )
    }

    /// `SignatureDoesNotMatch`; for V1 pass the server's string-to-sign, which clients parse
    /// from the message suffix. Never pass anything derived from a secret.
    pub fn signature_does_not_match(string_to_sign: Option<&str>) -> Self {
        const BASE: &str = "Specified signature is not matched with our calculation.";
        let message = match string_to_sign {
            Some(sts) => format!("{BASE} server string to sign is:{sts}"),
            None => BASE.to_owned(),
        };
        Self::new("SignatureDoesNotMatch", message, 400)
    }

    pub fn incomplete_signature() -> Self {
        Self::fixed(
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
            400,
        )
    }

    pub fn invalid_signature_method() -> Self {
        Self::fixed(
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
            400,
        )
    }

    pub fn unsupported_http_method() -> Self {
        Self::fixed(
            "UnsupportedHTTPMethod",
            "This http method is not supported.",
            400,
        )
    }

    pub fn timestamp_format() -> Self {
        Self::fixed(
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
            400,
        )
    }

    pub fn timestamp_expired() -> Self {
        Self::fixed(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
            400,
        )
    }

    pub fn signature_nonce_used() -> Self {
        Self::fixed(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
            400,
        )
    }

    pub fn missing_security_token() -> Self {
        Self::fixed(
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
            400,
        )
    }

    pub fn security_token_malformed() -> Self {
        Self::fixed(
            "InvalidSecurityToken.Malformed",
            "Specified SecurityToken is malformed.",
            400,
        )
    }

    pub fn security_token_expired() -> Self {
        Self::fixed(
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
            400,
        )
    }

    pub fn security_token_mismatch() -> Self {
        Self::fixed(
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
            400,
        )
    }

    pub fn throttling_user() -> Self {
        Self::fixed(
            "Throttling.User",
            "Request was denied due to user flow control.",
            400,
        )
    }

    pub fn no_permission() -> Self {
        Self::fixed(
            "NoPermission",
            "You are not authorized to do this action. You should be authorized by RAM.",
            403,
        )
    }

    pub fn internal_error() -> Self {
        Self::fixed(
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
            500,
        )
    }

    pub fn service_unavailable() -> Self {
        Self::fixed(
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
            503,
        )
    }
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        match err {
            RequestError::DuplicateParameter { name } => Self::new(
                "InvalidParameter",
                format!("Specified parameter {name} is duplicated."),
                400,
            ),
            RequestError::TooManyParameters { .. } => Self::fixed(
                "InvalidParameter",
                "The request has too many parameters.",
                400,
            ),
            RequestError::ParameterNameTooLong { .. } => {
                Self::fixed("InvalidParameter", "A parameter name is too long.", 400)
            }
            RequestError::ParameterValueTooLong { name, .. } => Self::new(
                "InvalidParameter",
                format!("Specified parameter {name} is too long."),
                400,
            ),
            RequestError::EmptyParameterName
            | RequestError::MalformedEncoding
            | RequestError::InvalidUtf8 => Self::fixed(
                "InvalidParameter",
                "The request parameters are not well formed.",
                400,
            ),
            RequestError::MissingParameter(name) => Self::missing_parameter(name),
            RequestError::InvalidParameter { name } => Self::invalid_parameter(&name),
            RequestError::InvalidFormat(_) => Self::invalid_format(),
            RequestError::UnsupportedMethod(_) => Self::unsupported_http_method(),
            RequestError::InvalidSignatureMethod(_) => Self::invalid_signature_method(),
            RequestError::InvalidSignatureVersion(_) => Self::invalid_parameter("SignatureVersion"),
            RequestError::IncompleteSignature(_) | RequestError::Unsigned => {
                Self::incomplete_signature()
            }
            RequestError::TimestampFormat(_) => Self::timestamp_format(),
            RequestError::TimestampExpired => Self::timestamp_expired(),
            RequestError::ContentHashMismatch => Self::signature_does_not_match(None),
            RequestError::SignatureMismatch { string_to_sign } => {
                Self::signature_does_not_match(string_to_sign.as_deref())
            }
        }
    }
}
