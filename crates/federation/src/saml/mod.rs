//! SAML 2.0 for `AssumeRoleWithSAML`: the identity provider's metadata (uploaded with
//! `CreateSAMLProvider`) and the signed responses users bring to STS.

pub mod metadata;
pub mod response;

pub use metadata::{
    parse_encoded_metadata, parse_metadata, IdpMetadata, MetadataError, SigningCertificate,
};
pub use response::{
    verify_response, RolePair, SamlError, SamlExpectations, SignedElement, TimeBound,
    VerifiedAssertion, ALIBABA_AUDIENCES, ALIBABA_RECIPIENTS, ROLE_ATTRIBUTE,
    ROLE_SESSION_NAME_ATTRIBUTE,
};
