//! Signed SAML responses: signature verification and the checks STS makes on the assertion.
