//! Uniform choices from the operating system's random source.

use zeroize::Zeroize;

/// The operating system's random source failed. Rare (a sandbox without `getrandom`, an
/// early-boot entropy pool); callers treat it as an internal error and never fall back to a
/// weaker source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

pub(crate) const DIGITS: &[u8] = b"0123456789";
pub(crate) const NONZERO_DIGITS: &[u8] = b"123456789";
pub(crate) const ALPHANUMERIC: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buf` with bytes from the OS.
pub(crate) fn os_fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// Fills `out` with characters drawn uniformly and independently from `alphabet`, using
/// bytes from `source`.
///
/// Rejection sampling: a byte is used only if it is below the largest multiple of the
/// alphabet size that fits in a byte, so `byte % len` has no bias towards the first
/// characters of the alphabet.
pub(crate) fn fill_from_alphabet(
    out: &mut [u8],
    alphabet: &[u8],
    source: &mut dyn FnMut(&mut [u8]) -> Result<(), RandomError>,
) -> Result<(), RandomError> {
    let n = alphabet.len();
    if n == 0 || n > 256 {
        return Err(RandomError(format!("alphabet of {n} symbols")));
    }
    // INVARIANT: 1 <= n <= 256, so `limit` is a positive multiple of n no larger than 256.
    let limit = 256 - 256 % n;
    let mut pool = [0u8; 64];
    let mut filled = 0;
    while filled < out.len() {
        source(&mut pool)?;
        for &byte in &pool {
            let byte = usize::from(byte);
            if byte >= limit {
                continue;
            }
            let Some(slot) = out.get_mut(filled) else {
                break;
            };
            *slot = alphabet.get(byte % n).copied().unwrap_or(b'0');
            filled += 1;
        }
    }
    // The pool may have held bytes that became secret characters.
    pool.zeroize();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn bytes_above_the_last_full_multiple_are_rejected() {
        // 256 % 10 == 6: bytes 250..=255 would favour the digits 0..=5.
        let mut calls = 0;
        let mut source = |buf: &mut [u8]| {
            calls += 1;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if calls == 1 { 250 + (i % 6) as u8 } else { 13 };
            }
            Ok(())
        };
        let mut out = [0u8; 5];
        fill_from_alphabet(&mut out, DIGITS, &mut source).unwrap();
        assert_eq!(&out, b"33333");
        assert_eq!(calls, 2, "the whole first pool was rejected");
    }

    #[test]
    fn every_symbol_is_reachable_and_none_is_favoured() {
        // Feed every byte value once per pool: each accepted symbol must appear equally
        // often, which is exactly the no-bias property.
        for alphabet in [DIGITS, NONZERO_DIGITS, ALPHANUMERIC] {
            let mut next = 0u8;
            let mut source = |buf: &mut [u8]| {
                for b in buf.iter_mut() {
                    *b = next;
                    next = next.wrapping_add(1);
                }
                Ok(())
            };
            let accepted_per_cycle = 256 - 256 % alphabet.len();
            let mut out = vec![0u8; accepted_per_cycle * 4];
            fill_from_alphabet(&mut out, alphabet, &mut source).unwrap();
            for &symbol in alphabet {
                let count = out.iter().filter(|&&c| c == symbol).count();
                assert_eq!(count, 4 * accepted_per_cycle / alphabet.len());
            }
        }
    }

    #[test]
    fn source_failure_is_reported() {
        let mut source = |_: &mut [u8]| Err(RandomError("no entropy".into()));
        let mut out = [0u8; 3];
        assert!(fill_from_alphabet(&mut out, DIGITS, &mut source).is_err());
    }

    #[test]
    fn os_source_works() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        os_fill(&mut a).unwrap();
        os_fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
