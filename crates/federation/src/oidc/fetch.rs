//! Fetching the issuer's discovery document and JWKS over pinned HTTPS.
//!
//! One connection per request, HTTP/1.1, no redirects (a redirect would lead to a host the
//! fingerprints were not registered for), a deadline for the whole exchange and a cap on the
//! body, so a slow or hostile issuer can neither hold a verification for long nor fill memory.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{header, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::error::OidcError;
use super::tls::PinnedVerifier;

#[derive(Debug)]
pub(crate) struct Fetcher {
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
}

/// An `https://` URL split into what a request needs.
struct Target {
    host: String,
    port: u16,
    authority: String,
    path: String,
}

/// Accepts only absolute `https://` URLs with a host and no user info.
pub(crate) fn https_target(what: &'static str, url: &str) -> Result<(), OidcError> {
    parse_target(what, url).map(|_| ())
}

fn parse_target(what: &'static str, url: &str) -> Result<Target, OidcError> {
    let insecure = || OidcError::InsecureUrl {
        what,
        url: url.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| insecure())?;
    if uri.scheme_str() != Some("https") {
        return Err(insecure());
    }
    let authority = uri.authority().ok_or_else(insecure)?;
    if authority.as_str().contains('@') {
        return Err(insecure());
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(insecure());
    }
    Ok(Target {
        host: host.to_owned(),
        port: authority.port_u16().unwrap_or(443),
        authority: authority.as_str().to_owned(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
    })
}

impl Fetcher {
    /// GETs `url` and returns its body, trusting the server only through `pins`.
    pub(crate) async fn get(
        &self,
        what: &'static str,
        url: &str,
        pins: &[[u8; 20]],
        now: i64,
    ) -> Result<Bytes, OidcError> {
        let target = parse_target(what, url)?;
        match tokio::time::timeout(self.timeout, self.exchange(&target, url, pins, now)).await {
            Ok(result) => result,
            Err(_) => Err(fetch_error(
                url,
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }

    async fn exchange(
        &self,
        target: &Target,
        url: &str,
        pins: &[[u8; 20]],
        now: i64,
    ) -> Result<Bytes, OidcError> {
        let server_name = ServerName::try_from(target.host.clone())
            .map_err(|e| fetch_error(url, format!("bad host name: {e}")))?;
        let verifier = Arc::new(PinnedVerifier::new(
            target.host.clone(),
            pins.to_vec(),
            now,
            Arc::clone(&self.provider),
        ));
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| fetch_error(url, format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| fetch_error(url, format!("cannot connect: {e}")))?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| match verifier.refusal() {
                Some(refusal) => refusal.clone(),
                None => fetch_error(url, format!("TLS handshake failed: {e}")),
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| fetch_error(url, format!("HTTP handshake failed: {e}")))?;

        let request = Request::get(target.path.as_str())
            .header(header::HOST, target.authority.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONNECTION, "close")
            .header(header::USER_AGENT, "rampart-oidc")
            .body(Empty::<Bytes>::new())
            .map_err(|e| fetch_error(url, format!("bad request: {e}")))?;
        let max_body = self.max_body;
        let response = async move {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| fetch_error(url, format!("request failed: {e}")))?;
            if response.status() != StatusCode::OK {
                return Err(fetch_error(
                    url,
                    format!(
                        "answered HTTP {} (redirects are not followed)",
                        response.status()
                    ),
                ));
            }
            Limited::new(response.into_body(), max_body)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| {
                    fetch_error(url, format!("reading the body (cap {max_body} bytes): {e}"))
                })
        };
        // The connection future must be polled for the response to make progress; it may
        // finish (the server closing) before the body future is polled to completion.
        tokio::pin!(response, conn);
        let mut conn_done = false;
        loop {
            tokio::select! {
                out = &mut response => return out,
                res = &mut conn, if !conn_done => {
                    if let Err(e) = res {
                        return Err(fetch_error(url, format!("connection failed: {e}")));
                    }
                    conn_done = true;
                }
            }
        }
    }
}

fn fetch_error(url: &str, reason: String) -> OidcError {
    OidcError::Fetch {
        url: url.to_owned(),
        reason,
    }
}
