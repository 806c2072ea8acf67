//! Every SDK-captured vector of spec §1.3 and §1.4, verbatim, through the public API.
//!
//! All captures use AccessKey `testid` / `testsecret`, time `2024-01-01T12:00:00Z` and the
//! nonces below. Where the spec gives only a signature, the request is rebuilt from the
//! worked examples' headers with the differences the capture names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_wire::{
    classify, decode_params, parse_request, v1, v3, verify, ApiError, Limits, RawRequest,
    RequestError, Scheme, Secret, SpaceEncoding, VerifyOptions,
};

const NOW: i64 = 1_704_110_400; // 2024-01-01T12:00:00Z
const NONCE: &str = "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf";
const UA_CORE: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
const UA_CREDENTIALS: &str =
    "AlibabaCloud (Linux; x86_64) Python/3.11.7 Credentials/1.0.12 TeaDSL/1";

fn secret() -> Secret {
    Secret::new("testsecret")
}

fn v1_string_to_sign(raw: &RawRequest) -> String {
    let params = decode_params(raw, &Limits::default()).unwrap();
    let canonical = v1::canonicalized_query(params.iter(), SpaceEncoding::Percent20);
    v1::string_to_sign(&raw.method, &canonical)
}

fn v3_canonical_request(raw: &RawRequest) -> String {
    let req = parse_request(raw, &Limits::default()).unwrap();
    let Scheme::V3(auth) = req.scheme() else {
        panic!("not a V3 request: {:?}", req.scheme());
    };
    v3::canonical_request(
        &raw.method,
        &raw.path,
        &v3::canonical_query(req.params().query()),
        &v3::canonical_headers(raw, &auth.signed_headers).unwrap(),
        &auth.signed_headers,
        &v3::sha256_hex(&raw.body),
    )
}

fn assert_verifies(raw: &RawRequest) {
    let req = parse_request(raw, &Limits::default()).unwrap();
    verify(raw, &req, &secret(), NOW, &VerifyOptions::default()).unwrap();
}

/// The headers the RAM SDK sets before V3 signing, in the order it sets them.
fn v3_request(query: &str, action: &str, version: &str, extra: &[(&str, &str)]) -> RawRequest {
    let mut raw = RawRequest::new("POST", "/", query)
        .with_header("host", "127.0.0.1:18080")
        .with_header("x-acs-version", version)
        .with_header("x-acs-action", action)
        .with_header("user-agent", UA_CORE)
        .with_header("x-acs-date", "2024-01-01T12:00:00Z")
        .with_header("x-acs-signature-nonce", NONCE)
        .with_header("accept", "application/json")
        .with_header("x-acs-content-sha256", v3::EMPTY_BODY_SHA256);
    for (name, value) in extra {
        raw = raw.with_header(name, value);
    }
    raw
}

/// Signs `raw` as the SDK does (every header present), then adds the Authorization header.
fn v3_authorize(raw: RawRequest, signature: &str) -> RawRequest {
    let mut names: Vec<String> = raw.headers.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    let value = format!(
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={},Signature={signature}",
        names.join(";")
    );
    raw.with_header("Authorization", &value)
        .with_header("Content-Length", "0")
}

fn v3_signature(raw: &RawRequest) -> String {
    v3::sign(&secret(), &v3::string_to_sign(&v3_canonical_request(raw)))
}

// ---- §1.3 worked example A: RAM SDK, V1, POST --------------------------------------------

fn example_a() -> RawRequest {
    RawRequest::new(
        "POST",
        "/",
        "Action=CreateUser&Format=json&Version=2015-05-01&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Comments=dev+team%2A~&DisplayName=Alice+Zhang&UserName=alice&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature=%2BrcjtWAoQ9l5fmL1itTp0KYHnLQ%3D",
    )
    .with_header("host", "127.0.0.1:18080")
    .with_header("x-acs-version", "2015-05-01")
    .with_header("x-acs-action", "CreateUser")
    .with_header("user-agent", UA_CORE)
    .with_header("x-acs-credentials-provider", "static_ak")
    .with_header("Content-Length", "0")
}

