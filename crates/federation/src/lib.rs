//! Verification of identities asserted by other systems: OpenID Connect ID tokens and SAML 2.0
//! responses. The STS federation actions (`AssumeRoleWithOIDC`, `AssumeRoleWithSAML`) call in
//! here; nothing in this crate touches storage. Time is always passed in by the caller (the
//! server's injected clock), never read here.

pub mod oidc;
pub mod saml;
