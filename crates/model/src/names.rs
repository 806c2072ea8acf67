//! The rules for names and free-text values that RAM accepts (spec §4.1).
//!
//! A failed check says which parameter failed and how (`InvalidChars`, `Length` or
//! `Format`), which is all the API layer needs to answer
//! `InvalidParameter.<Param>.<Kind>` with Alibaba's message. Lengths count characters.
//! When a value is both too long and badly formed, the length is reported.

use std::fmt;

/// A value RAM constrains, named after its request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// 1–64 of `A-Z a-z 0-9 . _ -`.
    UserName,
    /// 1–64 of `A-Z a-z 0-9 . _ -`.
    GroupName,
    /// 1–64 of `A-Z a-z 0-9 . -` (no underscore).
    RoleName,
    /// 1–128 of `A-Z a-z 0-9 -`.
    PolicyName,
    /// 1–64 of `A-Z a-z 0-9 . -`.
    VirtualMFADeviceName,
    /// 1–128 characters, no control characters.
    DisplayName,
    /// At most 128 characters; no control characters but tab and line breaks.
    Comments,
    /// At most 1024 characters; no control characters but tab and line breaks.
    Description,
    /// `<country code>-<number>`: 1–4 digits, `-`, 4–20 digits (e.g. `86-18600008888`).
    MobilePhone,
    /// An ASCII e-mail address of at most 254 characters.
    Email,
    /// 3–32 of `a-z 0-9 -`, not starting or ending with `-`, no `--`.
    AccountAlias,
    /// 1–128 of `A-Z a-z 0-9 . _ -`, not starting or ending with `.`, `_` or `-`.
    OIDCProviderName,
    /// The same rule as [`Field::OIDCProviderName`].
    SAMLProviderName,
    /// An identity provider's description: at most 256 characters, no control characters but
    /// tab and line breaks.
    ProviderDescription,
    /// `https://host[:port][/path]`, at most 255 characters, without query (`?`), fragment
    /// (`#`) or user information (`@`).
    IssuerUrl,
    /// A SHA-1 thumbprint: exactly 40 hexadecimal digits (either case).
    Fingerprint,
    /// 1–128 of `A-Z a-z 0-9 . - _ : /`, starting with a letter or digit.
    ClientId,
}

impl Field {
    pub const ALL: [Field; 17] = [
        Field::UserName,
        Field::GroupName,
        Field::RoleName,
        Field::PolicyName,
        Field::VirtualMFADeviceName,
        Field::DisplayName,
        Field::Comments,
        Field::Description,
        Field::MobilePhone,
        Field::Email,
        Field::AccountAlias,
        Field::OIDCProviderName,
        Field::SAMLProviderName,
        Field::ProviderDescription,
        Field::IssuerUrl,
        Field::Fingerprint,
        Field::ClientId,
    ];

