//! The raw HTTP request as the server hands it over, and its decoding into parameters.

use std::collections::HashSet;

use crate::encode::form_decode;
use crate::error::RequestError;
use crate::params::Params;

/// An HTTP request reduced to what the wire protocol looks at.
///
/// The server fills it from its HTTP stack. `headers` keeps every occurrence in arrival order;
/// names should be lower-case (see [`RawRequest::with_header`]) but lookups here ignore case
/// anyway, so a forgotten `to_lowercase` cannot turn into a signature bypass. Under HTTP/2 the
/// server must copy `:authority` into `host`, since V3 signs `host`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequest {
    /// `GET`, `POST`, ...: signed as-is.
    pub method: String,
    /// The path without the query, `/` for every RPC call.
    pub path: String,
    /// The raw query string, without the leading `?`, still percent-encoded.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A request without headers or body; `query` is the raw string after `?`.
    pub fn new(method: &str, path: &str, query: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header, lower-casing its name.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of a header, names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// Every value of a header in arrival order.
    pub fn header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of `content-type`, lower-cased, without parameters such as `charset`.
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let media = value.split(';').next().unwrap_or(value).trim();
        Some(media.to_ascii_lowercase())
    }

    fn has_form_body(&self) -> bool {
        self.content_type().as_deref() == Some("application/x-www-form-urlencoded")
    }
}

/// Bounds on what [`decode_params`] accepts, so hostile input cannot make us allocate freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Parameters in query and body together.
    pub max_params: usize,
    /// Bytes of one decoded parameter name.
    pub max_name_len: usize,
    /// Bytes of one decoded value.
    pub max_value_len: usize,
}

impl Default for Limits {
    /// Generous enough for a SAML assertion (~100 KB) in the query, which the SDKs do send.
    fn default() -> Self {
        Self {
            max_params: 128,
            max_name_len: 256,
            max_value_len: 256 * 1024,
        }
    }
}

/// Form-decodes the query and, for `application/x-www-form-urlencoded` requests, the body into
/// one ordered parameter list (query first). Any name given twice, in either place, is an error:
/// the signature covers every parameter, and picking one of two values would sign one thing and
/// execute another.
pub fn decode_params(raw: &RawRequest, limits: &Limits) -> Result<Params, RequestError> {
    let mut seen = HashSet::new();
    let mut count = 0usize;
    let query = decode_form(&raw.query, limits, &mut seen, &mut count)?;
    let body = if raw.has_form_body() {
        let text = std::str::from_utf8(&raw.body).map_err(|_| RequestError::InvalidUtf8)?;
        decode_form(text, limits, &mut seen, &mut count)?
    } else {
        Vec::new()
    };
    Ok(Params::from_parts(query, body))
}

