//! SAML 2.0 identity-provider metadata and signed responses for `AssumeRoleWithSAML`.
