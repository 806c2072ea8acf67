//! Identity-provider metadata: the entity ID and the signing certificates, nothing else.
//!
//! The document comes from a tenant (`CreateSAMLProvider`), so it is untrusted input: DTDs
//! are refused outright (no entity expansion, no external fetches), and every certificate
//! must parse as X.509 before the provider is accepted, so a bad upload fails at once rather
//! than at the first sign-in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use roxmltree::{Document, Node, ParsingOptions};
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// What Rampart keeps from an IdP's metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `EntityDescriptor/@entityID`; an assertion's `Issuer` must equal it.
    pub entity_id: String,
    /// Certificates of `IDPSSODescriptor/KeyDescriptor` with `use="signing"` or no `use`.
    pub signing_certificates: Vec<SigningCertificate>,
}

/// One X.509 certificate from the metadata, DER-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    pub der: Vec<u8>,
}

/// Why a metadata document was refused. Messages are meant for the API's error message, so
/// they say what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the SAML metadata is not well-formed XML: {0}")]
    Xml(String),
    #[error("the SAML metadata document is not valid Base64")]
    Base64,
    #[error("the SAML metadata document is not UTF-8 text")]
    NotUtf8,
    #[error("the SAML metadata contains a DOCTYPE declaration, which is not accepted")]
    Dtd,
    #[error("the SAML metadata has no md:EntityDescriptor element")]
    NoEntityDescriptor,
    #[error("the SAML metadata's EntityDescriptor has no entityID")]
    NoEntityId,
    #[error(
        "the SAML metadata has no md:IDPSSODescriptor: it does not describe an identity provider"
    )]
    NoIdpSsoDescriptor,
    #[error("the SAML metadata has no signing certificate (KeyDescriptor use=\"signing\" or without use, with ds:X509Certificate)")]
    NoSigningCertificate,
    #[error("signing certificate {index} in the SAML metadata is not valid Base64")]
    CertificateBase64 { index: usize },
    #[error(
        "signing certificate {index} in the SAML metadata is not an X.509 certificate: {reason}"
    )]
    CertificateDer { index: usize, reason: String },
}

/// Parses an IdP metadata document (the XML text, already Base64-decoded).
pub fn parse_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => MetadataError::Dtd,
        other => MetadataError::Xml(other.to_string()),
    })?;
    let root = doc.root_element();
    // Either the document is one EntityDescriptor, or an EntitiesDescriptor wrapping one:
    // the first that describes an IdP is the one used.
    let entity = if is_md(root, "EntityDescriptor") {
        root
    } else {
        let mut entities = root.descendants().filter(|n| is_md(*n, "EntityDescriptor"));
        let first = entities.next().ok_or(MetadataError::NoEntityDescriptor)?;
        std::iter::once(first)
            .chain(entities)
            .find(|e| idp_descriptor(*e).is_some())
            .unwrap_or(first)
    };
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(MetadataError::NoEntityId)?
        .to_owned();
    let idp = idp_descriptor(entity).ok_or(MetadataError::NoIdpSsoDescriptor)?;

    let mut signing_certificates = Vec::new();
    let signing_keys = idp
        .children()
        .filter(|n| is_md(*n, "KeyDescriptor"))
        .filter(|n| matches!(n.attribute("use"), None | Some("signing")));
    for key in signing_keys {
        for cert in key
            .descendants()
            .filter(|n| n.has_tag_name((DS_NS, "X509Certificate")))
        {
            let index = signing_certificates.len() + 1;
            let text: String = cert
                .text()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let der = STANDARD
                .decode(text.as_bytes())
                .map_err(|_| MetadataError::CertificateBase64 { index })?;
            Certificate::from_der(&der).map_err(|e| MetadataError::CertificateDer {
                index,
                reason: e.to_string(),
            })?;
            signing_certificates.push(SigningCertificate { der });
        }
    }
    if signing_certificates.is_empty() {
        return Err(MetadataError::NoSigningCertificate);
    }
    Ok(IdpMetadata {
        entity_id,
        signing_certificates,
    })
}

/// Parses metadata as IMS receives it: Base64 of the XML. Whitespace inside the Base64
/// (line-wrapped output of `base64`) is tolerated.
pub fn parse_encoded_metadata(encoded: &str) -> Result<IdpMetadata, MetadataError> {
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| MetadataError::Base64)?;
    let xml = String::from_utf8(bytes).map_err(|_| MetadataError::NotUtf8)?;
    parse_metadata(&xml)
}

fn is_md(node: Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.has_tag_name((MD_NS, name))
}

