//! Policy documents in requests: size, then the engine's parser, in RAM's codes.

use rampart_policy::{Policy, PolicyKind};
use rampart_wire::ApiError;

/// Checks a document of `kind` sent as `param`: `InvalidParameter.<param>.Length` when too
/// long or empty, `MalformedPolicyDocument` with the parser's located message when invalid.
pub fn check_document(kind: PolicyKind, param: &'static str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || kind.check_size(text).is_err() {
        return Err(ApiError::new(
            format!("InvalidParameter.{param}.Length"),
            format!(
                "The parameter - \"{param}\" is beyond the length limit ({} characters).",
                kind.max_chars()
            ),
            400,
        ));
    }
    Policy::parse(text, kind)
        .map(|_| ())
        .map_err(|e| ApiError::new("MalformedPolicyDocument", e.to_string(), 400))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let ok =
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}"#;
        assert!(check_document(PolicyKind::Identity, "PolicyDocument", ok).is_ok());
        let e = check_document(PolicyKind::Identity, "PolicyDocument", "{").unwrap_err();
        assert_eq!((e.code(), e.status()), ("MalformedPolicyDocument", 400));
        let big = format!(
            "{{\"Version\":\"1\",\"Statement\":[],\"x\":\"{}\"}}",
            "a".repeat(7000)
        );
        let e = check_document(PolicyKind::Identity, "PolicyDocument", &big).unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.PolicyDocument.Length");
        // A trust policy needs a Principal.
        let e = check_document(PolicyKind::Trust, "AssumeRolePolicyDocument", ok).unwrap_err();
        assert_eq!(e.code(), "MalformedPolicyDocument");
    }
}
