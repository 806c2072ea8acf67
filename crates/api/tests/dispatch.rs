//! The dispatcher end to end, in process: authentication, authorization, isolation and the
//! error envelope, on a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Client, Server};

#[tokio::test]
async fn root_creates_reads_and_lists_users() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let created = s
        .call(
            &root,
            "CreateUser",
            &[("UserName", "alice"), ("DisplayName", "Alice")],
        )
        .await
        .ok();
    assert_eq!(created["User"]["UserName"], "alice");
    assert!(created["User"]["UserId"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_digit()));
    let got = s
        .call(&root, "GetUser", &[("UserName", "ALICE")])
        .await
        .ok();
    assert_eq!(got["User"]["DisplayName"], "Alice");
    let listed = s.call(&root, "ListUsers", &[]).await.ok();
    assert_eq!(listed["Users"]["User"][0]["UserName"], "alice");
    assert_eq!(listed["IsTruncated"], false);
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .err(409, "EntityAlreadyExists.User");
    s.call(&root, "GetUser", &[("UserName", "bob")])
        .await
        .err(404, "EntityNotExist.User");
    s.call(&root, "CreateUser", &[("UserName", "bad name")])
        .await
        .err(400, "InvalidParameter.UserName.InvalidChars");
    s.call(&root, "CreateUser", &[])
        .await
        .err(400, "MissingParameter");
}

#[tokio::test]
async fn gateway_errors() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "NoSuchAction", &[])
        .await
        .err(404, "InvalidAction.NotFound");

    let wrong = Client {
        secret: "x".repeat(30),
        ..root.clone()
    };
    s.call(&wrong, "ListUsers", &[])
        .await
        .err(400, "SignatureDoesNotMatch");

    let unknown = Client {
        key_id: "LTAI5t0000000000000000zz".into(),
        ..root.clone()
    };
    s.call(&unknown, "ListUsers", &[])
        .await
        .err(404, "InvalidAccessKeyId.NotFound");

    // The same signed request twice: the second is a replay.
    let raw = s.signed(&root, "ListUsers", &[], "replayed-nonce");
    s.send(raw.clone()).await.ok();
    s.send(raw).await.err(400, "SignatureNonceUsed");

    // A request stamped 16 minutes ago.
    let raw = s.signed(&root, "ListUsers", &[], "late-nonce");
    s.clock.advance(Duration::from_secs(16 * 60));
    s.send(raw).await.err(400, "InvalidTimeStamp.Expired");
}

#[tokio::test]
async fn a_bad_signature_does_not_spend_the_nonce() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let forged = Client {
        secret: "y".repeat(30),
        ..root.clone()
    };
    let raw = s.signed(&forged, "ListUsers", &[], "victim-nonce");
    s.send(raw).await.err(400, "SignatureDoesNotMatch");
    let genuine = s.signed(&root, "ListUsers", &[], "victim-nonce");
    s.send(genuine).await.ok();
}

