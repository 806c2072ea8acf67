//! `verify_response` against responses signed by an independent implementation (signxml; see
//! tests/fixtures/saml/make_fixtures.py), including the XSW1–XSW8 wrapping attacks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use base64::Engine as _;
use rampart_federation::saml::{
    verify_response, IdpMetadata, RolePair, SamlError, SamlExpectations, SignedElement,
    SigningCertificate, TimeBound,
};

const ENTITY_ID: &str = "https://idp.example.test/saml/metadata";
const ROLE: &str = "acs:ram::1234567890123456:role/admin";
const PROVIDER: &str = "acs:ram::1234567890123456:saml-provider/example-idp";
/// 2030-01-01T00:00:00Z, inside every fixture's validity window.
const NOW: i64 = 1_893_456_000;
/// 2099-12-31T00:00:00Z, the fixtures' SubjectConfirmationData/@NotOnOrAfter.
const SCD_NOT_ON_OR_AFTER: i64 = 4_102_358_400;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/saml/{name}.b64",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pem_der(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"));
    let pem = std::fs::read_to_string(path).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn idp() -> IdpMetadata {
    IdpMetadata {
        entity_id: ENTITY_ID.into(),
        signing_certificates: vec![SigningCertificate {
            der: pem_der("idp-cert.pem"),
        }],
    }
}

fn expect() -> SamlExpectations {
    SamlExpectations::alibaba(NOW, 60)
}

fn verify(name: &str) -> Result<rampart_federation::saml::VerifiedAssertion, SamlError> {
    verify_response(&fixture(name), &idp(), &expect())
}