#[test]
fn example_a_v1_post() {
    let raw = example_a();
    let params = decode_params(&raw, &Limits::default()).unwrap();
    assert_eq!(
        v1::canonicalized_query(params.iter(), SpaceEncoding::Percent20),
        "AccessKeyId=testid&Action=CreateUser&Comments=dev%20team%2A~&DisplayName=Alice%20Zhang&Format=json&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2024-01-01T12%3A00%3A00Z&UserName=alice&Version=2015-05-01"
    );
    let sts = v1_string_to_sign(&raw);
    assert_eq!(
        sts,
        "POST&%2F&AccessKeyId%3Dtestid%26Action%3DCreateUser%26Comments%3Ddev%2520team%252A~%26DisplayName%3DAlice%2520Zhang%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T12%253A00%253A00Z%26UserName%3Dalice%26Version%3D2015-05-01"
    );
    assert_eq!(v1::sign(&secret(), &sts), "+rcjtWAoQ9l5fmL1itTp0KYHnLQ=");

    let req = classify(&raw, params).unwrap();
    assert_eq!(
        req.scheme(),
        &Scheme::V1 {
            signature: "+rcjtWAoQ9l5fmL1itTp0KYHnLQ=".into()
        }
    );
    assert_eq!(req.action(), "CreateUser");
    assert_eq!(req.version(), "2015-05-01");
    assert_eq!(req.access_key_id(), Some("testid"));
    assert_eq!(req.nonce(), Some(NONCE));
    assert_eq!(req.timestamp(), Some("2024-01-01T12:00:00Z"));
    assert_eq!(req.security_token(), None);
    assert_eq!(
        req.business_params().collect::<Vec<_>>(),
        [
            ("Comments", "dev team*~"),
            ("DisplayName", "Alice Zhang"),
            ("UserName", "alice")
        ]
    );
    verify(&raw, &req, &secret(), NOW, &VerifyOptions::default()).unwrap();
}

#[test]
fn example_a_rejects_a_wrong_secret_and_shows_the_string_to_sign() {
    let raw = example_a();
    let req = parse_request(&raw, &Limits::default()).unwrap();
    let err = verify(
        &raw,
        &req,
        &Secret::new("wrong"),
        NOW,
        &VerifyOptions::default(),
    )
    .unwrap_err();
    let sts = v1_string_to_sign(&raw);
    assert_eq!(
        err,
        RequestError::SignatureMismatch {
            string_to_sign: Some(sts.clone())
        }
    );
    let api = ApiError::from(err);
    assert_eq!(api.code(), "SignatureDoesNotMatch");
    assert_eq!(api.status(), 400);
    assert_eq!(
        api.message(),
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{sts}"
        )
    );
    assert!(!api.message().contains("testsecret"));
    assert!(!api.message().contains("wrong"));
}

// ---- §1.3 worked example B: credentials library, V1, GET ---------------------------------

#[test]
fn example_b_v1_get_from_the_credentials_library() {
    let raw = RawRequest::new(
        "GET",
        "/",
        "Action=AssumeRole&Format=JSON&Version=2015-04-01&DurationSeconds=3600&RoleArn=acs%3Aram%3A%3A123456789012%3Arole%2Fops&RoleSessionName=alice&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=0b2a4f2e-6c1d-4a55-9d1e-2f3b4c5d6e7f&AccessKeyId=testid&Signature=SB4NvznREgvaOdIbMAt%2BdzJJ460%3D",
    )
    .with_header("user-agent", UA_CREDENTIALS);
    let sts = v1_string_to_sign(&raw);
    assert_eq!(
        sts,
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DAssumeRole%26DurationSeconds%3D3600%26Format%3DJSON%26RoleArn%3Dacs%253Aram%253A%253A123456789012%253Arole%252Fops%26RoleSessionName%3Dalice%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0b2a4f2e-6c1d-4a55-9d1e-2f3b4c5d6e7f%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T12%253A00%253A00Z%26Version%3D2015-04-01"
    );
    assert_eq!(v1::sign(&secret(), &sts), "SB4NvznREgvaOdIbMAt+dzJJ460=");
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.action(), "AssumeRole");
    assert_eq!(req.format(), rampart_wire::ResponseFormat::Json);
    assert_eq!(req.param("RoleArn"), Some("acs:ram::123456789012:role/ops"));
    assert_verifies(&raw);

    // The same request as POST is a different string to sign.
    let mut post = raw.clone();
    post.method = "POST".into();
    let req = parse_request(&post, &Limits::default()).unwrap();
    assert!(verify(&post, &req, &secret(), NOW, &VerifyOptions::default()).is_err());
}

// ---- §1.4 worked example C: RAM SDK default V3 -------------------------------------------

