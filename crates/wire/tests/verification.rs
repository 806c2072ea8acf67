//! Verification behaviour: the quote_plus quirk, the timestamp window, tampering, required
//! signed headers, structural rejections and the wire codes they map to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_wire::{
    constant_time_eq, parse_request, v1, v3, verify, ApiError, ClassifiedRequest, Limits, Params,
    RawRequest, RequestError, Scheme, Secret, SpaceEncoding, VerifyOptions,
};

const NOW: i64 = 1_704_110_400; // 2024-01-01T12:00:00Z
const UA_CORE: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";

fn secret() -> Secret {
    Secret::new("testsecret")
}

fn parse(raw: &RawRequest) -> Result<ClassifiedRequest, RequestError> {
    parse_request(raw, &Limits::default())
}

fn check(raw: &RawRequest, now: i64, options: &VerifyOptions) -> Result<(), RequestError> {
    verify(raw, &parse(raw)?, &secret(), now, options)
}

fn check_now(raw: &RawRequest) -> Result<(), RequestError> {
    check(raw, NOW, &VerifyOptions::default())
}

fn is_mismatch(result: Result<(), RequestError>) -> bool {
    matches!(result, Err(RequestError::SignatureMismatch { .. }))
}

/// Spec §1.3 worked example A (V1, POST), with `query` in place of the captured query.
fn v1_request(query: &str) -> RawRequest {
    RawRequest::new("POST", "/", query)
}

const EXAMPLE_A: &str = "Action=CreateUser&Format=json&Version=2015-05-01&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Comments=dev+team%2A~&DisplayName=Alice+Zhang&UserName=alice&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature=%2BrcjtWAoQ9l5fmL1itTp0KYHnLQ%3D";

const EXAMPLE_C_AUTH: &str = "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=1fbfaeef31cd9a618eb7b7998c351b28a9160bd66c604a2c1ab133f4a3e285f6";

/// Spec §1.4 worked example C's headers, without Authorization.
fn example_c_unsigned() -> RawRequest {
    RawRequest::new(
        "POST",
        "/",
        "Comments=dev+team%2A~&DisplayName=Alice+Zhang&UserName=alice",
    )
    .with_header("host", "127.0.0.1:18080")
    .with_header("x-acs-version", "2015-05-01")
    .with_header("x-acs-action", "CreateUser")
    .with_header("user-agent", UA_CORE)
    .with_header("x-acs-date", "2024-01-01T12:00:00Z")
    .with_header(
        "x-acs-signature-nonce",
        "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    )
    .with_header("accept", "application/json")
    .with_header("x-acs-content-sha256", v3::EMPTY_BODY_SHA256)
    .with_header("x-acs-credentials-provider", "static_ak")
}

fn example_c() -> RawRequest {
    example_c_unsigned().with_header("authorization", EXAMPLE_C_AUTH)
}

fn set_header(mut raw: RawRequest, name: &str, value: &str) -> RawRequest {
    raw.headers.retain(|(n, _)| n != name);
    raw.with_header(name, value)
}

fn remove_header(mut raw: RawRequest, name: &str) -> RawRequest {
    raw.headers.retain(|(n, _)| n != name);
    raw
}

/// Signs like a client would, over exactly `signed` headers, and adds Authorization.
fn sign_v3(raw: RawRequest, signed: &[&str]) -> RawRequest {
    let signed: Vec<String> = signed.iter().map(|s| (*s).to_owned()).collect();
    let params = rampart_wire::decode_params(&raw, &Limits::default()).unwrap();
    let canonical = v3::canonical_request(
        &raw.method,
        &raw.path,
        &v3::canonical_query(params.query()),
        &v3::canonical_headers(&raw, &signed).unwrap(),
        &signed,
        &v3::sha256_hex(&raw.body),
    );
    let signature = v3::sign(&secret(), &v3::string_to_sign(&canonical));
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={},Signature={signature}",
        signed.join(";")
    );
    raw.with_header("authorization", &auth)
}

fn all_header_names(raw: &RawRequest) -> Vec<&str> {
    let mut names: Vec<&str> = raw.headers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names
}

