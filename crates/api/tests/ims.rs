//! IMS 2019-08-15 identity-provider actions through the dispatcher, on a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use support::{Client, Reply, Server};

const METADATA: &str = include_str!("../../federation/tests/fixtures/idp-metadata.xml");
const FP1: &str = "902ef2deeb3c5b13ea4c3d5193629309e231ae55";

async fn ims(s: &Server, c: &Client, action: &str, params: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Version", "2019-08-15")];
    all.extend_from_slice(params);
    s.call(c, action, &all).await
}

fn fp(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

#[tokio::test]
async fn oidc_provider_lifecycle() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let created = ims(
        &s,
        &root,
        "CreateOIDCProvider",
        &[
            ("OIDCProviderName", "ack-rrsa"),
            ("IssuerUrl", "https://oidc.example.com/cluster-1"),
            ("Fingerprints", &FP1.to_ascii_uppercase()),
            ("ClientIds", "sts.aliyuncs.com, app-1"),
            ("Description", "ACK cluster"),
        ],
    )
    .await
    .ok();
    let p = &created["OIDCProvider"];
    assert_eq!(
        p["Arn"],
        format!("acs:ram::{}:oidc-provider/ack-rrsa", root.account_id)
    );
    assert_eq!(p["Fingerprints"], FP1, "stored lower-case");
    assert_eq!(p["ClientIds"], "sts.aliyuncs.com,app-1");
    assert_eq!(p["IssuanceLimitTime"], 12);
    assert_eq!(p["IssuerUrl"], "https://oidc.example.com/cluster-1");
    let gmt = p["GmtCreate"].as_str().unwrap();
    assert!(gmt.len() >= 13 && gmt.bytes().all(|b| b.is_ascii_digit()));
    assert!(p["CreateDate"].as_str().unwrap().ends_with('Z'));

    let got = ims(
        &s,
        &root,
        "GetOIDCProvider",
        &[("OIDCProviderName", "ACK-RRSA")],
    )
    .await
    .ok();
    assert_eq!(&got["OIDCProvider"], p);

    let updated = ims(
        &s,
        &root,
        "UpdateOIDCProvider",
        &[
            ("OIDCProviderName", "ack-rrsa"),
            ("ClientIds", "only-this"),
            ("IssuanceLimitTime", "168"),
            ("NewDescription", "renamed"),
        ],
    )
    .await
    .ok();
    assert_eq!(updated["OIDCProvider"]["ClientIds"], "only-this");
    assert_eq!(updated["OIDCProvider"]["IssuanceLimitTime"], 168);
    assert_eq!(updated["OIDCProvider"]["Description"], "renamed");

    let added = ims(
        &s,
        &root,
        "AddFingerprintToOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("Fingerprint", &fp(2))],
    )
    .await
    .ok();
    assert_eq!(
        added["OIDCProvider"]["Fingerprints"],
        format!("{FP1},{}", fp(2))
    );
    let removed = ims(
        &s,
        &root,
        "RemoveFingerprintFromOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("Fingerprint", FP1)],
    )
    .await
    .ok();
    assert_eq!(removed["OIDCProvider"]["Fingerprints"], fp(2));
    ims(
        &s,
        &root,
        "RemoveFingerprintFromOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("Fingerprint", &fp(2))],
    )
    .await
    .err(409, "DeleteConflict.OIDCProvider.LastFingerprint");

    let with_client = ims(
        &s,
        &root,
        "AddClientIdToOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("ClientId", "api://x")],
    )
    .await
    .ok();
    assert_eq!(
        with_client["OIDCProvider"]["ClientIds"],
        "only-this,api://x"
    );
    ims(
        &s,
        &root,
        "AddClientIdToOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("ClientId", "api://x")],
    )
    .await
    .err(409, "EntityAlreadyExists.OIDCProvider.ClientId");
    let without = ims(
        &s,
        &root,
        "RemoveClientIdFromOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa"), ("ClientId", "only-this")],
    )
    .await
    .ok();
    assert_eq!(without["OIDCProvider"]["ClientIds"], "api://x");

    let listed = ims(&s, &root, "ListOIDCProviders", &[]).await.ok();
    assert_eq!(listed["IsTruncated"], false);
    assert_eq!(
        listed["OIDCProviders"]["OIDCProvider"][0]["OIDCProviderName"],
        "ack-rrsa"
    );

    ims(
        &s,
        &root,
        "DeleteOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa")],
    )
    .await
    .ok();
    let gone = ims(
        &s,
        &root,
        "GetOIDCProvider",
        &[("OIDCProviderName", "ack-rrsa")],
    )
    .await
    .err(404, "EntityNotExist.OIDCProvider");
    assert_eq!(gone["HostId"], "ims.aliyuncs.com");
}