    /// The request parameter this field is usually sent as.
    pub fn param(self) -> &'static str {
        match self {
            Field::UserName => "UserName",
            Field::GroupName => "GroupName",
            Field::RoleName => "RoleName",
            Field::PolicyName => "PolicyName",
            Field::VirtualMFADeviceName => "VirtualMFADeviceName",
            Field::DisplayName => "DisplayName",
            Field::Comments => "Comments",
            Field::Description => "Description",
            Field::MobilePhone => "MobilePhone",
            Field::Email => "Email",
            Field::AccountAlias => "AccountAlias",
            Field::OIDCProviderName => "OIDCProviderName",
            Field::SAMLProviderName => "SAMLProviderName",
            Field::ProviderDescription => "Description",
            Field::IssuerUrl => "IssuerUrl",
            Field::Fingerprint => "Fingerprint",
            Field::ClientId => "ClientId",
        }
    }

    /// Checks `value`; an error names [`Field::param`].
    pub fn check(self, value: &str) -> Result<(), NameError> {
        self.check_as(self.param(), value)
    }

    /// Checks `value` sent as another parameter, e.g. `Field::UserName` as `NewUserName`.
    pub fn check_as(self, param: &'static str, value: &str) -> Result<(), NameError> {
        let fail = |kind| Err(NameError { param, kind });
        let len = value.chars().count();
        let (min, max) = self.length_limits();
        if len < min || len > max {
            return fail(NameErrorKind::Length);
        }
        let ok = match self {
            Field::UserName | Field::GroupName => value.bytes().all(|b| is_name_byte(b, b"._-")),
            Field::RoleName | Field::VirtualMFADeviceName => {
                value.bytes().all(|b| is_name_byte(b, b".-"))
            }
            Field::PolicyName => value.bytes().all(|b| is_name_byte(b, b"-")),
            Field::DisplayName => !value.chars().any(char::is_control),
            Field::Comments | Field::Description => !value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
            Field::MobilePhone => is_mobile_phone(value),
            Field::Email => is_email(value),
            Field::AccountAlias => is_account_alias(value),
            Field::OIDCProviderName | Field::SAMLProviderName => is_provider_name(value),
            Field::ProviderDescription => !value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
            Field::IssuerUrl => is_issuer_url(value),
            Field::Fingerprint => value.bytes().all(|b| b.is_ascii_hexdigit()),
            Field::ClientId => {
                value.bytes().all(|b| is_name_byte(b, b".-_:/"))
                    && value
                        .bytes()
                        .next()
                        .is_some_and(|b| b.is_ascii_alphanumeric())
            }
        };
        if ok {
            Ok(())
        } else {
            fail(self.shape_error())
        }
    }

    fn length_limits(self) -> (usize, usize) {
        match self {
            Field::UserName | Field::GroupName | Field::RoleName => (1, 64),
            Field::VirtualMFADeviceName => (1, 64),
            Field::PolicyName | Field::DisplayName => (1, 128),
            Field::Comments => (0, 128),
            Field::Description => (0, 1024),
            // Their own format check bounds them; the generous cap only stops huge input
            // early. RAM documents no `.Length` code for either.
            Field::MobilePhone => (0, 64),
            Field::Email => (0, 254),
            Field::AccountAlias => (3, 32),
            Field::OIDCProviderName | Field::SAMLProviderName | Field::ClientId => (1, 128),
            Field::ProviderDescription => (0, 256),
            Field::IssuerUrl => (1, 255),
            Field::Fingerprint => (40, 40),
        }
    }

    /// What RAM calls a value of the right length but the wrong shape.
    fn shape_error(self) -> NameErrorKind {
        match self {
            Field::MobilePhone | Field::Email | Field::AccountAlias | Field::IssuerUrl => {
                NameErrorKind::Format
            }
            _ => NameErrorKind::InvalidChars,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.param())
    }
}

/// How a value failed its rule: the last segment of RAM's `InvalidParameter.<Param>.<Kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameErrorKind {
    InvalidChars,
    Length,
    Format,
}

impl NameErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NameErrorKind::InvalidChars => "InvalidChars",
            NameErrorKind::Length => "Length",
            NameErrorKind::Format => "Format",
        }
    }
}

/// A value that breaks its field's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    param: &'static str,
    kind: NameErrorKind,
}

impl NameError {
    /// The request parameter, e.g. `UserName` or `NewUserName`.
    pub fn param(&self) -> &'static str {
        self.param
    }

    pub fn kind(&self) -> NameErrorKind {
        self.kind
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            NameErrorKind::InvalidChars => {
                write!(f, "parameter {:?} contains invalid characters", self.param)
            }
            NameErrorKind::Length => {
                write!(
                    f,
                    "parameter {:?} is not within its length limits",
                    self.param
                )
            }
            NameErrorKind::Format => write!(f, "parameter {:?} is not well formed", self.param),
        }
    }
}

impl std::error::Error for NameError {}

fn is_name_byte(b: u8, extra: &[u8]) -> bool {
    b.is_ascii_alphanumeric() || extra.contains(&b)
}

fn is_mobile_phone(value: &str) -> bool {
    let Some((country, number)) = value.split_once('-') else {
        return false;
    };
    let digits =
        |s: &str, min, max| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    digits(country, 1, 4) && digits(number, 4, 20)
}

/// A pragmatic subset of RFC 5321 addresses: dot-atom local part, DNS host name with an
/// alphabetic top-level label. Quoted local parts and address literals are refused.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    const ATEXT: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    let local_ok = (1..=64).contains(&local.len())
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(|b| is_name_byte(b, ATEXT)));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = (1..=253).contains(&domain.len())
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| is_name_byte(b, b"-"))
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    local_ok && domain_ok
}

fn is_account_alias(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--")
}

fn is_provider_name(value: &str) -> bool {
    let special = |b: u8| matches!(b, b'.' | b'_' | b'-');
    value.bytes().all(|b| is_name_byte(b, b"._-"))
        && !value.bytes().next().is_some_and(special)
        && !value.bytes().last().is_some_and(special)
}

