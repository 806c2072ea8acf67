//! Percent-encoding for signatures and form-decoding for parameters.

use crate::error::RequestError;

/// How a space is written when percent-encoding for a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceEncoding {
    /// RFC 3986: `%20`. What every SDK core uses.
    Percent20,
    /// `+`, as Python's `quote_plus` does in the credentials library.
    Plus,
}

/// RFC 3986 percent-encoding of UTF-8 bytes: `A-Za-z0-9-_.~` literal, the rest `%XX` upper-case.
pub fn percent_encode(input: &str) -> String {
    percent_encode_with(input, SpaceEncoding::Percent20)
}

/// [`percent_encode`] with a choice of how spaces are written.
pub fn percent_encode_with(input: &str, space: SpaceEncoding) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if space == SpaceEncoding::Plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded` decoding of one key or value: `+` is a space, `%XX` a
/// byte, and the bytes must be UTF-8.
///
/// A `%` not followed by two hex digits is rejected rather than kept literally: no SDK sends
/// one, and guessing would let two different byte strings canonicalise alike.
/// Sorts encoded `name=value` pairs by name (then value) in byte order and joins them with
/// `&`: the canonical query of both signature versions.
pub fn sorted_query<N: AsRef<str> + Ord, V: AsRef<str> + Ord>(mut pairs: Vec<(N, V)>) -> String {
    pairs.sort();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name.as_ref());
        out.push('=');
        out.push_str(value.as_ref());
    }
    out
}

pub fn form_decode(input: &str) -> Result<String, RequestError> {
    if !input.bytes().any(|b| b == b'+' || b == b'%') {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(hex_value);
                let lo = bytes.next().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(RequestError::MalformedEncoding),
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| RequestError::InvalidUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("dev team*~"), "dev%20team%2A~");
        assert_eq!(percent_encode("a+b=c&d/e:f"), "a%2Bb%3Dc%26d%2Fe%3Af");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("%"), "%25");
    }

    #[test]
    fn plus_variant_differs_only_in_spaces() {
        assert_eq!(percent_encode_with("a b*", SpaceEncoding::Plus), "a+b%2A");
        assert_eq!(percent_encode_with("a+b", SpaceEncoding::Plus), "a%2Bb");
    }

    #[test]
    fn form_decode_handles_plus_and_percent() {
        assert_eq!(form_decode("dev+team%2A~").unwrap(), "dev team*~");
        assert_eq!(form_decode("Alice+Zhang").unwrap(), "Alice Zhang");
        assert_eq!(form_decode("%2B%2b").unwrap(), "++");
        assert_eq!(form_decode("%E4%BD%A0").unwrap(), "你");
        assert_eq!(form_decode("plain").unwrap(), "plain");
    }

    #[test]
    fn form_decode_rejects_malformed_input() {
        assert_eq!(form_decode("%"), Err(RequestError::MalformedEncoding));
        assert_eq!(form_decode("%2"), Err(RequestError::MalformedEncoding));
        assert_eq!(form_decode("%zz"), Err(RequestError::MalformedEncoding));
        assert_eq!(form_decode("%FF"), Err(RequestError::InvalidUtf8));
    }
}