fn example_c() -> RawRequest {
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
    .with_header("x-acs-signature-nonce", NONCE)
    .with_header("accept", "application/json")
    .with_header(
        "x-acs-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    .with_header("x-acs-credentials-provider", "static_ak")
    .with_header(
        "Authorization",
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=1fbfaeef31cd9a618eb7b7998c351b28a9160bd66c604a2c1ab133f4a3e285f6",
    )
    .with_header("Content-Length", "0")
}

#[test]
fn example_c_v3() {
    let raw = example_c();
    let canonical = v3_canonical_request(&raw);
    assert_eq!(
        canonical,
        "POST
/
Comments=dev%20team%2A~&DisplayName=Alice%20Zhang&UserName=alice
accept:application/json
host:127.0.0.1:18080
user-agent:AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2
x-acs-action:CreateUser
x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
x-acs-credentials-provider:static_ak
x-acs-date:2024-01-01T12:00:00Z
x-acs-signature-nonce:3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf
x-acs-version:2015-05-01

accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = v3::string_to_sign(&canonical);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\n400b4d0835cfc1fdb9fd6cc84ca781dad363f02592fcad0d7c54ed5837b6ffc2"
    );
    assert_eq!(
        v3::sign(&secret(), &sts),
        "1fbfaeef31cd9a618eb7b7998c351b28a9160bd66c604a2c1ab133f4a3e285f6"
    );

    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.action(), "CreateUser");
    assert_eq!(req.version(), "2015-05-01");
    assert_eq!(req.access_key_id(), Some("testid"));
    assert_eq!(req.nonce(), Some(NONCE));
    assert_eq!(req.timestamp(), Some("2024-01-01T12:00:00Z"));
    assert_eq!(req.param("DisplayName"), Some("Alice Zhang"));
    verify(&raw, &req, &secret(), NOW, &VerifyOptions::default()).unwrap();
}

// ---- §1.4 further SDK captures -----------------------------------------------------------