#[tokio::test]
async fn oidc_bad_input_is_refused_and_stores_nothing() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let create = |name: &'static str, issuer: &'static str, fps: String| {
        let s = &s;
        let root = &root;
        async move {
            ims(
                s,
                root,
                "CreateOIDCProvider",
                &[
                    ("OIDCProviderName", name),
                    ("IssuerUrl", issuer),
                    ("Fingerprints", &fps),
                ],
            )
            .await
        }
    };
    create("p", "http://insecure.example", FP1.into())
        .await
        .err(400, "InvalidParameter.IssuerUrl.Format");
    create("p", "https://x.example/?q=1", FP1.into())
        .await
        .err(400, "InvalidParameter.IssuerUrl.Format");
    create("p", "https://x.example", "abc".into())
        .await
        .err(400, "InvalidParameter.Fingerprints.Length");
    create("p", "https://x.example", String::new())
        .await
        .err(400, "MissingParameter");
    let six = (1..=6).map(fp).collect::<Vec<_>>().join(",");
    create("p", "https://x.example", six)
        .await
        .err(409, "LimitExceeded.OIDCProvider.Fingerprint");
    create("-p", "https://x.example", FP1.into())
        .await
        .err(400, "InvalidParameter.OIDCProviderName.InvalidChars");
    ims(
        &s,
        &root,
        "CreateOIDCProvider",
        &[
            ("OIDCProviderName", "p"),
            ("IssuerUrl", "https://x.example"),
            ("Fingerprints", FP1),
            ("IssuanceLimitTime", "169"),
        ],
    )
    .await
    .err(400, "InvalidParameter.IssuanceLimitTime");
    let listed = ims(&s, &root, "ListOIDCProviders", &[]).await.ok();
    assert_eq!(
        listed["OIDCProviders"]["OIDCProvider"],
        Value::Array(vec![]),
        "no refusal left a provider behind"
    );

    create("p", "https://x.example", FP1.into()).await.ok();
    create("P", "https://y.example", FP1.into())
        .await
        .err(409, "EntityAlreadyExists.OIDCProvider");
    create("q", "https://x.example", FP1.into())
        .await
        .err(409, "EntityAlreadyExists.OIDCProvider.IssuerUrl");
    ims(&s, &root, "ListOIDCProviders", &[("MaxItems", "101")])
        .await
        .err(400, "InvalidParameter.MaxItems");

    // Another account sees nothing of acme's.
    let other = s.account("other").await;
    ims(&s, &other, "GetOIDCProvider", &[("OIDCProviderName", "p")])
        .await
        .err(404, "EntityNotExist.OIDCProvider");
}