// ---- the credentials library's quote_plus canonicalisation --------------------------------

/// An AssumeRole from the credentials library with a session `Policy` containing a space.
/// Its signature was computed by the library's own `compose_string_to_sign` and `sign_string`
/// (`quote_plus` on names and values, then on the canonical string), run verbatim with Python's
/// standard library; the query is its `urlencode` output.
const QUOTE_PLUS_QUERY: &str = "Action=AssumeRole&Format=JSON&Version=2015-04-01&DurationSeconds=3600&RoleArn=acs%3Aram%3A%3A123456789012%3Arole%2Fops&RoleSessionName=alice&Policy=%7B%22Version%22%3A+%221%22%7D&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=0b2a4f2e-6c1d-4a55-9d1e-2f3b4c5d6e7f&AccessKeyId=testid&Signature=BGFYs7fgMsOZ0y%2FkqjhEgNe1ank%3D";
const QUOTE_PLUS_STRING_TO_SIGN: &str = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DAssumeRole%26DurationSeconds%3D3600%26Format%3DJSON%26Policy%3D%257B%2522Version%2522%253A%2B%25221%2522%257D%26RoleArn%3Dacs%253Aram%253A%253A123456789012%253Arole%252Fops%26RoleSessionName%3Dalice%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0b2a4f2e-6c1d-4a55-9d1e-2f3b4c5d6e7f%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T12%253A00%253A00Z%26Version%3D2015-04-01";

