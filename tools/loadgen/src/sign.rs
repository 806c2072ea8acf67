//! Building V3-signed requests with the wire crate's own signing functions.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rampart_model::Timestamp;
use rampart_wire::{v3, RawRequest, Secret};

pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    /// STS credentials' `SecurityToken`, sent as the signed `x-acs-security-token` header.
    pub token: Option<String>,
}

impl Credentials {
    pub fn load(
        file: Option<&Path>,
        key_id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<Credentials, String> {
        if let (Some(k), Some(s)) = (key_id, secret) {
            return Ok(Credentials {
                key_id: k.to_owned(),
                secret: s.to_owned(),
                token: None,
            });
        }
        let Some(file) = file else {
            return Err(
                "give --credentials FILE or --access-key-id and --access-key-secret".into(),
            );
        };
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: no {name}", file.display()))
        };
        Ok(Credentials {
            key_id: field("AccessKeyId")?,
            secret: field("AccessKeySecret")?,
            token: field("SecurityToken").ok(),
        })
    }
}

pub struct Signer {
    key_id: String,
    secret: Secret,
    token: Option<String>,
    params: Vec<(String, String)>,
    nonce_prefix: String,
    /// `{run}`: unique to this run, short, and valid in every RAM name.
    run: String,
}

const SIGNED: [&str; 5] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
];

impl Signer {
    pub fn new(credentials: Credentials, params: Vec<(String, String)>) -> Signer {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Signer {
            key_id: credentials.key_id,
            secret: Secret::new(credentials.secret),
            token: credentials.token,
            params,
            // Unique across runs too: the server remembers nonces for 30 minutes.
            nonce_prefix: format!("load-{}-{now:x}", std::process::id()),
            run: format!("{:x}", (now / 1_000_000) & 0xff_ffff_ffff),
        }
    }

    /// The signed request number `seq`, as a [`RawRequest`] (for tests) and as HTTP text.
    pub fn raw(&self, host: &str, action: &str, version: &str, seq: u64) -> RawRequest {
        let query: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.replace("{seq}", &seq.to_string())
                        .replace("{run}", &self.run),
                )
            })
            .collect();
        let canonical_query = v3::canonical_query(&query);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let date = Timestamp::from_unix_secs(i64::try_from(secs).unwrap_or(0))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let nonce = format!("{}-{seq}", self.nonce_prefix);
        let mut raw = RawRequest::new("POST", "/", &canonical_query)
            .with_header("host", host)
            .with_header("x-acs-action", action)
            .with_header("x-acs-content-sha256", v3::EMPTY_BODY_SHA256)
            .with_header("x-acs-date", &date)
            .with_header("x-acs-signature-nonce", &nonce);
        let mut signed: Vec<String> = SIGNED.iter().map(|s| (*s).to_owned()).collect();
        if let Some(token) = &self.token {
            raw = raw.with_header("x-acs-security-token", token);
            signed.push("x-acs-security-token".to_owned());
        }
        raw = raw.with_header("x-acs-version", version);
        signed.push("x-acs-version".to_owned());
        let headers = v3::canonical_headers(&raw, &signed).unwrap_or_default();
        let request = v3::canonical_request(
            "POST",
            "/",
            &canonical_query,
            &headers,
            &signed,
            v3::EMPTY_BODY_SHA256,
        );
        let signature = v3::sign(&self.secret, &v3::string_to_sign(&request));
        raw.with_header(
            "authorization",
            &format!(
                "{} Credential={},SignedHeaders={},Signature={signature}",
                v3::ALGORITHM,
                self.key_id,
                signed.join(";")
            ),
        )
    }

    pub fn request(&self, host: &str, action: &str, version: &str, seq: u64) -> String {
        let raw = self.raw(host, action, version, seq);
        let mut out = format!("POST /?{} HTTP/1.1\r\n", raw.query);
        for (k, v) in &raw.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("accept: application/json\r\ncontent-length: 0\r\n\r\n");
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rampart_wire::{parse_request, verify, Limits, VerifyOptions};

    fn signer() -> Signer {
        Signer::new(
            Credentials {
                key_id: "LTAI5tLOADLOADLOADLOADLO".into(),
                secret: "s".repeat(30),
                token: None,
            },
            vec![("UserName".into(), "u{seq}".into())],
        )
    }

    #[test]
    fn requests_verify_with_the_servers_verifier() {
        let s = signer();
        let raw = s.raw("127.0.0.1:9720", "CreateUser", "2015-05-01", 7);
        let req = parse_request(&raw, &Limits::default()).unwrap();
        assert_eq!(req.action(), "CreateUser");
        assert_eq!(req.param("UserName"), Some("u7"));
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        verify(
            &raw,
            &req,
            &Secret::new("s".repeat(30).as_str()),
            now,
            &VerifyOptions::default(),
        )
        .unwrap();
        let wrong = Secret::new("t".repeat(30).as_str());
        assert!(verify(&raw, &req, &wrong, now, &VerifyOptions::default()).is_err());
    }

    #[test]
    fn sts_credentials_send_a_signed_security_token() {
        let s = Signer::new(
            Credentials {
                key_id: "STS.loadloadloadloadloadloadload".into(),
                secret: "s".repeat(30),
                token: Some("RST1.token".into()),
            },
            Vec::new(),
        );
        let raw = s.raw("127.0.0.1:9720", "GetCallerIdentity", "2015-04-01", 1);
        let req = parse_request(&raw, &Limits::default()).unwrap();
        assert_eq!(req.security_token(), Some("RST1.token"));
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let secret = Secret::new("s".repeat(30).as_str());
        verify(&raw, &req, &secret, now, &VerifyOptions::default()).unwrap();
        // The token is covered by the signature.
        let mut altered = raw.clone();
        for h in altered.headers.iter_mut() {
            if h.0 == "x-acs-security-token" {
                h.1 = "RST1.other".into();
            }
        }
        let req = parse_request(&altered, &Limits::default()).unwrap();
        assert!(verify(&altered, &req, &secret, now, &VerifyOptions::default()).is_err());
    }

    #[test]
    fn run_token_is_a_valid_name_part() {
        let s = signer();
        assert!(!s.run.is_empty() && s.run.len() <= 10);
        assert!(s.run.bytes().all(|b| b.is_ascii_alphanumeric()));
        let other = Signer::new(
            Credentials {
                key_id: "k".into(),
                secret: "s".into(),
                token: None,
            },
            vec![("UserName".into(), "u{run}-{seq}".into())],
        );
        let raw = other.raw("h", "CreateUser", "2015-05-01", 3);
        let req = parse_request(&raw, &Limits::default()).unwrap();
        assert_eq!(
            req.param("UserName").map(str::to_owned),
            Some(format!("u{}-3", other.run))
        );
    }

    #[test]
    fn nonces_are_unique_per_request() {
        let s = signer();
        let nonce = |seq| {
            s.raw("h", "GetUser", "2015-05-01", seq)
                .header("x-acs-signature-nonce")
                .unwrap()
                .to_owned()
        };
        let all: std::collections::HashSet<String> = (0..1000).map(nonce).collect();
        assert_eq!(all.len(), 1000);
    }
}
