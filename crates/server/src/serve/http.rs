//! The listener: HTTP/1.1 (and HTTPS with rustls) in front of [`rampart_api::Api`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rampart_api::{Api, HttpRequest};
use rampart_wire::RawRequest;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Request bodies beyond this are refused before they are read in full.
const MAX_BODY_BYTES: usize = 1 << 20;
/// In-flight requests get this long to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("tls: {0}")]
    Config(String),
}

pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let file_err = |path: &Path, message: String| TlsError::File {
        path: path.display().to_string(),
        message,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| file_err(cert, e.to_string()))?;
    let key_pem = std::fs::read(key).map_err(|e| file_err(key, e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(cert, "no certificate found".into()));
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| file_err(key, e.to_string()))?
        .ok_or_else(|| file_err(key, "no private key found".into()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key_der)
    .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn serve_one(
    api: Api,
    peer: SocketAddr,
    secure: bool,
    client_timeout: Duration,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    match req.uri().path() {
        "/healthz" => return Ok(plain(StatusCode::OK, "ok\n")),
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(api.state().metrics.render())));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(rampart_api::metrics::CONTENT_TYPE),
            );
            return Ok(r);
        }
        "/readyz" => {
            return Ok(if api.ready().await {
                plain(StatusCode::OK, "ready\n")
            } else {
                plain(StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
            })
        }
        _ => {}
    }
    let (parts, body) = req.into_parts();
    let accept = parts
        .headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    // A client that trickles its body is cut off too, not only one that trickles its head.
    let read = tokio::time::timeout(client_timeout, Limited::new(body, MAX_BODY_BYTES).collect());
    let body = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => {
            let error = rampart_wire::ApiError::new(
                "RequestBodyTooLarge",
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
                413,
            );
            return Ok(to_hyper(api.reject(&error, accept)));
        }
        Err(_) => {
            let error = rampart_wire::ApiError::new(
                "RequestTimeout",
                format!(
                    "The request body did not arrive within {} s.",
                    client_timeout.as_secs()
                ),
                408,
            );
            let mut response = to_hyper(api.reject(&error, accept));
            response.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            return Ok(response);
        }
    };
    let mut raw = RawRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
    );
    for (name, value) in &parts.headers {
        // A header that is not text cannot be part of a valid signature; skip it.
        if let Ok(value) = value.to_str() {
            raw.headers
                .push((name.as_str().to_owned(), value.to_owned()));
        }
    }
    raw.body = body.to_vec();
    let response = api
        .handle(HttpRequest {
            raw,
            source_ip: Some(peer.ip()),
            secure,
        })
        .await;
    Ok(to_hyper(response))
}

fn to_hyper(response: rampart_api::HttpResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(response.content_type),
    );
    for (name, value) in response.headers {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            // Append: a page may set several cookies.
            headers.append(name, value);
        }
    }
    out
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
/// The certificate in use, replaced whole when the files are reloaded (SIGHUP); connections
/// already open keep the one they started with.
pub type SharedTls = Arc<std::sync::RwLock<TlsAcceptor>>;

/// Re-reads the certificate and key; on any error the old pair stays in use.
pub fn reload_tls(tls: &SharedTls, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let fresh = tls_acceptor(cert, key)?;
    // A poisoned lock only means a panic elsewhere while swapping; the value is whole.
    *tls.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
    Ok(())
}

pub async fn run(
    listener: TcpListener,
    api: Api,
    tls: Option<SharedTls>,
    client_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that trickles its request head is cut off instead of holding a slot.
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(client_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let secure = tls.is_some();
        let service =
            service_fn(move |req| serve_one(api.clone(), peer, secure, client_timeout, req));
        match &tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            Some(shared) => {
                let acceptor = shared
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // A slow or failed handshake affects only this connection.
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}