#[tokio::test]
async fn saml_provider_lifecycle_and_bad_metadata() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let encoded = STANDARD.encode(METADATA);
    let created = ims(
        &s,
        &root,
        "CreateSAMLProvider",
        &[
            ("SAMLProviderName", "okta"),
            ("EncodedSAMLMetadataDocument", &encoded),
            ("Description", "corporate IdP"),
        ],
    )
    .await
    .ok();
    let p = &created["SAMLProvider"];
    assert_eq!(
        p["Arn"],
        format!("acs:ram::{}:saml-provider/okta", root.account_id)
    );
    assert_eq!(p["AuthnSignAlgo"], "rsa-sha1");
    assert!(p.get("EncodedSAMLMetadataDocument").is_none());

    let got = ims(
        &s,
        &root,
        "GetSAMLProvider",
        &[("SAMLProviderName", "OKTA")],
    )
    .await
    .ok();
    assert_eq!(got["SAMLProvider"]["EncodedSAMLMetadataDocument"], encoded);
    assert_eq!(got["SAMLProvider"]["Description"], "corporate IdP");

    let listed = ims(&s, &root, "ListSAMLProviders", &[]).await.ok();
    let item = &listed["SAMLProviders"]["SAMLProvider"][0];
    assert_eq!(item["SAMLProviderName"], "okta");
    assert!(item.get("EncodedSAMLMetadataDocument").is_none());

    let bad = ims(
        &s,
        &root,
        "UpdateSAMLProvider",
        &[
            ("SAMLProviderName", "okta"),
            (
                "NewEncodedSAMLMetadataDocument",
                &STANDARD.encode(METADATA.replace("IDPSSODescriptor", "SPSSODescriptor")),
            ),
            ("NewDescription", "must not stick"),
        ],
    )
    .await
    .err(400, "InvalidParameter.NewEncodedSAMLMetadataDocument");
    assert!(bad["Message"]
        .as_str()
        .unwrap()
        .contains("IDPSSODescriptor"));
    ims(
        &s,
        &root,
        "UpdateSAMLProvider",
        &[("SAMLProviderName", "okta")],
    )
    .await
    .err(400, "MissingParameter");
    let updated = ims(
        &s,
        &root,
        "UpdateSAMLProvider",
        &[
            ("SAMLProviderName", "okta"),
            ("AuthnSignAlgo", "rsa-sha256"),
        ],
    )
    .await
    .ok();
    assert_eq!(updated["SAMLProvider"]["AuthnSignAlgo"], "rsa-sha256");
    assert_eq!(updated["SAMLProvider"]["Description"], "corporate IdP");

    for (doc, why) in [
        ("not base64 at all!".to_owned(), "Base64"),
        (STANDARD.encode("<not-metadata/>"), "EntityDescriptor"),
        (
            STANDARD.encode(format!("<!DOCTYPE x [<!ENTITY e \"e\">]>{METADATA}")),
            "DOCTYPE",
        ),
    ] {
        let e = ims(
            &s,
            &root,
            "CreateSAMLProvider",
            &[
                ("SAMLProviderName", "bad"),
                ("EncodedSAMLMetadataDocument", &doc),
            ],
        )
        .await
        .err(400, "InvalidParameter.EncodedSAMLMetadataDocument");
        assert!(e["Message"].as_str().unwrap().contains(why), "{e}");
    }
    ims(
        &s,
        &root,
        "CreateSAMLProvider",
        &[
            ("SAMLProviderName", "bad"),
            ("EncodedSAMLMetadataDocument", &encoded),
            ("AuthnSignAlgo", "rsa-md5"),
        ],
    )
    .await
    .err(400, "InvalidParameter.AuthnSignAlgo");
    ims(&s, &root, "GetSAMLProvider", &[("SAMLProviderName", "bad")])
        .await
        .err(404, "EntityNotExist.SAMLProvider");

    ims(
        &s,
        &root,
        "DeleteSAMLProvider",
        &[("SAMLProviderName", "okta")],
    )
    .await
    .ok();
    ims(
        &s,
        &root,
        "DeleteSAMLProvider",
        &[("SAMLProviderName", "okta")],
    )
    .await
    .err(404, "EntityNotExist.SAMLProvider");
}

#[tokio::test]
async fn ram_users_need_ram_permissions_on_provider_arns() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "ops")])
        .await
        .ok();
    let key = s
        .call(&root, "CreateAccessKey", &[("UserName", "ops")])
        .await
        .ok();
    let ops = Client {
        account_id: root.account_id.clone(),
        key_id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
    };
    let create = [
        ("OIDCProviderName", "gh"),
        ("IssuerUrl", "https://token.actions.githubusercontent.com"),
        ("Fingerprints", FP1),
    ];
    let denied = ims(&s, &ops, "CreateOIDCProvider", &create)
        .await
        .err(403, "NoPermission");
    assert_eq!(
        denied["AccessDeniedDetail"]["AuthAction"],
        "ram:CreateOIDCProvider"
    );

    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:CreateOIDCProvider","ram:GetOIDCProvider"],"Resource":"acs:ram:*:*:oidc-provider/gh"}]}"#;
    s.call(
        &root,
        "CreatePolicy",
        &[("PolicyName", "gh-only"), ("PolicyDocument", policy)],
    )
    .await
    .ok();
    s.call(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "gh-only"),
            ("UserName", "ops"),
        ],
    )
    .await
    .ok();
    ims(&s, &ops, "CreateOIDCProvider", &create).await.ok();
    ims(&s, &ops, "GetOIDCProvider", &[("OIDCProviderName", "gh")])
        .await
        .ok();
    // Another name, and listing (on oidc-provider/*), are not granted.
    ims(
        &s,
        &ops,
        "GetOIDCProvider",
        &[("OIDCProviderName", "other")],
    )
    .await
    .err(403, "NoPermission");
    ims(&s, &ops, "ListOIDCProviders", &[])
        .await
        .err(403, "NoPermission");
}