#[test]
fn quote_plus_signatures_are_accepted() {
    let raw = RawRequest::new("GET", "/", QUOTE_PLUS_QUERY);
    let req = parse(&raw).unwrap();
    assert_eq!(req.param("Policy"), Some(r#"{"Version": "1"}"#));

    let plus = v1::canonicalized_query(req.params().iter(), SpaceEncoding::Plus);
    assert_eq!(v1::string_to_sign("GET", &plus), QUOTE_PLUS_STRING_TO_SIGN);
    assert_eq!(
        v1::sign(&secret(), QUOTE_PLUS_STRING_TO_SIGN),
        "BGFYs7fgMsOZ0y/kqjhEgNe1ank="
    );
    // The RFC 3986 form differs, so only the fallback can accept this request.
    let rfc = v1::canonicalized_query(req.params().iter(), SpaceEncoding::Percent20);
    assert_ne!(v1::string_to_sign("GET", &rfc), QUOTE_PLUS_STRING_TO_SIGN);

    assert_eq!(check_now(&raw), Ok(()));
    let strict = VerifyOptions {
        accept_plus_encoded_spaces: false,
        ..VerifyOptions::default()
    };
    assert!(is_mismatch(check(&raw, NOW, &strict)));
}

#[test]
fn quote_plus_fallback_still_rejects_tampering() {
    let tampered = QUOTE_PLUS_QUERY.replace("%221%22", "%222%22");
    assert!(is_mismatch(check_now(&RawRequest::new(
        "GET", "/", &tampered
    ))));
    // A `+` that was a real plus (sent as %2B) must not pass for a space.
    let plus_for_space = QUOTE_PLUS_QUERY.replace("%3A+%22", "%3A%2B%22");
    assert!(is_mismatch(check_now(&RawRequest::new(
        "GET",
        "/",
        &plus_for_space
    ))));
}

#[test]
fn rfc3986_signatures_with_spaces_still_verify() {
    // Example A has spaces in two values and was signed with %20.
    assert_eq!(check_now(&v1_request(EXAMPLE_A)), Ok(()));
}

// ---- timestamp window ----------------------------------------------------------------------

#[test]
fn timestamp_window_edges_v1() {
    let raw = v1_request(EXAMPLE_A);
    let options = VerifyOptions::default();
    assert_eq!(check(&raw, NOW + 900, &options), Ok(()));
    assert_eq!(check(&raw, NOW - 900, &options), Ok(()));
    assert_eq!(
        check(&raw, NOW + 901, &options),
        Err(RequestError::TimestampExpired)
    );
    assert_eq!(
        check(&raw, NOW - 901, &options),
        Err(RequestError::TimestampExpired)
    );
    let tight = VerifyOptions {
        max_clock_skew_secs: 60,
        ..VerifyOptions::default()
    };
    assert_eq!(check(&raw, NOW + 60, &tight), Ok(()));
    assert_eq!(
        check(&raw, NOW + 61, &tight),
        Err(RequestError::TimestampExpired)
    );
    let err = ApiError::from(RequestError::TimestampExpired);
    assert_eq!(
        (err.code(), err.status()),
        ("InvalidTimeStamp.Expired", 400)
    );
}

#[test]
fn timestamp_window_edges_v3() {
    let raw = example_c();
    let options = VerifyOptions::default();
    assert_eq!(check(&raw, NOW + 15 * 60, &options), Ok(()));
    assert_eq!(check(&raw, NOW - 15 * 60, &options), Ok(()));
    assert_eq!(
        check(&raw, NOW + 15 * 60 + 1, &options),
        Err(RequestError::TimestampExpired)
    );
    assert_eq!(
        check(&raw, NOW - 15 * 60 - 1, &options),
        Err(RequestError::TimestampExpired)
    );
}

#[test]
fn badly_formatted_timestamps() {
    let raw = v1_request(&EXAMPLE_A.replace("2024-01-01T12%3A00%3A00Z", "2024-01-01+12%3A00%3A00"));
    let err = check_now(&raw).unwrap_err();
    assert_eq!(
        err,
        RequestError::TimestampFormat("2024-01-01 12:00:00".into())
    );
    assert_eq!(ApiError::from(err).code(), "InvalidTimeStamp.Format");

    let raw = set_header(example_c(), "x-acs-date", "Mon, 01 Jan 2024 12:00:00 GMT");
    assert!(matches!(
        check_now(&raw),
        Err(RequestError::TimestampFormat(_))
    ));
}

// ---- V1 tampering and structure ------------------------------------------------------------

#[test]
fn v1_tampering_is_detected() {
    let cases = [
        // signature itself
        EXAMPLE_A.replace("%2BrcjtWAoQ9l5", "%2BrcjtWAoQ9l6"),
        // a business value
        EXAMPLE_A.replace("UserName=alice", "UserName=mallory"),
        // an added parameter
        format!("{EXAMPLE_A}&Extra=1"),
        // a removed parameter
        EXAMPLE_A.replace("&DisplayName=Alice+Zhang", ""),
        // the nonce
        EXAMPLE_A.replace("3ee8c1b8", "3ee8c1b9"),
        // the access key (the secret stays the same here: only the signed text changes)
        EXAMPLE_A.replace("AccessKeyId=testid", "AccessKeyId=testid2"),
    ];
    for query in cases {
        assert!(is_mismatch(check_now(&v1_request(&query))), "{query}");
    }
    let mut get = v1_request(EXAMPLE_A);
    get.method = "GET".into();
    assert!(is_mismatch(check_now(&get)));
    let wrong_secret = verify(
        &v1_request(EXAMPLE_A),
        &parse(&v1_request(EXAMPLE_A)).unwrap(),
        &Secret::new("testsecret2"),
        NOW,
        &VerifyOptions::default(),
    );
    assert!(is_mismatch(wrong_secret));
}

#[test]
fn v1_structural_errors() {
    let cases: [(String, RequestError, &str); 7] = [
        (
            EXAMPLE_A.replace("SignatureMethod=HMAC-SHA1", "SignatureMethod=HMAC-SHA256"),
            RequestError::InvalidSignatureMethod("HMAC-SHA256".into()),
            "InvalidSignatureMethod",
        ),
        (
            EXAMPLE_A.replace("SignatureVersion=1.0", "SignatureVersion=2.0"),
            RequestError::InvalidSignatureVersion("2.0".into()),
            "InvalidParameter",
        ),
        (
            EXAMPLE_A.replace("&AccessKeyId=testid", ""),
            RequestError::MissingParameter("AccessKeyId"),
            "MissingParameter",
        ),
        (
            EXAMPLE_A.replace("&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", ""),
            RequestError::MissingParameter("SignatureNonce"),
            "MissingParameter",
        ),
        (
            EXAMPLE_A.replace("Timestamp=2024-01-01T12%3A00%3A00Z&", ""),
            RequestError::MissingParameter("Timestamp"),
            "MissingParameter",
        ),
        (
            EXAMPLE_A.replace("Action=CreateUser&", ""),
            RequestError::MissingParameter("Action"),
            "MissingParameter",
        ),
        (
            EXAMPLE_A.replace("Format=json", "Format=yaml"),
            RequestError::InvalidFormat("yaml".into()),
            "InvalidParameter.Format",
        ),
    ];
    for (query, want, code) in cases {
        let err = parse(&v1_request(&query)).unwrap_err();
        assert_eq!(err, want, "{query}");
        assert_eq!(ApiError::from(err).code(), code);
    }
    let empty_signature =
        EXAMPLE_A.replace("Signature=%2BrcjtWAoQ9l5fmL1itTp0KYHnLQ%3D", "Signature=");
    assert!(matches!(
        parse(&v1_request(&empty_signature)),
        Err(RequestError::IncompleteSignature(_))
    ));
    // V1 signs only parameters, so the unsigned x-acs-action header cannot stand in for Action.
    let headed = v1_request(&EXAMPLE_A.replace("Action=CreateUser&", ""))
        .with_header("x-acs-action", "DeleteUser")
        .with_header("x-acs-version", "2015-05-01");
    assert_eq!(
        parse(&headed).unwrap_err(),
        RequestError::MissingParameter("Action")
    );
    let conflicting = v1_request(EXAMPLE_A).with_header("x-acs-action", "DeleteUser");
    assert_eq!(parse(&conflicting).unwrap().action(), "CreateUser");
    let mut put = v1_request(EXAMPLE_A);
    put.method = "PUT".into();
    let err = parse(&put).unwrap_err();
    assert_eq!(err, RequestError::UnsupportedMethod("PUT".into()));
    assert_eq!(ApiError::from(err).code(), "UnsupportedHTTPMethod");
}

#[test]
fn v1_in_a_form_body_is_signed_like_the_query() {
    // Older SDKs POST the parameters as a form body; the signature covers them all the same.
    let query = "Action=CreateUser&Format=json&Version=2015-05-01";
    let body = EXAMPLE_A
        .replace("Action=CreateUser&Format=json&Version=2015-05-01&", "")
        .into_bytes();
    let raw = RawRequest::new("POST", "/", query)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body);
    assert_eq!(check_now(&raw), Ok(()));
}

// ---- V3 tampering and required signed headers ---------------------------------------------

#[test]
fn v3_tampering_is_detected() {
    let flipped_signature = EXAMPLE_C_AUTH.replace("1fbfaeef", "1fbfaeee");
    let cases = [
        set_header(example_c(), "authorization", &flipped_signature),
        set_header(example_c(), "user-agent", "curl/8"),
        set_header(example_c(), "host", "127.0.0.1:18081"),
        set_header(example_c(), "x-acs-action", "DeleteUser"),
        set_header(example_c(), "x-acs-signature-nonce", "another"),
        {
            let mut raw = example_c();
            raw.query = raw.query.replace("alice", "mallory");
            raw
        },
        {
            let mut raw = example_c();
            raw.query.push_str("&Extra=1");
            raw
        },
        {
            let mut raw = example_c();
            raw.path = "/other".into();
            raw
        },
        {
            let mut raw = example_c();
            raw.method = "GET".into();
            raw
        },
    ];
    for raw in cases {
        assert!(is_mismatch(check_now(&raw)), "{raw:?}");
    }
    let wrong_secret = verify(
        &example_c(),
        &parse(&example_c()).unwrap(),
        &Secret::new("other"),
        NOW,
        &VerifyOptions::default(),
    );
    assert!(is_mismatch(wrong_secret));
    // Upper-case hex is the same signature.
    let upper = EXAMPLE_C_AUTH.replace(
        "1fbfaeef31cd9a618eb7b7998c351b28a9160bd66c604a2c1ab133f4a3e285f6",
        "1FBFAEEF31CD9A618EB7B7998C351B28A9160BD66C604A2C1AB133F4A3E285F6",
    );
    assert_eq!(
        check_now(&set_header(example_c(), "authorization", &upper)),
        Ok(())
    );
}

#[test]
fn v3_body_must_match_its_hash() {
    let body = "UserName=alice&DisplayName=Alice+Zhang";
    let unsigned = RawRequest::new("POST", "/", "")
        .with_header("host", "127.0.0.1:18080")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_header("x-acs-action", "CreateUser")
        .with_header("x-acs-version", "2015-05-01")
        .with_header("x-acs-date", "2024-01-01T12:00:00Z")
        .with_header("x-acs-signature-nonce", "n1")
        .with_header("x-acs-content-sha256", &v3::sha256_hex(body.as_bytes()))
        .with_body(body);
    let names = all_header_names(&unsigned);
    let raw = sign_v3(unsigned.clone(), &names);
    assert_eq!(check_now(&raw), Ok(()));
    let req = parse(&raw).unwrap();
    assert_eq!(req.param("DisplayName"), Some("Alice Zhang"));
    assert!(req.params().query().is_empty());

    // Body changed, header kept: the hash check catches it.
    let tampered = raw
        .clone()
        .with_body("UserName=mallory&DisplayName=Alice+Zhang");
    assert_eq!(check_now(&tampered), Err(RequestError::ContentHashMismatch));
    assert_eq!(
        ApiError::from(RequestError::ContentHashMismatch).code(),
        "SignatureDoesNotMatch"
    );
    // Body and its hash header both changed: the signature catches it.
    let rehashed = set_header(
        tampered,
        "x-acs-content-sha256",
        &v3::sha256_hex(b"UserName=mallory&DisplayName=Alice+Zhang"),
    );
    assert!(is_mismatch(check_now(&rehashed)));
}

#[test]
fn v3_required_headers_must_be_present_and_signed() {
    let base = example_c_unsigned();
    let everything = all_header_names(&base);
    assert_eq!(check_now(&sign_v3(base.clone(), &everything)), Ok(()));

    for required in v3::REQUIRED_SIGNED_HEADERS {
        // Present but left out of SignedHeaders (and correctly signed otherwise).
        let fewer: Vec<&str> = everything
            .iter()
            .copied()
            .filter(|n| *n != required)
            .collect();
        let raw = sign_v3(base.clone(), &fewer);
        assert!(
            matches!(parse(&raw), Err(RequestError::IncompleteSignature(_))),
            "{required} unsigned"
        );
        // Absent altogether.
        let stripped = remove_header(base.clone(), required);
        let raw = sign_v3(stripped.clone(), &all_header_names(&stripped));
        assert!(
            matches!(parse(&raw), Err(RequestError::IncompleteSignature(_))),
            "{required} absent"
        );
    }
}

#[test]
fn v3_every_x_acs_header_must_be_signed() {
    // A token header slipped in after signing must not ride along unsigned.
    let raw = example_c().with_header("x-acs-security-token", "CAIStoken==");
    let err = parse(&raw).unwrap_err();
    assert!(matches!(err, RequestError::IncompleteSignature(_)));
    assert_eq!(ApiError::from(err).code(), "IncompleteSignature");
    // Other unsigned headers (added by the HTTP stack) are fine.
    let raw = example_c().with_header("accept-encoding", "gzip");
    assert_eq!(check_now(&raw), Ok(()));
    // Mixed-case names are still recognised.
    let mut raw = example_c();
    raw.headers
        .push(("X-Acs-Security-Token".into(), "t".into()));
    assert!(matches!(
        parse(&raw),
        Err(RequestError::IncompleteSignature(_))
    ));
}

#[test]
fn v3_structural_errors() {
    // A signed header the request lacks.
    let auth = EXAMPLE_C_AUTH.replace(
        "SignedHeaders=accept;",
        "SignedHeaders=accept;content-type;",
    );
    assert!(matches!(
        parse(&set_header(example_c(), "authorization", &auth)),
        Err(RequestError::IncompleteSignature(_))
    ));
    // Another algorithm.
    let sm3 = EXAMPLE_C_AUTH.replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3");
    let err = parse(&set_header(example_c(), "authorization", &sm3)).unwrap_err();
    assert_eq!(
        err,
        RequestError::InvalidSignatureMethod("ACS3-HMAC-SM3".into())
    );
    assert_eq!(ApiError::from(err).code(), "InvalidSignatureMethod");
    // Garbage after the algorithm.
    assert!(matches!(
        parse(&set_header(
            example_c(),
            "authorization",
            "ACS3-HMAC-SHA256 nonsense"
        )),
        Err(RequestError::IncompleteSignature(_))
    ));
    // x-acs-accesskey-id must name the same key as the credential.
    let unsigned = example_c_unsigned().with_header("x-acs-accesskey-id", "someone-else");
    let raw = sign_v3(unsigned.clone(), &all_header_names(&unsigned));
    assert!(matches!(
        parse(&raw),
        Err(RequestError::IncompleteSignature(_))
    ));
    // Missing action header.
    let unsigned = remove_header(example_c_unsigned(), "x-acs-action");
    let raw = sign_v3(unsigned.clone(), &all_header_names(&unsigned));
    assert_eq!(
        parse(&raw).unwrap_err(),
        RequestError::MissingParameter("Action")
    );
}

#[test]
fn classification_follows_the_dispatch_order() {
    // An Authorization that is not ACS3 does not make a request V3; a Signature makes it V1.
    let raw = v1_request(EXAMPLE_A).with_header("authorization", "Bearer x");
    assert!(matches!(parse(&raw).unwrap().scheme(), Scheme::V1 { .. }));
    // ACS3 wins over a Signature parameter.
    let mut raw = example_c();
    raw.query.push_str("&Signature=abc");
    assert!(matches!(parse(&raw).unwrap().scheme(), Scheme::V3(_)));
    // Nothing at all: anonymous, and no identity is claimed even if AccessKeyId is sent.
    let raw = v1_request("Action=AssumeRoleWithSAML&Version=2015-04-01&AccessKeyId=testid");
    let req = parse(&raw).unwrap();
    assert_eq!(req.scheme(), &Scheme::Anonymous);
    assert_eq!(req.access_key_id(), None);
    assert_eq!(check_now(&raw), Err(RequestError::Unsigned));
}

#[test]
fn duplicate_parameters_are_rejected_before_classification() {
    let raw = v1_request(&format!("{EXAMPLE_A}&UserName=mallory"));
    let err = parse(&raw).unwrap_err();
    assert_eq!(
        err,
        RequestError::DuplicateParameter {
            name: "UserName".into()
        }
    );
    assert_eq!(ApiError::from(err).code(), "InvalidParameter");
}

// ---- constant-time comparison --------------------------------------------------------------

#[test]
fn constant_time_eq_compares_exactly() {
    let sig = "1fbfaeef31cd9a618eb7b7998c351b28a9160bd66c604a2c1ab133f4a3e285f6";
    assert!(constant_time_eq(sig, sig));
    assert!(!constant_time_eq(sig, &sig.replace("f6", "f7")));
    assert!(!constant_time_eq(sig, &sig[..63]));
    assert!(!constant_time_eq(sig, ""));
    assert!(constant_time_eq("", ""));
}

#[test]
fn signatures_are_only_compared_in_constant_time() {
    // A guard against a later edit slipping in `==`: the verifier has no `==` at all, and
    // every computed signature goes through `constant_time_eq`.
    let src = include_str!("../src/verify.rs");
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    assert!(!code.contains("=="), "verify.rs must not compare with ==");
    assert_eq!(code.matches("constant_time_eq(&v1::sign(").count(), 2);
    assert_eq!(code.matches("constant_time_eq(&expected").count(), 1);
    assert!(code.contains(".ct_eq("));
}

// ---- parameters through the whole pipeline --------------------------------------------------

#[test]
fn business_parameters_exclude_common_ones() {
    let params = Params::from_pairs([
        ("Action", "CreateUser"),
        ("Version", "2015-05-01"),
        ("SecurityToken", "t"),
        ("UserName", "alice"),
    ])
    .unwrap();
    let raw = RawRequest::new("GET", "/", "");
    let req = rampart_wire::classify(&raw, params).unwrap();
    assert_eq!(
        req.business_params().collect::<Vec<_>>(),
        [("UserName", "alice")]
    );
    assert_eq!(req.param("Action"), None);
    assert_eq!(req.params().get("Action"), Some("CreateUser"));
}

#[test]
fn gateway_error_table() {
    let table: [(ApiError, &str, u16); 24] = [
        (
            ApiError::missing_parameter("UserName"),
            "MissingParameter",
            400,
        ),
        (ApiError::missing_named("UserName"), "MissingUserName", 400),
        (
            ApiError::invalid_parameter("UserName"),
            "InvalidParameter",
            400,
        ),
        (ApiError::invalid_named("UserName"), "InvalidUserName", 400),
        (ApiError::invalid_format(), "InvalidParameter.Format", 400),
        (ApiError::invalid_action(), "InvalidAction.NotFound", 404),
        (ApiError::invalid_version(), "InvalidVersion", 400),
        (ApiError::invalid_product(), "InvalidProduct.NotFound", 404),
        (
            ApiError::access_key_not_found(),
            "InvalidAccessKeyId.NotFound",
            404,
        ),
        (
            ApiError::access_key_inactive(),
            "InvalidAccessKeyId.Inactive",
            400,
        ),
        (
            ApiError::signature_does_not_match(None),
            "SignatureDoesNotMatch",
            400,
        ),
        (ApiError::incomplete_signature(), "IncompleteSignature", 400),
        (
            ApiError::invalid_signature_method(),
            "InvalidSignatureMethod",
            400,
        ),
        (
            ApiError::unsupported_http_method(),
            "UnsupportedHTTPMethod",
            400,
        ),
        (ApiError::timestamp_format(), "InvalidTimeStamp.Format", 400),
        (
            ApiError::timestamp_expired(),
            "InvalidTimeStamp.Expired",
            400,
        ),
        (ApiError::signature_nonce_used(), "SignatureNonceUsed", 400),
        (
            ApiError::missing_security_token(),
            "MissingSecurityToken",
            400,
        ),
        (
            ApiError::security_token_malformed(),
            "InvalidSecurityToken.Malformed",
            400,
        ),
        (
            ApiError::security_token_expired(),
            "InvalidSecurityToken.Expired",
            400,
        ),
        (
            ApiError::security_token_mismatch(),
            "InvalidSecurityToken.MismatchWithAccessKey",
            400,
        ),
        (ApiError::throttling_user(), "Throttling.User", 400),
        (ApiError::no_permission(), "NoPermission", 403),
        (ApiError::internal_error(), "InternalError", 500),
    ];
    for (err, code, status) in table {
        assert_eq!((err.code(), err.status()), (code, status));
        assert!(!err.message().is_empty());
    }
    let unavailable = ApiError::service_unavailable();
    assert_eq!(
        (unavailable.code(), unavailable.status()),
        ("ServiceUnavailable", 503)
    );
    assert_eq!(
        ApiError::missing_parameter("UserName").message(),
        "UserName is mandatory for this action."
    );
    assert_eq!(
        ApiError::invalid_action().message(),
        "Specified api is not found, please check your url and method."
    );
    assert_eq!(
        ApiError::signature_does_not_match(Some("GET&%2F&a%3Db")).message(),
        "Specified signature is not matched with our calculation. server string to sign is:GET&%2F&a%3Db"
    );
    let business = ApiError::new("EntityNotExist.User", "The user does not exist.", 404);
    assert_eq!(business.code(), "EntityNotExist.User");
    assert_eq!(
        business.to_string(),
        "EntityNotExist.User (404): The user does not exist."
    );
}
