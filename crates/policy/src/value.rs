//! Typed readings of condition values and request context values: numbers, dates, booleans and
//! IP networks. Both sides of a comparison go through the same readers, so a policy value and a
//! request value that look alike compare alike.

use std::net::IpAddr;

/// Reads a number as RAM writes them (always as JSON strings: `"10"`, `"-2.5"`).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    // `f64::from_str` also takes "inf", "NaN" and "1e999"; none is a number a policy means.
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads `true` / `false`, in any case (SDKs send `True`).
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Reads an ISO 8601 date or date-time as milliseconds since the Unix epoch, UTC.
///
/// Accepted: `2019-08-12`, `2019-08-12T17:00Z`, `2019-08-12T17:00:00Z`,
/// `2019-08-12T17:00:00.123Z`, offsets `+08:00` / `+0800` / `-05`, and a missing zone (read as
/// UTC, since RAM documents every date as UTC). A lone integer is read as epoch seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 12 {
        return s.parse::<i64>().ok().and_then(|v| v.checked_mul(1000));
    }
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut millis = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start {
                return None;
            }
            // Only the first three fractional digits matter at millisecond resolution.
            let frac = &b[start..end.min(start + 3)];
            let mut m = 0;
            for d in frac {
                m = m * 10 + i64::from(d - b'0');
            }
            for _ in frac.len()..3 {
                m *= 10;
            }
            millis = m;
            i = end;
        }
    }
    // 23:59:60 is a leap second some clocks write; 24:00 is not accepted.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', _, _] => digits(b, i + 4, 2)?,
                [_, _] => digits(b, i + 3, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = b.get(at..at + n)?;
    let mut v = 0i64;
    for d in slice {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(v)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IPv4 or IPv6 network: an address with its prefix length. A plain address is a /32 or
/// /128 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    /// IPv4 addresses are kept in the IPv4-mapped IPv6 range so both families compare in one
    /// 128-bit space; `v4` says which family the policy wrote.
    bits: u128,
    prefix: u8,
    v4: bool,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (bits, max, v4) = match ip {
            IpAddr::V4(v4) => (v4.to_ipv6_mapped().to_bits(), 32u8, true),
            IpAddr::V6(v6) => (v6.to_bits(), 128u8, false),
        };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        // Host bits written after the prefix (`10.1.2.3/8`) are ignored, as network tools do.
        let prefix128 = if v4 { prefix + 96 } else { prefix };
        Some(IpNet {
            bits: bits & mask(prefix128),
            prefix: prefix128,
            v4,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they are the
                // IPv4 client for policy purposes.
                Some(v4) => v4.to_ipv6_mapped().to_bits(),
                None => v6.to_bits(),
            },
        };
        bits & mask(self.prefix) == self.bits
    }

    pub fn is_v4(&self) -> bool {
        self.v4
    }

    /// The first address of the network.
    pub fn network_address(&self) -> Option<IpAddr> {
        let v6 = std::net::Ipv6Addr::from_bits(self.bits);
        if self.v4 {
            v6.to_ipv4_mapped().map(IpAddr::V4)
        } else {
            Some(IpAddr::V6(v6))
        }
    }

    /// The prefix length as written (0–32 for IPv4, 0–128 for IPv6).
    pub fn prefix_len(&self) -> u8 {
        if self.v4 {
            self.prefix - 96
        } else {
            self.prefix
        }
    }
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

/// Reads a request's source address, tolerating the forms proxies write (`[::1]`, a port).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    let t = t.trim_start_matches('[');
    t.split(']').next().and_then(|x| x.parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let z = parse_date("2019-08-12T17:00:00Z").unwrap();
        assert_eq!(z, 1_565_629_200_000);
        assert_eq!(parse_date("2019-08-12T17:00Z"), Some(z));
        assert_eq!(parse_date("2019-08-12T17:00:00"), Some(z));
        assert_eq!(parse_date("2019-08-13T01:00:00+08:00"), Some(z));
        assert_eq!(parse_date("2019-08-13T01:00:00+0800"), Some(z));
        assert_eq!(parse_date("2019-08-12T12:00:00-05"), Some(z));
        assert_eq!(parse_date("2019-08-12T17:00:00.5Z"), Some(z + 500));
        assert_eq!(parse_date("2019-08-12T17:00:00.123456Z"), Some(z + 123));
        assert_eq!(parse_date("2019-08-12"), Some(1_565_568_000_000));
        assert_eq!(parse_date("1565629200"), Some(z));
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400_000));
        for bad in [
            "",
            "2019-13-01",
            "2019-02-30",
            "2019-08-12T25:00:00Z",
            "2019-08-12T17:00:00ZZ",
            "2019-08-12X17:00",
            "19-08-12",
            "2019-08-12T17:00:00.Z",
            "2001-02-29",
            "yesterday",
            "2019-08-12T17:00:00+24:00",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn networks() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.255.1.2".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.1.1".parse().unwrap()));
        let h = IpNet::parse("192.168.1.7").unwrap();
        assert!(h.contains("192.168.1.7".parse().unwrap()));
        assert!(!h.contains("192.168.1.8".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("2001:db8::1".parse().unwrap()));
        assert!(IpNet::parse("::/0")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert!(IpNet::parse("10.1.2.3/8")
            .unwrap()
            .contains("10.9.9.9".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse_ip("[::1]:443"), Some("::1".parse().unwrap()));
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        for bad in ["", "inf", "NaN", "1e999", "ten", "0x10"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("FALSE"), Some(false));
        assert_eq!(parse_bool("1"), None);
    }
}