#[test]
fn get_user_with_sts_credentials_v3() {
    let raw = v3_request(
        "UserName=alice",
        "GetUser",
        "2015-05-01",
        &[
            ("x-acs-accesskey-id", "testid"),
            ("x-acs-security-token", "CAIStoken=="),
            ("x-acs-credentials-provider", "static_sts"),
        ],
    );
    let raw = v3_authorize(
        raw,
        "dec35f97a384302fecc928b7f6beb33193d775b26e194292eed81c525e117167",
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    let Scheme::V3(auth) = req.scheme() else {
        panic!("not V3");
    };
    assert_eq!(
        auth.signed_headers.join(";"),
        "accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version"
    );
    assert_eq!(
        v3_signature(&raw),
        "dec35f97a384302fecc928b7f6beb33193d775b26e194292eed81c525e117167"
    );
    assert_eq!(req.security_token(), Some("CAIStoken=="));
    assert_eq!(req.access_key_id(), Some("testid"));
    assert_verifies(&raw);
}

#[test]
fn get_user_with_sts_credentials_v1() {
    let raw = RawRequest::new(
        "POST",
        "/",
        "Action=GetUser&Format=json&Version=2015-05-01&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&UserName=alice&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&SecurityToken=CAIStoken%3D%3D&Signature=9KhWUDAyIXO3XMsgdbZck7O1u%2F0%3D",
    );
    assert_eq!(
        v1::sign(&secret(), &v1_string_to_sign(&raw)),
        "9KhWUDAyIXO3XMsgdbZck7O1u/0="
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.security_token(), Some("CAIStoken=="));
    assert_eq!(req.param("SecurityToken"), None);
    assert_verifies(&raw);
}

#[test]
fn get_caller_identity_v3_without_query() {
    let raw = v3_request(
        "",
        "GetCallerIdentity",
        "2015-04-01",
        &[("x-acs-credentials-provider", "static_ak")],
    );
    let raw = v3_authorize(
        raw,
        "72fc7e223054512e944a73c16a6bd6cc8a8ac3be73e6291e02d453578b58d8a0",
    );
    let canonical = v3_canonical_request(&raw);
    assert!(canonical.starts_with("POST\n/\n\naccept:application/json\n"));
    assert_eq!(
        v3_signature(&raw),
        "72fc7e223054512e944a73c16a6bd6cc8a8ac3be73e6291e02d453578b58d8a0"
    );
    assert_verifies(&raw);
}

#[test]
fn create_role_with_json_tag_v3() {
    let raw = v3_request(
        "AssumeRolePolicyDocument=%7B%22Statement%22%3A%5B%5D%7D&RoleName=r1&Tag=%5B%7B%22Key%22%3A%22k%22%2C%22Value%22%3A%22v%22%7D%5D",
        "CreateRole",
        "2015-05-01",
        &[("x-acs-credentials-provider", "static_ak")],
    );
    let raw = v3_authorize(
        raw,
        "7f52a62c403e87d19e055481dfcfd8c7542cd86b346c95f504587ac0353ec740",
    );
    assert_eq!(
        v3_signature(&raw),
        "7f52a62c403e87d19e055481dfcfd8c7542cd86b346c95f504587ac0353ec740"
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(
        req.params().tag_list("Tag").unwrap(),
        Some(vec![rampart_wire::Tag {
            key: "k".into(),
            value: Some("v".into())
        }])
    );
    assert_eq!(
        req.param("AssumeRolePolicyDocument"),
        Some(r#"{"Statement":[]}"#)
    );
    assert_verifies(&raw);
}

#[test]
fn create_role_allow_console_login_v3() {
    let raw = v3_request(
        "AllowConsoleLogin=True&MaxSessionDuration=3600&RoleName=r1",
        "CreateRole",
        "2015-05-01",
        &[("x-acs-credentials-provider", "static_ak")],
    );
    let raw = v3_authorize(
        raw,
        "7a7e55ef1f03c70ed3c0a142f6eacca6d087647315469ebda33b3674a8b57bf8",
    );
    assert_eq!(
        v3_signature(&raw),
        "7a7e55ef1f03c70ed3c0a142f6eacca6d087647315469ebda33b3674a8b57bf8"
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.params().bool("AllowConsoleLogin"), Ok(Some(true)));
    assert_verifies(&raw);
}

#[test]
fn create_role_allow_console_login_v1() {
    let raw = RawRequest::new(
        "POST",
        "/",
        "Action=CreateRole&Format=json&Version=2015-05-01&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&AllowConsoleLogin=False&MaxSessionDuration=3600&RoleName=r1&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature=7dSVGKpKt2J2YBU9Yi%2BHJ62Cj3M%3D",
    );
    assert_eq!(
        v1::sign(&secret(), &v1_string_to_sign(&raw)),
        "7dSVGKpKt2J2YBU9Yi+HJ62Cj3M="
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.params().bool("AllowConsoleLogin"), Ok(Some(false)));
    assert_verifies(&raw);
}

#[test]
fn anonymous_assume_role_with_oidc() {
    // The capture elides Timestamp, SignatureNonce and the ARNs as "..."; these are stand-ins.
    let raw = RawRequest::new(
        "POST",
        "/",
        "Action=AssumeRoleWithOIDC&Format=json&Version=2015-04-01&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&DurationSeconds=3600&OIDCProviderArn=acs%3Aram%3A%3A123456789012%3Aoidc-provider%2Fp&OIDCToken=eyJ.a.b&RoleArn=acs%3Aram%3A%3A123456789012%3Arole%2Fops&RoleSessionName=s",
    )
    .with_header("host", "127.0.0.1:18080")
    .with_header("x-acs-version", "2015-04-01")
    .with_header("x-acs-action", "AssumeRoleWithOIDC")
    .with_header("user-agent", UA_CORE);
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.scheme(), &Scheme::Anonymous);
    assert_eq!(req.action(), "AssumeRoleWithOIDC");
    assert_eq!(req.access_key_id(), None);
    assert_eq!(req.param("OIDCToken"), Some("eyJ.a.b"));
    assert_eq!(
        verify(&raw, &req, &secret(), NOW, &VerifyOptions::default()),
        Err(RequestError::Unsigned)
    );

    // The credentials library's variant: GET, Format=JSON, no nonce at all.
    let raw = RawRequest::new(
        "GET",
        "/",
        "Action=AssumeRoleWithOIDC&Format=JSON&Version=2015-04-01&Timestamp=2024-01-01T12%3A00%3A00Z&OIDCToken=eyJ.a.b",
    );
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.scheme(), &Scheme::Anonymous);
    assert_eq!(req.nonce(), None);

    // The SDK's V3-style anonymous call: Action and Version only in headers.
    let raw = RawRequest::new("POST", "/", "Format=json&OIDCToken=eyJ.a.b")
        .with_header("x-acs-action", "AssumeRoleWithOIDC")
        .with_header("x-acs-version", "2015-04-01");
    let req = parse_request(&raw, &Limits::default()).unwrap();
    assert_eq!(req.action(), "AssumeRoleWithOIDC");
    assert_eq!(req.version(), "2015-04-01");
}