fn idp_descriptor<'a, 'input>(entity: Node<'a, 'input>) -> Option<Node<'a, 'input>> {
    entity.children().find(|n| is_md(*n, "IDPSSODescriptor"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Real metadata around a certificate made with `openssl req -x509 -newkey rsa:2048`
    /// (its key is next to it, for tests that sign responses), plus an encryption key that
    /// must be ignored.
    const METADATA: &str = include_str!("../../tests/fixtures/idp-metadata.xml");
    const SIGNING_PEM: &str = include_str!("../../tests/fixtures/idp-signing.pem");

    fn signing_der() -> Vec<u8> {
        let b64: String = SIGNING_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    fn reads_entity_id_and_only_signing_certificates() {
        let m = parse_metadata(METADATA).unwrap();
        assert_eq!(m.entity_id, "https://idp.rampart.test/saml/metadata");
        assert_eq!(
            m.signing_certificates.len(),
            1,
            "the encryption key is not kept"
        );
        assert_eq!(m.signing_certificates[0].der, signing_der());
    }

    #[test]
    fn a_key_without_use_is_a_signing_key() {
        let doc = METADATA.replace(r#"use="encryption""#, "");
        let m = parse_metadata(&doc).unwrap();
        assert_eq!(m.signing_certificates.len(), 2);
        assert_eq!(m.signing_certificates[0].der, signing_der());
        assert_ne!(m.signing_certificates[1].der, signing_der());
    }

    #[test]
    fn encoded_documents_may_be_wrapped() {
        let encoded = STANDARD.encode(METADATA);
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(
            parse_encoded_metadata(&wrapped).unwrap(),
            parse_metadata(METADATA).unwrap()
        );
        assert_eq!(
            parse_encoded_metadata("not base64!"),
            Err(MetadataError::Base64)
        );
        assert_eq!(
            parse_encoded_metadata(&STANDARD.encode([0xff, 0xfe, 0x00])),
            Err(MetadataError::NotUtf8)
        );
    }

    #[test]
    fn an_entities_descriptor_wrapper_is_accepted() {
        let inner = METADATA.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let doc = format!(
            r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}"><md:EntityDescriptor entityID="sp-only"><md:SPSSODescriptor/></md:EntityDescriptor>{inner}</md:EntitiesDescriptor>"#
        );
        let m = parse_metadata(&doc).unwrap();
        assert_eq!(m.entity_id, "https://idp.rampart.test/saml/metadata");
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let cert_start = METADATA.find("MII").unwrap();
        let cases: Vec<(String, MetadataError)> = vec![
            ("not xml at all".into(), MetadataError::Xml(String::new())),
            (
                METADATA.replace("</md:EntityDescriptor>", ""),
                MetadataError::Xml(String::new()),
            ),
            (
                format!(
                    "<!DOCTYPE lol [<!ENTITY a \"aaaa\">]>{}",
                    METADATA.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
                ),
                MetadataError::Dtd,
            ),
            (
                format!("<root xmlns:md=\"{MD_NS}\"><other/></root>"),
                MetadataError::NoEntityDescriptor,
            ),
            (
                // The right local name in the wrong namespace is not metadata.
                METADATA.replace(MD_NS, "urn:example:not-metadata"),
                MetadataError::NoEntityDescriptor,
            ),
            (
                METADATA.replace(r#"entityID="https://idp.rampart.test/saml/metadata""#, ""),
                MetadataError::NoEntityId,
            ),
            (
                METADATA.replace(
                    r#"entityID="https://idp.rampart.test/saml/metadata""#,
                    r#"entityID="  ""#,
                ),
                MetadataError::NoEntityId,
            ),
            (
                METADATA.replace("IDPSSODescriptor", "SPSSODescriptor"),
                MetadataError::NoIdpSsoDescriptor,
            ),
            (
                METADATA.replace(r#"use="signing""#, r#"use="encryption""#),
                MetadataError::NoSigningCertificate,
            ),
            (
                format!("{}!!!!{}", &METADATA[..cert_start], &METADATA[cert_start..]),
                MetadataError::CertificateBase64 { index: 1 },
            ),
            (
                format!(
                    "{}{}{}",
                    &METADATA[..cert_start],
                    STANDARD.encode(b"definitely not DER"),
                    &METADATA[METADATA.find("</ds:X509Certificate>").unwrap()..]
                ),
                MetadataError::CertificateDer {
                    index: 1,
                    reason: String::new(),
                },
            ),
        ];
        for (doc, expected) in cases {
            let got = parse_metadata(&doc).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(&expected),
                "{got:?} for {}",
                &doc[..doc.len().min(120)]
            );
            assert!(!got.to_string().is_empty());
        }
    }
}