#[tokio::test]
async fn accounts_are_isolated() {
    let s = Server::start().await;
    let a = s.account("a").await;
    let b = s.account("b").await;
    s.call(&a, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    s.call(&b, "GetUser", &[("UserName", "alice")])
        .await
        .err(404, "EntityNotExist.User");
    let listed = s.call(&b, "ListUsers", &[]).await.ok();
    assert_eq!(listed["Users"]["User"].as_array().unwrap().len(), 0);
    s.call(&b, "DeleteUser", &[("UserName", "alice")])
        .await
        .err(404, "EntityNotExist.User");
    s.call(
        &b,
        "UpdateUser",
        &[("UserName", "alice"), ("NewDisplayName", "x")],
    )
    .await
    .err(404, "EntityNotExist.User");
    // B may have its own alice.
    s.call(&b, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    s.call(&a, "GetUser", &[("UserName", "alice")]).await.ok();
}

#[tokio::test]
async fn a_user_without_policies_is_denied_with_detail() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let alice = s.user_with_key(&root, "alice").await;
    let denied = s
        .call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    let detail = &denied["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "ram:ListUsers");
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
    assert_eq!(detail["AuthPrincipalType"], "SubUser");
    assert_eq!(detail["AuthPrincipalDisplayName"], "alice");
    assert_eq!(detail["AuthPrincipalOwnerId"], root.account_id.as_str());
    assert!(!detail["EncodedDiagnosticMessage"]
        .as_str()
        .unwrap()
        .is_empty());
    // Nor may she create users; nothing is written.
    s.call(&alice, "CreateUser", &[("UserName", "mallory")])
        .await
        .err(403, "NoPermission");
    s.call(&root, "GetUser", &[("UserName", "mallory")])
        .await
        .err(404, "EntityNotExist.User");
}

#[tokio::test]
async fn access_keys_lifecycle_and_inactive_keys() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    s.call(&root, "CreateUser", &[("UserName", "alice")])
        .await
        .ok();
    let key = s
        .call(&root, "CreateAccessKey", &[("UserName", "alice")])
        .await
        .ok();
    let id = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("LTAI") && id.len() == 24);
    assert_eq!(
        key["AccessKey"]["AccessKeySecret"].as_str().unwrap().len(),
        30
    );
    let alice = Client {
        account_id: root.account_id.clone(),
        key_id: id.clone(),
        secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
    };
    s.call(&root, "CreateAccessKey", &[("UserName", "alice")])
        .await
        .ok();
    s.call(&root, "CreateAccessKey", &[("UserName", "alice")])
        .await
        .err(409, "LimitExceeded.User.AccessKey");
    let listed = s
        .call(&root, "ListAccessKeys", &[("UserName", "alice")])
        .await
        .ok();
    assert_eq!(
        listed["AccessKeys"]["AccessKey"].as_array().unwrap().len(),
        2
    );
    assert!(listed.to_string().find("AccessKeySecret").is_none());
    // Used once, so the server now holds the key in its cache: disabling and deleting it
    // must still take effect on the very next request.
    s.call(&alice, "ListUsers", &[])
        .await
        .err(403, "NoPermission");
    s.call(
        &root,
        "UpdateAccessKey",
        &[
            ("UserName", "alice"),
            ("UserAccessKeyId", &id),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[])
        .await
        .err(400, "InvalidAccessKeyId.Inactive");
    s.call(&root, "DeleteUser", &[("UserName", "alice")])
        .await
        .err(409, "DeleteConflict.User.AccessKey");
    s.call(
        &root,
        "DeleteAccessKey",
        &[("UserName", "alice"), ("UserAccessKeyId", &id)],
    )
    .await
    .ok();
    s.call(&alice, "ListUsers", &[])
        .await
        .err(404, "InvalidAccessKeyId.NotFound");
}

#[tokio::test]
async fn v3_signatures_post_bodies_and_xml() {
    let s = Server::start().await;
    let root = s.account("acme").await;
    let created = s
        .call_v3(
            &root,
            "CreateUser",
            &[("UserName", "v3user"), ("Comments", "a b*c~")],
        )
        .await
        .ok();
    assert_eq!(created["User"]["Comments"], "a b*c~");
    let raw = s.signed_v3(&root, "GetUser", &[("UserName", "v3user")], "v3-replay");
    s.send(raw.clone()).await.ok();
    s.send(raw).await.err(400, "SignatureNonceUsed");
    let mut tampered = s.signed_v3(&root, "GetUser", &[("UserName", "v3user")], "v3-t");
    tampered.query = "UserName=someone".into();
    s.send(tampered).await.err(400, "SignatureDoesNotMatch");

    // V1 with every parameter in a form body, as older core SDKs POST.
    let get = s.signed(&root, "GetUser", &[("UserName", "v3user")], "form-nonce");
    let canonical = get.query.clone();
    // Re-sign for POST: the method is part of the string to sign.
    let pairs: Vec<(String, String)> = canonical
        .split('&')
        .filter(|p| !p.starts_with("Signature="))
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (
                rampart_wire::form_decode(k).unwrap(),
                rampart_wire::form_decode(v).unwrap(),
            )
        })
        .collect();
    let canonical = rampart_wire::v1::canonicalized_query(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        rampart_wire::SpaceEncoding::Percent20,
    );
    let sig = rampart_wire::v1::sign(
        &rampart_wire::Secret::new(root.secret.as_str()),
        &rampart_wire::v1::string_to_sign("POST", &canonical),
    );
    let body = format!(
        "{canonical}&Signature={}",
        rampart_wire::percent_encode(&sig)
    );
    let raw = rampart_wire::RawRequest::new("POST", "/", "")
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body.into_bytes());
    let got = s.send(raw).await.ok();
    assert_eq!(got["User"]["UserName"], "v3user");

    // XML when asked.
    let raw = s.signed(&root, "ListUsers", &[("Format", "XML")], "xml-nonce");
    let text = s.api.handle(rampart_api::HttpRequest::new(raw)).await;
    assert_eq!(text.status, 200);
    assert!(text.body.contains("<ListUsersResponse>"), "{}", text.body);
    assert!(text.body.contains("<Users><User>"), "{}", text.body);
    let raw = s.signed(
        &root,
        "GetUser",
        &[("Format", "XML"), ("UserName", "nobody")],
        "xml-err",
    );
    let text = s.api.handle(rampart_api::HttpRequest::new(raw)).await;
    assert_eq!(text.status, 404);
    assert!(
        text.body.contains("<Code>EntityNotExist.User</Code>"),
        "{}",
        text.body
    );
}
