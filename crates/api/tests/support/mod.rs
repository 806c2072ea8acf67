//! An in-process server on a fresh SQLite store (and PostgreSQL when reachable), and a
//! client that signs requests with the wire crate's V1 functions, as the SDKs do.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rampart_api::{Api, ApiOptions, HttpRequest, HttpResponse};
use rampart_model::{Clock, ManualClock, MasterKey, NewAccessKey, Timestamp};
use rampart_store::{AccountRepo, NewAccount, SqlStore, Store};
use rampart_wire::{percent_encode, v1, RawRequest, Secret, SpaceEncoding};
use serde_json::Value;

pub struct Server {
    pub api: Api,
    pub clock: Arc<ManualClock>,
    pub store: SqlStore,
    pub master: Arc<MasterKey>,
    pub url: String,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
pub struct Client {
    pub account_id: String,
    pub key_id: String,
    pub secret: String,
}

static NONCE: AtomicU64 = AtomicU64::new(1);

impl Server {
    pub async fn start() -> Server {
        Self::start_with(ApiOptions::default()).await
    }

    pub async fn start_with(options: ApiOptions) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let master = Arc::new(MasterKey::generate(1).unwrap());
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-11-22T10:00:00Z").unwrap(),
        ));
        rampart_api::ram::install_system_policies(&store, clock.now())
            .await
            .unwrap();
        let dyn_store: Arc<dyn Store> = Arc::new(store.clone());
        let api = Api::new(
            dyn_store,
            Arc::clone(&master),
            clock.clone() as Arc<dyn Clock>,
            options,
        );
        Server {
            api,
            clock,
            store,
            master,
            url,
            _dir: dir,
        }
    }

    /// A second server process's view: its own store handle (own pool) and own caches on
    /// the same database, as two nodes behind a load balancer.
    pub async fn second_node(&self) -> Server {
        let store = SqlStore::open(&self.url).await.unwrap();
        let dyn_store: Arc<dyn Store> = Arc::new(store.clone());
        let api = Api::new(
            dyn_store,
            Arc::clone(&self.master),
            self.clock.clone() as Arc<dyn Clock>,
            ApiOptions::default(),
        );
        Server {
            api,
            clock: self.clock.clone(),
            store,
            master: Arc::clone(&self.master),
            url: self.url.clone(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A new account and a client holding its root key.
    pub async fn account(&self, name: &str) -> Client {
        let (key, secret) = NewAccessKey::generate(&self.master).unwrap();
        let (account, key) = self
            .store
            .create_account(NewAccount { name: name.into() }, key, self.clock.now())
            .await
            .unwrap();
        Client {
            account_id: account.id.to_string(),
            key_id: key.id.to_string(),
            secret: secret.expose().to_owned(),
        }
    }

    /// A RAM user `name` in `root`'s account, with an AccessKey, as a client.
    pub async fn user_with_key(&self, root: &Client, name: &str) -> Client {
        self.call(root, "CreateUser", &[("UserName", name)])
            .await
            .ok();
        let key = self
            .call(root, "CreateAccessKey", &[("UserName", name)])
            .await
            .ok();
        Client {
            account_id: root.account_id.clone(),
            key_id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
            secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
        }
    }

    /// Sends `params` signed V1 by `client`, with a fresh nonce.
    pub async fn call(&self, client: &Client, action: &str, params: &[(&str, &str)]) -> Reply {
        let nonce = format!("nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let raw = self.signed(client, action, params, &nonce);
        self.send(raw).await
    }

    pub fn signed(
        &self,
        client: &Client,
        action: &str,
        params: &[(&str, &str)],
        nonce: &str,
    ) -> RawRequest {
        self.signed_as(client, None, "2015-05-01", action, params, nonce)
    }

    /// STS: `AssumeRole` and `GetCallerIdentity`, signed V1 by `client`.
    pub async fn sts(&self, client: &Client, action: &str, params: &[(&str, &str)]) -> Reply {
        let nonce = format!("nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let raw = self.signed_as(client, None, "2015-04-01", action, params, &nonce);
        self.send(raw).await
    }

    /// A call signed V1 with STS credentials: the `SecurityToken` parameter is signed too.
    pub async fn call_session(
        &self,
        session: &Session,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        let nonce = format!("nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let raw = self.signed_as(
            &session.client,
            Some(&session.token),
            version,
            action,
            params,
            &nonce,
        );
        self.send(raw).await
    }

    pub fn signed_as(
        &self,
        client: &Client,
        token: Option<&str>,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
        nonce: &str,
    ) -> RawRequest {
        let now = self.clock.now().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("Action", action),
            ("Version", version),
            ("Format", "JSON"),
            ("AccessKeyId", &client.key_id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("Timestamp", &now),
        ];
        for overridable in ["Format", "Version"] {
            if params.iter().any(|(k, _)| *k == overridable) {
                all.retain(|(k, _)| *k != overridable);
            }
        }
        if let Some(token) = token {
            all.push(("SecurityToken", token));
        }
        all.extend_from_slice(params);
        let canonical = v1::canonicalized_query(all.iter().copied(), SpaceEncoding::Percent20);
        let signature = v1::sign(
            &Secret::new(client.secret.as_str()),
            &v1::string_to_sign("GET", &canonical),
        );
        let query = format!("{canonical}&Signature={}", percent_encode(&signature));
        RawRequest::new("GET", "/", &query)
    }

    pub async fn send(&self, raw: RawRequest) -> Reply {
        Reply::from(self.api.handle(HttpRequest::new(raw)).await)
    }
}

/// STS credentials, as `AssumeRole` returned them.
#[derive(Clone)]
pub struct Session {
    pub client: Client,
    pub token: String,
    pub expiration: String,
}

impl Session {
    pub fn from_reply(account_id: &str, reply: &Value) -> Session {
        let c = &reply["Credentials"];
        Session {
            client: Client {
                account_id: account_id.to_owned(),
                key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
                secret: c["AccessKeySecret"].as_str().unwrap().to_owned(),
            },
            token: c["SecurityToken"].as_str().unwrap().to_owned(),
            expiration: c["Expiration"].as_str().unwrap().to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
}

impl From<HttpResponse> for Reply {
    fn from(r: HttpResponse) -> Self {
        let json = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        Reply {
            status: r.status,
            json,
        }
    }
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.json);
        self.json
    }

    #[track_caller]
    pub fn err(self, status: u16, code: &str) -> Value {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.json);
        self.json
    }
}

impl Server {
    /// A V3 (`ACS3-HMAC-SHA256`) request with `params` in the query, as the Tea SDKs send.
    pub fn signed_v3(
        &self,
        client: &Client,
        action: &str,
        params: &[(&str, &str)],
        nonce: &str,
    ) -> RawRequest {
        self.signed_v3_as(client, None, "2015-05-01", action, params, nonce)
    }

    /// V3 with STS credentials: `x-acs-security-token` is a signed header.
    pub async fn call_session_v3(
        &self,
        session: &Session,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        let nonce = format!("v3-nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let raw = self.signed_v3_as(
            &session.client,
            Some(&session.token),
            version,
            action,
            params,
            &nonce,
        );
        self.send(raw).await
    }

    pub fn signed_v3_as(
        &self,
        client: &Client,
        token: Option<&str>,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
        nonce: &str,
    ) -> RawRequest {
        use rampart_wire::v3;
        let query: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let canonical_query = v3::canonical_query(&query);
        let mut raw = RawRequest::new("POST", "/", &canonical_query)
            .with_header("host", "ram.aliyuncs.com")
            .with_header("x-acs-action", action)
            .with_header("x-acs-version", version)
            .with_header("x-acs-date", &self.clock.now().to_string())
            .with_header("x-acs-signature-nonce", nonce)
            .with_header("x-acs-content-sha256", v3::EMPTY_BODY_SHA256);
        let mut signed: Vec<String> = [
            "host",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-signature-nonce",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some(token) = token {
            raw = raw.with_header("x-acs-security-token", token);
            signed.push("x-acs-security-token".to_owned());
        }
        signed.push("x-acs-version".to_owned());
        let headers = v3::canonical_headers(&raw, &signed).unwrap();
        let request = v3::canonical_request(
            "POST",
            "/",
            &canonical_query,
            &headers,
            &signed,
            v3::EMPTY_BODY_SHA256,
        );
        let signature = v3::sign(
            &Secret::new(client.secret.as_str()),
            &v3::string_to_sign(&request),
        );
        raw = raw.with_header(
            "authorization",
            &format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
                client.key_id,
                signed.join(";")
            ),
        );
        raw
    }

    pub async fn call_v3(&self, client: &Client, action: &str, params: &[(&str, &str)]) -> Reply {
        let nonce = format!("v3-nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let raw = self.signed_v3(client, action, params, &nonce);
        self.send(raw).await
    }
}
