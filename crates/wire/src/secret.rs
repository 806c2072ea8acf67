//! The AccessKey secret.

use zeroize::Zeroize;

/// An AccessKeySecret.
///
/// Zeroized on drop, printed as `[redacted]`, and deliberately without `PartialEq`: the only
/// comparison that should ever involve a secret is the constant-time one of two signatures.
///
/// ```compile_fail
/// let a = rampart_wire::Secret::new("x");
/// let b = rampart_wire::Secret::new("x");
/// let _ = a == b;
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret text, for signing. Do not log or store the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("testsecret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "testsecret");
    }
}
