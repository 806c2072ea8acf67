//! The HTTP exchange as the dispatcher sees it, free of any HTTP framework so the server
//! binary may use hyper, axum or anything else, and tests need no socket.

use std::net::IpAddr;

use rampart_wire::RawRequest;

/// One request as received.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub raw: RawRequest,
    /// The peer's address: `acs:SourceIp`.
    pub source_ip: Option<IpAddr>,
    /// Whether it arrived over TLS: `acs:SecureTransport`.
    pub secure: bool,
}

impl HttpRequest {
    pub fn new(raw: RawRequest) -> Self {
        Self {
            raw,
            source_ip: None,
            secure: false,
        }
    }
}

/// One response, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra headers (`x-acs-request-id`, ...).
    pub headers: Vec<(&'static str, String)>,
}