fn decode_form(
    text: &str,
    limits: &Limits,
    seen: &mut HashSet<String>,
    count: &mut usize,
) -> Result<Vec<(String, String)>, RequestError> {
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        *count += 1;
        if *count > limits.max_params {
            return Err(RequestError::TooManyParameters {
                max: limits.max_params,
            });
        }
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        // Decoding shrinks text at most threefold (`%XX` → one byte), so these cheap checks on
        // the encoded length bound the allocations below.
        if raw_name.len() / 3 > limits.max_name_len {
            return Err(RequestError::ParameterNameTooLong {
                max: limits.max_name_len,
            });
        }
        let name = form_decode(raw_name)?;
        if name.is_empty() {
            return Err(RequestError::EmptyParameterName);
        }
        if name.len() > limits.max_name_len {
            return Err(RequestError::ParameterNameTooLong {
                max: limits.max_name_len,
            });
        }
        if raw_value.len() / 3 > limits.max_value_len {
            return Err(RequestError::ParameterValueTooLong {
                name,
                max: limits.max_value_len,
            });
        }
        let value = form_decode(raw_value)?;
        if value.len() > limits.max_value_len {
            return Err(RequestError::ParameterValueTooLong {
                name,
                max: limits.max_value_len,
            });
        }
        if !seen.insert(name.clone()) {
            return Err(RequestError::DuplicateParameter { name });
        }
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn pairs(params: &Params) -> Vec<(&str, &str)> {
        params.iter().collect()
    }

    #[test]
    fn query_and_form_body_merge_in_order() {
        let raw = RawRequest::new("POST", "/", "Action=CreateUser&UserName=alice")
            .with_header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .with_body("DisplayName=Alice+Zhang&Comments=a%26b");
        let params = decode_params(&raw, &Limits::default()).unwrap();
        assert_eq!(
            pairs(&params),
            [
                ("Action", "CreateUser"),
                ("UserName", "alice"),
                ("DisplayName", "Alice Zhang"),
                ("Comments", "a&b"),
            ]
        );
        assert_eq!(params.query().len(), 2);
    }

    #[test]
    fn non_form_bodies_are_not_parameters() {
        let raw = RawRequest::new("POST", "/", "a=1")
            .with_header("content-type", "application/json")
            .with_body("b=2");
        let params = decode_params(&raw, &Limits::default()).unwrap();
        assert_eq!(pairs(&params), [("a", "1")]);
    }

    #[test]
    fn empty_segments_and_valueless_names() {
        let raw = RawRequest::new("GET", "/", "&a&&b=&c=3&");
        let params = decode_params(&raw, &Limits::default()).unwrap();
        assert_eq!(pairs(&params), [("a", ""), ("b", ""), ("c", "3")]);
    }

    #[test]
    fn duplicates_are_rejected_within_and_across_query_and_body() {
        let raw = RawRequest::new("GET", "/", "UserName=a&UserName=b");
        assert_eq!(
            decode_params(&raw, &Limits::default()),
            Err(RequestError::DuplicateParameter {
                name: "UserName".into()
            })
        );
        // The same name spelled differently on the wire is still the same parameter.
        let raw = RawRequest::new("POST", "/", "User%4Eame=a")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("UserName=b");
        assert_eq!(
            decode_params(&raw, &Limits::default()),
            Err(RequestError::DuplicateParameter {
                name: "UserName".into()
            })
        );
        let err = crate::ApiError::from(RequestError::DuplicateParameter {
            name: "UserName".into(),
        });
        assert_eq!(err.code(), "InvalidParameter");
        assert_eq!(err.status(), 400);
        assert!(err.message().contains("UserName"));
    }

    #[test]
    fn size_limits_are_enforced() {
        let limits = Limits {
            max_params: 2,
            max_name_len: 4,
            max_value_len: 5,
        };
        let ok = RawRequest::new("GET", "/", "a=12345&bcde=x");
        assert!(decode_params(&ok, &limits).is_ok());

        let too_many = RawRequest::new("GET", "/", "a=1&b=2&c=3");
        assert_eq!(
            decode_params(&too_many, &limits),
            Err(RequestError::TooManyParameters { max: 2 })
        );
        let too_many_with_body = RawRequest::new("POST", "/", "a=1&b=2")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("c=3");
        assert_eq!(
            decode_params(&too_many_with_body, &limits),
            Err(RequestError::TooManyParameters { max: 2 })
        );
        let long_name = RawRequest::new("GET", "/", "abcde=1");
        assert_eq!(
            decode_params(&long_name, &limits),
            Err(RequestError::ParameterNameTooLong { max: 4 })
        );
        // The limit applies to the decoded value: `%41` is one byte.
        let encoded_ok = RawRequest::new("GET", "/", "a=%41%41%41%41%41");
        assert!(decode_params(&encoded_ok, &limits).is_ok());
        let long_value = RawRequest::new("GET", "/", "a=123456");
        assert_eq!(
            decode_params(&long_value, &limits),
            Err(RequestError::ParameterValueTooLong {
                name: "a".into(),
                max: 5
            })
        );
        let huge_encoded = RawRequest::new("GET", "/", &format!("a={}", "%41".repeat(100)));
        assert!(matches!(
            decode_params(&huge_encoded, &limits),
            Err(RequestError::ParameterValueTooLong { .. })
        ));
    }

    #[test]
    fn malformed_input_is_rejected() {
        for query in ["a=%zz", "=v", "a=%C3%28"] {
            let raw = RawRequest::new("GET", "/", query);
            assert!(decode_params(&raw, &Limits::default()).is_err(), "{query}");
        }
        let raw = RawRequest::new("POST", "/", "")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(vec![b'a', b'=', 0xff]);
        assert_eq!(
            decode_params(&raw, &Limits::default()),
            Err(RequestError::InvalidUtf8)
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        let raw = RawRequest {
            headers: vec![("X-Acs-Date".into(), "d".into())],
            ..RawRequest::default()
        };
        assert_eq!(raw.header("x-acs-date"), Some("d"));
    }
}
