//! OpenID Connect ID-token verification for `AssumeRoleWithOIDC`.