fn err(name: &str) -> SamlError {
    match verify(name) {
        Ok(v) => panic!("{name} was accepted: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn signed_assertion_is_accepted() {
    let v = verify("signed_assertion").unwrap();
    assert_eq!(v.signed, SignedElement::Assertion);
    assert_eq!(v.assertion_id, "_assertion-1");
    assert_eq!(v.issuer, ENTITY_ID);
    assert_eq!(v.subject, "alice@example.test");
    assert_eq!(
        v.subject_format,
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    assert_eq!(v.subject_type(), "persistent");
    assert_eq!(v.recipient, "https://signin.alibabacloud.com/saml-role/sso");
    assert_eq!(v.audiences, ["urn:alibaba:cloudcomputing:international"]);
    assert_eq!(v.not_on_or_after, SCD_NOT_ON_OR_AFTER);
    assert_eq!(v.replay_cache_until(60), SCD_NOT_ON_OR_AFTER + 60);
    assert_eq!(
        v.role_pairs(),
        [RolePair {
            role_arn: ROLE.into(),
            provider_arn: PROVIDER.into()
        }]
    );
    assert_eq!(v.role_session_name(), Some("alice"));
}

#[test]
fn signed_response_and_doubly_signed_are_accepted() {
    let v = verify("signed_response").unwrap();
    assert_eq!(v.signed, SignedElement::Response);
    assert_eq!(v.subject, "alice@example.test");
    assert_eq!(v.role_session_name(), Some("alice"));
    let v = verify("signed_both").unwrap();
    assert_eq!(v.signed, SignedElement::Both);
    assert_eq!(v.role_pairs().len(), 1);
}

#[test]
fn several_roles_are_all_returned() {
    let v = verify("signed_two_roles").unwrap();
    let roles: Vec<String> = v.role_pairs().into_iter().map(|p| p.role_arn).collect();
    assert_eq!(
        roles,
        [ROLE, "acs:ram::1234567890123456:role/readonly"].map(String::from)
    );
}

#[test]
fn base64_with_line_breaks_is_accepted() {
    let b64 = fixture("signed_assertion");
    let wrapped: String = b64
        .trim()
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert!(verify_response(&wrapped, &idp(), &expect()).is_ok());
}

#[test]
fn a_second_metadata_certificate_is_tried() {
    let mut idp = idp();
    idp.signing_certificates.insert(
        0,
        SigningCertificate {
            der: pem_der("other-cert.pem"),
        },
    );
    assert!(verify_response(&fixture("signed_assertion"), &idp, &expect()).is_ok());
}

#[test]
fn unsigned_is_refused() {
    assert_eq!(err("unsigned"), SamlError::Unsigned);
}

#[test]
fn signed_then_modified_is_refused() {
    assert_eq!(
        err("modified_nameid"),
        SamlError::SignatureInvalid(SignedElement::Assertion)
    );
    assert_eq!(
        err("modified_role"),
        SamlError::SignatureInvalid(SignedElement::Assertion)
    );
    assert_eq!(
        err("modified_response"),
        SamlError::SignatureInvalid(SignedElement::Response)
    );
}

#[test]
fn keyinfo_certificate_outside_metadata_is_not_trusted() {
    // The message embeds its own (valid) certificate in KeyInfo; only metadata keys count.
    assert_eq!(
        err("other_key"),
        SamlError::SignatureInvalid(SignedElement::Assertion)
    );
}

#[test]
fn metadata_without_certificates_is_a_metadata_error() {
    let idp = IdpMetadata {
        entity_id: ENTITY_ID.into(),
        signing_certificates: vec![SigningCertificate {
            der: b"not a certificate".to_vec(),
        }],
    };
    let e = verify_response(&fixture("signed_assertion"), &idp, &expect()).unwrap_err();
    assert_eq!(e, SamlError::NoTrustedCertificate);
    assert_eq!(e.code(), "AuthenticationFail.IDPMetadata.Invalid");
}

#[test]
fn wrapping_attacks_are_refused() {
    // XSW1/2/5/6/8: the Signature sits in an element other than the one it references.
    for name in ["xsw1", "xsw2", "xsw5", "xsw6", "xsw8"] {
        match err(name) {
            SamlError::SignatureReference(msg) => {
                assert!(msg.contains("points at"), "{name}: {msg}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // XSW3: a second, unsigned Assertion next to the signed one.
    assert_eq!(err("xsw3"), SamlError::AssertionCount(2));
    // XSW4/7: the signed Assertion is nested in an evil Assertion or in Extensions.
    assert_eq!(err("xsw4"), SamlError::SignatureMisplaced);
    assert_eq!(err("xsw7"), SamlError::SignatureMisplaced);
}

#[test]
fn issuer_recipient_audience_are_checked() {
    match err("wrong_issuer") {
        SamlError::IssuerMismatch {
            element,
            seen,
            expected,
        } => {
            assert_eq!(element, "Assertion");
            assert_eq!(seen, "https://evil.example.test/");
            assert_eq!(expected, ENTITY_ID);
        }
        other => panic!("{other:?}"),
    }
    match err("wrong_recipient") {
        SamlError::RecipientMismatch { seen, .. } => {
            assert_eq!(seen, "https://evil.example.test/saml-role/sso")
        }
        other => panic!("{other:?}"),
    }
    match err("wrong_audience") {
        SamlError::AudienceMismatch { seen, .. } => assert_eq!(seen, ["urn:evil:audience"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn recipient_and_audience_lists_come_from_the_caller() {
    let mut e = expect();
    e.recipients = vec!["HTTPS://SIGNIN.ALIBABACLOUD.COM/SAML-ROLE/SSO".into()];
    assert!(verify_response(&fixture("signed_assertion"), &idp(), &e).is_ok());
    e.recipients = vec!["https://signin.aliyun.com/saml-role/sso".into()];
    assert!(matches!(
        verify_response(&fixture("signed_assertion"), &idp(), &e),
        Err(SamlError::RecipientMismatch { .. })
    ));
    let mut e = expect();
    e.audiences = vec!["urn:alibaba:cloudcomputing".into()];
    assert!(matches!(
        verify_response(&fixture("signed_assertion"), &idp(), &e),
        Err(SamlError::AudienceMismatch { .. })
    ));
}

#[test]
fn time_bounds_are_checked() {
    let e = err("expired");
    assert!(
        matches!(
            e,
            SamlError::Expired {
                bound: TimeBound::ConditionsNotOnOrAfter,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), "AuthenticationFail.SAMLAssertion.Expired");
    assert!(matches!(
        err("expired_confirmation"),
        SamlError::Expired {
            bound: TimeBound::SubjectConfirmationNotOnOrAfter,
            ..
        }
    ));
    let e = err("not_yet_valid");
    assert!(matches!(
        e,
        SamlError::NotYetValid {
            bound: TimeBound::ConditionsNotBefore,
            ..
        }
    ));
    assert_eq!(e.code(), "AuthenticationFail.SAMLAssertion.Expired");
}

#[test]
fn skew_applies_at_the_edges() {
    let at = |now: i64, skew: i64| {
        let e = SamlExpectations::alibaba(now, skew);
        verify_response(&fixture("signed_assertion"), &idp(), &e)
    };
    assert!(at(SCD_NOT_ON_OR_AFTER - 1, 0).is_ok());
    assert!(matches!(
        at(SCD_NOT_ON_OR_AFTER, 0),
        Err(SamlError::Expired { .. })
    ));
    assert!(at(SCD_NOT_ON_OR_AFTER + 59, 60).is_ok());
    // NotBefore is 2020-01-01T00:00:00Z.
    assert!(matches!(
        at(1_577_836_800 - 61, 60),
        Err(SamlError::NotYetValid { .. })
    ));
    assert!(at(1_577_836_800 - 60, 60).is_ok());
}

#[test]
fn role_attribute_is_required() {
    assert_eq!(err("missing_role"), SamlError::MissingRoleAttribute);
}

#[test]
fn doctype_and_encrypted_assertions_are_refused() {
    assert_eq!(err("doctype"), SamlError::Dtd);
    assert_eq!(err("encrypted"), SamlError::EncryptedAssertion);
}

#[test]
fn garbage_is_refused() {
    let check = |input: &str, want: SamlError| {
        assert_eq!(verify_response(input, &idp(), &expect()), Err(want));
    };
    check("not base64!", SamlError::Base64);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    check(&b64("<samlp:Response"), SamlError::MalformedXml);
    check(&b64("<a/>"), SamlError::NotAResponse("a".into()));
    check(&"A".repeat(100_004), SamlError::TooLarge);
}

#[test]
fn errors_say_what_failed_without_key_material() {
    let msg = err("wrong_issuer").to_string();
    assert!(
        msg.contains("https://evil.example.test/") && msg.contains(ENTITY_ID),
        "{msg}"
    );
    let msg = err("other_key").to_string();
    assert!(!msg.contains("MII"), "{msg}");
}