/// An `https` URL with a host, and nothing a token's `iss` could not equal byte for byte:
/// no query, fragment, user information, whitespace or control characters.
fn is_issuer_url(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '@' | '\\'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use NameErrorKind::{Format, InvalidChars, Length};

    /// (field, value, expected): `None` means accepted.
    #[rustfmt::skip]
    const CASES: &[(Field, &str, Option<NameErrorKind>)] = &[
        (Field::UserName, "alice", None),
        (Field::UserName, "a", None),
        (Field::UserName, "Alice.Smith_2-x", None),
        (Field::UserName, "", Some(Length)),
        (Field::UserName, "alice smith", Some(InvalidChars)),
        (Field::UserName, "alice@example", Some(InvalidChars)),
        (Field::UserName, "álice", Some(InvalidChars)),
        (Field::UserName, "alice\0", Some(InvalidChars)),
        (Field::GroupName, "dev_ops.team-1", None),
        (Field::GroupName, "dev/ops", Some(InvalidChars)),
        (Field::GroupName, "", Some(Length)),
        (Field::RoleName, "ecs-admin.role", None),
        (Field::RoleName, "ecs_admin", Some(InvalidChars)),
        (Field::RoleName, "", Some(Length)),
        (Field::PolicyName, "ReadOnly-OSS-1", None),
        (Field::PolicyName, "ReadOnly.OSS", Some(InvalidChars)),
        (Field::PolicyName, "ReadOnly_OSS", Some(InvalidChars)),
        (Field::PolicyName, "", Some(Length)),
        (Field::VirtualMFADeviceName, "alice-phone.1", None),
        (Field::VirtualMFADeviceName, "alice_phone", Some(InvalidChars)),
        (Field::DisplayName, "Alice Smith (运维)", None),
        (Field::DisplayName, "", Some(Length)),
        (Field::DisplayName, "tab\there", Some(InvalidChars)),
        (Field::Comments, "", None),
        (Field::Comments, "line one\nline two\ttabbed\r\n", None),
        (Field::Comments, "nul\0byte", Some(InvalidChars)),
        (Field::Comments, "bell\u{7}", Some(InvalidChars)),
        (Field::Description, "", None),
        (Field::Description, "Lets ECS assume this role.", None),
        (Field::Description, "esc\u{1b}[31m", Some(InvalidChars)),
        (Field::MobilePhone, "86-18600008888", None),
        (Field::MobilePhone, "1-5551234", None),
        (Field::MobilePhone, "18600008888", Some(Format)),
        (Field::MobilePhone, "+86-18600008888", Some(Format)),
        (Field::MobilePhone, "86-186-0000-8888", Some(Format)),
        (Field::MobilePhone, "86-123", Some(Format)),
        (Field::MobilePhone, "", Some(Format)),
        (Field::Email, "alice@example.com", None),
        (Field::Email, "alice.smith+ram@mail.example.co.uk", None),
        (Field::Email, "o'neil@example.io", None),
        (Field::Email, "alice", Some(Format)),
        (Field::Email, "alice@", Some(Format)),
        (Field::Email, "@example.com", Some(Format)),
        (Field::Email, "alice@example", Some(Format)),
        (Field::Email, "alice@@example.com", Some(Format)),
        (Field::Email, "alice@exa_mple.com", Some(Format)),
        (Field::Email, "alice@-example.com", Some(Format)),
        (Field::Email, "alice@example.c0m", Some(Format)),
        (Field::Email, "alice..smith@example.com", Some(Format)),
        (Field::Email, ".alice@example.com", Some(Format)),
        (Field::Email, "alice smith@example.com", Some(Format)),
        (Field::Email, "", Some(Format)),
        (Field::AccountAlias, "my-company-1", None),
        (Field::AccountAlias, "abc", None),
        (Field::AccountAlias, "ab", Some(Length)),
        (Field::AccountAlias, "My-Company", Some(Format)),
        (Field::AccountAlias, "-company", Some(Format)),
        (Field::AccountAlias, "company-", Some(Format)),
        (Field::AccountAlias, "my--company", Some(Format)),
        (Field::AccountAlias, "my_company", Some(Format)),
        (Field::OIDCProviderName, "Test-OIDC_provider.1", None),
        (Field::OIDCProviderName, "a", None),
        (Field::OIDCProviderName, "-leading", Some(InvalidChars)),
        (Field::OIDCProviderName, "trailing.", Some(InvalidChars)),
        (Field::OIDCProviderName, "has space", Some(InvalidChars)),
        (Field::OIDCProviderName, "", Some(Length)),
        (Field::SAMLProviderName, "okta-prod", None),
        (Field::SAMLProviderName, "_okta", Some(InvalidChars)),
        (Field::ProviderDescription, "", None),
        (Field::ProviderDescription, "Okta for the ops team", None),
        (Field::ProviderDescription, "nul\0", Some(InvalidChars)),
        (Field::IssuerUrl, "https://dev-123.okta.com", None),
        (Field::IssuerUrl, "https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/c1234", None),
        (Field::IssuerUrl, "https://issuer.example.com:8443/tenant/v2.0/", None),
        (Field::IssuerUrl, "http://issuer.example.com", Some(Format)),
        (Field::IssuerUrl, "HTTPS://issuer.example.com", Some(Format)),
        (Field::IssuerUrl, "https://", Some(Format)),
        (Field::IssuerUrl, "https:///path", Some(Format)),
        (Field::IssuerUrl, "https://issuer.example.com/?tenant=1", Some(Format)),
        (Field::IssuerUrl, "https://issuer.example.com/#frag", Some(Format)),
        (Field::IssuerUrl, "https://user@issuer.example.com", Some(Format)),
        (Field::IssuerUrl, "https://issuer.example.com/a b", Some(Format)),
        (Field::IssuerUrl, "", Some(Length)),
        (Field::Fingerprint, "902ef2deeb3c5b13ea4c3d5193629309e231ae55", None),
        (Field::Fingerprint, "902EF2DEEB3C5B13EA4C3D5193629309E231AE55", None),
        (Field::Fingerprint, "902ef2deeb3c5b13ea4c3d5193629309e231ae5", Some(Length)),
        (Field::Fingerprint, "902ef2deeb3c5b13ea4c3d5193629309e231ae5g", Some(InvalidChars)),
        (Field::ClientId, "sts.aliyuncs.com", None),
        (Field::ClientId, "api://default:x_y/z-1", None),
        (Field::ClientId, "/leading", Some(InvalidChars)),
        (Field::ClientId, "a,b", Some(InvalidChars)),
        (Field::ClientId, "", Some(Length)),
    ];

    #[test]
    fn table() {
        for &(field, value, expected) in CASES {
            let got = field.check(value).err().map(|e| e.kind());
            assert_eq!(got, expected, "{field} {value:?}");
            if let Err(e) = field.check(value) {
                assert_eq!(e.param(), field.param());
            }
        }
    }

    #[test]
    fn every_field_has_cases() {
        for field in Field::ALL {
            assert!(
                CASES.iter().any(|c| c.0 == field && c.2.is_none()),
                "{field}"
            );
            assert!(
                CASES.iter().any(|c| c.0 == field && c.2.is_some()),
                "{field}"
            );
        }
    }

    #[test]
    fn length_limits_are_exact() {
        #[rustfmt::skip]
        let limits = [
            (Field::UserName, 'a', 1, 64),
            (Field::GroupName, 'a', 1, 64),
            (Field::RoleName, 'a', 1, 64),
            (Field::VirtualMFADeviceName, 'a', 1, 64),
            (Field::PolicyName, 'a', 1, 128),
            (Field::DisplayName, '名', 1, 128),
            (Field::Comments, '名', 0, 128),
            (Field::Description, 'é', 0, 1024),
            (Field::AccountAlias, 'a', 3, 32),
            (Field::OIDCProviderName, 'a', 1, 128),
            (Field::SAMLProviderName, 'a', 1, 128),
            (Field::ClientId, 'a', 1, 128),
            (Field::ProviderDescription, 'é', 0, 256),
        ];
        for (field, c, min, max) in limits {
            let of = |n: usize| c.to_string().repeat(n);
            assert!(field.check(&of(min)).is_ok(), "{field} min");
            assert!(field.check(&of(max)).is_ok(), "{field} max");
            assert_eq!(
                field.check(&of(max + 1)).unwrap_err().kind(),
                Length,
                "{field}"
            );
            if min > 0 {
                assert_eq!(
                    field.check(&of(min - 1)).unwrap_err().kind(),
                    Length,
                    "{field}"
                );
            }
        }
        let long_email = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Field::Email.check(&long_email).unwrap_err().kind(), Format);
    }

    #[test]
    fn length_is_reported_before_characters() {
        let long_and_bad = " ".repeat(65);
        assert_eq!(
            Field::UserName.check(&long_and_bad).unwrap_err().kind(),
            Length
        );
    }

    #[test]
    fn the_error_names_the_parameter_as_sent() {
        let e = Field::UserName
            .check_as("NewUserName", "bad name")
            .unwrap_err();
        assert_eq!(e.param(), "NewUserName");
        assert_eq!(e.kind(), InvalidChars);
        assert_eq!(e.kind().as_str(), "InvalidChars");
        assert_eq!(
            e.to_string(),
            "parameter \"NewUserName\" contains invalid characters"
        );
        let e = Field::Email.check("nope").unwrap_err();
        assert_eq!(e.to_string(), "parameter \"Email\" is not well formed");
        let e = Field::UserName.check("").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter \"UserName\" is not within its length limits"
        );
    }
}
