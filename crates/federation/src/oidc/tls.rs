//! Certificate pinning for connections to an OIDC issuer.
//!
//! Alibaba trusts an issuer's HTTPS endpoint by the SHA-1 fingerprints registered on the OIDC
//! provider, not by public CAs, so a self-signed issuer works once its fingerprint is registered.
//! A fingerprint match alone is not enough, though: certificates are public, so anyone can
//! append the issuer's CA certificate to a chain of their own. What is accepted therefore:
//!
//! * the server's own certificate is registered: its key is then the pinned identity (the
//!   handshake signature, checked by rustls, proves the server holds it); only its validity
//!   dates are checked, and not its names, as the administrator pinned this very certificate;
//! * a CA certificate of the presented chain is registered: the server's certificate must chain
//!   up to it (signatures, validity dates, server-auth usage, verified by rustls's webpki), and
//!   be valid for the host connected to, like any CA-issued certificate.
//!
//! The registered certificate's own validity dates are checked in both cases. All dates are
//! compared with the caller's clock, not the system's.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use sha1::{Digest, Sha1};
use x509_cert::der::Decode;

use super::error::OidcError;

/// Verifies one connection's certificates against the provider's fingerprints. It remembers why
/// it refused, as rustls only carries an opaque error back through hyper's I/O errors.
#[derive(Debug)]
pub(crate) struct PinnedVerifier {
    host: String,
    pins: Vec<[u8; 20]>,
    now: i64,
    provider: Arc<CryptoProvider>,
    refusal: OnceLock<OidcError>,
}

impl PinnedVerifier {
    pub(crate) fn new(
        host: String,
        pins: Vec<[u8; 20]>,
        now: i64,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            host,
            pins,
            now,
            provider,
            refusal: OnceLock::new(),
        }
    }

    /// Why the certificates were refused, if they were.
    pub(crate) fn refusal(&self) -> Option<&OidcError> {
        self.refusal.get()
    }

    fn refuse(&self, error: OidcError) -> Error {
        let message = error.to_string();
        let _ = self.refusal.set(error);
        Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
            std::io::Error::other(message),
        ))))
    }

    fn untrusted(&self, reason: impl Into<String>) -> Error {
        self.refuse(OidcError::UntrustedCertificate {
            host: self.host.clone(),
            reason: reason.into(),
        })
    }

    fn check_dates(&self, cert: &CertificateDer<'_>, which: &str) -> Result<(), Error> {
        let parsed = x509_cert::Certificate::from_der(cert.as_ref())
            .map_err(|e| self.untrusted(format!("the {which} certificate does not parse: {e}")))?;
        let validity = &parsed.tbs_certificate.validity;
        let not_before = secs(validity.not_before.to_unix_duration());
        let not_after = secs(validity.not_after.to_unix_duration());
        if self.now < not_before || self.now > not_after {
            return Err(self.untrusted(format!(
                "the {which} certificate is valid from {not_before} to {not_after} (unix seconds), not now ({})",
                self.now
            )));
        }
        Ok(())
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Lower-case hex SHA-1 of a certificate's DER, the form fingerprints are registered in.
pub(crate) fn fingerprint(cert: &[u8]) -> [u8; 20] {
    Sha1::digest(cert).into()
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let chain: Vec<&CertificateDer<'_>> =
            std::iter::once(end_entity).chain(intermediates).collect();
        let prints: Vec<[u8; 20]> = chain.iter().map(|c| fingerprint(c.as_ref())).collect();
        let Some(pinned) = prints.iter().position(|p| self.pins.contains(p)) else {
            return Err(self.refuse(OidcError::FingerprintMismatch {
                host: self.host.clone(),
                presented: prints.iter().map(hex::encode).collect(),
            }));
        };
        let Some(anchor) = chain.get(pinned) else {
            return Err(self.untrusted("internal: pinned certificate index out of range"));
        };
        if pinned == 0 {
            self.check_dates(end_entity, "server's")?;
            return Ok(ServerCertVerified::assertion());
        }
        self.check_dates(anchor, "registered")?;
        let mut roots = RootCertStore::empty();
        roots
            .add((*anchor).clone())
            .map_err(|e| self.untrusted(format!("the registered certificate is unusable: {e}")))?;
        let parsed = ParsedCertificate::try_from(end_entity)
            .map_err(|e| self.untrusted(format!("the server's certificate does not parse: {e}")))?;
        let unix_now =
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(self.now).unwrap_or(0)));
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            intermediates,
            unix_now,
            self.provider.signature_verification_algorithms.all,
        )
        .map_err(|e| {
            self.untrusted(format!(
                "the server's certificate does not chain to the registered one: {e}"
            ))
        })?;
        rustls::client::verify_server_name(&parsed, server_name).map_err(|e| {
            self.untrusted(format!(
                "the server's certificate is not for this host: {e}"
            ))
        })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
