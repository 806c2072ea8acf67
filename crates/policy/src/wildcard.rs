//! Wildcard patterns: `*` matches any run of characters (including none), `?` exactly one.
//!
//! A pattern is split at its stars into fixed-width segments. The first segment is anchored at
//! the start, the last at the end, and each middle segment is placed at its leftmost occurrence.
//! Because segments have a fixed width, the leftmost placement is always optimal, so matching
//! never backtracks: literal segments are found with `memchr::memmem` (linear time), and a
//! segment containing `?` costs at most `|text| × |segment|`. No input can make it exponential.

use compact_str::CompactString;
use memchr::memmem::Finder;

/// One unit of a segment: a literal character, or `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Lit(char),
    Any,
}

#[derive(Clone, Debug)]
struct Segment {
    units: Box<[Unit]>,
    /// Set when the segment has no `?` and is pure ASCII: then it is searched as bytes.
    finder: Option<Finder<'static>>,
}

impl Segment {
    fn new(units: Vec<Unit>) -> Self {
        let literal: Option<Vec<u8>> = units
            .iter()
            .map(|u| match u {
                Unit::Lit(c) if c.is_ascii() => Some(*c as u8),
                _ => None,
            })
            .collect();
        Segment {
            finder: literal.map(|bytes| Finder::new(&bytes).into_owned()),
            units: units.into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        self.units.len()
    }
}

#[derive(Clone, Debug)]
enum Shape {
    /// `*` (or `**`…): everything matches.
    Any,
    // The literals are `CompactString`s: up to 24 bytes (most action prefixes and ARN fields)
    // sit inline in the pattern, so matching does not chase a pointer per pattern.
    /// No wildcard at all.
    Exact(CompactString),
    /// `literal*`: the commonest action pattern (`ecs:Describe*`).
    Prefix(CompactString),
    /// `*literal`.
    Suffix(CompactString),
    /// `*literal*` (`ecs:*Disk*` after the service is matched): a substring test. UTF-8 is
    /// self-synchronising, so a byte search finds exactly the character matches.
    // Boxed: a `Finder` is some 300 bytes, and every pattern would pay for it inline.
    Contains(CompactString, Box<Finder<'static>>),
    General {
        /// Segments between stars; empty segments are dropped.
        segments: Box<[Segment]>,
        anchored_start: bool,
        anchored_end: bool,
        /// Sum of segment widths: a cheap early rejection.
        min_len: usize,
    },
}

/// A compiled wildcard pattern. Matching is case-sensitive; callers that want a
/// case-insensitive match lower-case both sides first (see [`Pattern::new_ignore_case`]).
#[derive(Clone, Debug)]
pub struct Pattern {
    source: Box<str>,
    shape: Shape,
}

impl Pattern {
    pub fn new(source: &str) -> Self {
        let shape = Self::shape_of(source);
        Pattern {
            source: source.into(),
            shape,
        }
    }

    /// Compiles the lower-cased pattern; match it against lower-cased text.
    pub fn new_ignore_case(source: &str) -> Self {
        Self::new(&source.to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match_all(&self) -> bool {
        matches!(self.shape, Shape::Any)
    }

    pub fn has_wildcard(&self) -> bool {
        !matches!(self.shape, Shape::Exact(_))
    }

    fn shape_of(source: &str) -> Shape {
        if !source.contains(['*', '?']) {
            return Shape::Exact(CompactString::new(source));
        }
        if source.chars().all(|c| c == '*') {
            return Shape::Any;
        }
        if let Some(prefix) = source.strip_suffix('*') {
            if !prefix.contains(['*', '?']) {
                return Shape::Prefix(CompactString::new(prefix));
            }
        }
        if let Some(suffix) = source.strip_prefix('*') {
            if !suffix.contains(['*', '?']) {
                return Shape::Suffix(CompactString::new(suffix));
            }
            if let Some(middle) = suffix.strip_suffix('*') {
                if !middle.is_empty() && !middle.contains(['*', '?']) {
                    return Shape::Contains(
                        CompactString::new(middle),
                        Box::new(Finder::new(middle.as_bytes()).into_owned()),
                    );
                }
            }
        }
        let mut segments = Vec::new();
        for part in source.split('*') {
            if part.is_empty() {
                continue;
            }
            let units = part
                .chars()
                .map(|c| if c == '?' { Unit::Any } else { Unit::Lit(c) })
                .collect();
            segments.push(Segment::new(units));
        }
        let min_len = segments.iter().map(Segment::len).sum();
        Shape::General {
            segments: segments.into_boxed_slice(),
            anchored_start: !source.starts_with('*'),
            anchored_end: !source.ends_with('*'),
            min_len,
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(s) => bytes_eq(s.as_bytes(), text.as_bytes()),
            Shape::Prefix(p) => text
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| bytes_eq(p.as_bytes(), head)),
            Shape::Suffix(p) => text
                .len()
                .checked_sub(p.len())
                .and_then(|at| text.as_bytes().get(at..))
                .is_some_and(|tail| bytes_eq(p.as_bytes(), tail)),
            Shape::Contains(needle, finder) => contains(text.as_bytes(), needle.as_bytes(), finder),
            Shape::General {
                segments,
                anchored_start,
                anchored_end,
                min_len,
            } => {
                if text.is_ascii() {
                    if text.len() < *min_len {
                        return false;
                    }
                    match_general(
                        segments,
                        *anchored_start,
                        *anchored_end,
                        Text::Bytes(text.as_bytes()),
                    )
                } else {
                    let chars: Vec<char> = text.chars().collect();
                    if chars.len() < *min_len {
                        return false;
                    }
                    match_general(
                        segments,
                        *anchored_start,
                        *anchored_end,
                        Text::Chars(&chars),
                    )
                }
            }
        }
    }
}

/// Equality of short byte strings without a call into libc: names, ARN fields and prefixes
/// are a few dozen bytes, and `memcmp` calls were a fifth of a decision's time.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            return false;
        };
        if u64::from_ne_bytes(x) != u64::from_ne_bytes(y) {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// Substring search. Names and ARNs are short, and for them a first-byte scan beats setting up
/// a vectorised search; long texts get `memmem`, which stays linear.
fn contains(hay: &[u8], needle: &[u8], finder: &Finder<'_>) -> bool {
    if hay.len() >= 64 {
        return finder.find(hay).is_some();
    }
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    (0..=last_start)
        .any(|i| hay.get(i) == Some(&first) && hay.get(i + 1..i + needle.len()) == Some(rest))
}

/// The text in character units: bytes when it is ASCII (the common case), else chars.
#[derive(Clone, Copy)]
enum Text<'a> {
    Bytes(&'a [u8]),
    Chars(&'a [char]),
}

impl Text<'_> {
    fn len(&self) -> usize {
        match self {
            Text::Bytes(b) => b.len(),
            Text::Chars(c) => c.len(),
        }
    }

    fn unit_eq(&self, i: usize, u: Unit) -> bool {
        match u {
            Unit::Any => i < self.len(),
            Unit::Lit(c) => match self {
                Text::Bytes(b) => b.get(i).is_some_and(|&b| b as u32 == c as u32),
                Text::Chars(cs) => cs.get(i) == Some(&c),
            },
        }
    }

    fn seg_at(&self, seg: &Segment, at: usize) -> bool {
        at + seg.len() <= self.len()
            && seg
                .units
                .iter()
                .enumerate()
                .all(|(k, u)| self.unit_eq(at + k, *u))
    }

    /// Leftmost position `>= from` where `seg` matches.
    fn find(&self, seg: &Segment, from: usize) -> Option<usize> {
        if let (Text::Bytes(b), Some(f)) = (self, &seg.finder) {
            return f.find(b.get(from..)?).map(|p| p + from);
        }
        let last = self.len().checked_sub(seg.len())?;
        (from..=last).find(|&at| self.seg_at(seg, at))
    }
}

fn match_general(
    segments: &[Segment],
    anchored_start: bool,
    anchored_end: bool,
    text: Text<'_>,
) -> bool {
    let mut segs = segments;
    let mut lo = 0usize;
    let mut hi = text.len();
    if anchored_start {
        let Some((first, rest)) = segs.split_first() else {
            return hi == 0;
        };
        if !text.seg_at(first, 0) {
            return false;
        }
        lo = first.len();
        segs = rest;
        if anchored_end && segs.is_empty() {
            // Anchored at both ends with one segment: the pattern had `?` but no star.
            return lo == hi;
        }
    }
    if anchored_end {
        if let Some((last, rest)) = segs.split_last() {
            let Some(at) = hi.checked_sub(last.len()) else {
                return false;
            };
            if at < lo || !text.seg_at(last, at) {
                return false;
            }
            hi = at;
            segs = rest;
        }
    }
    for seg in segs {
        match text.find(seg, lo) {
            Some(at) if at + seg.len() <= hi => lo = at + seg.len(),
            _ => return false,
        }
    }
    lo <= hi
}

/// The obvious exponential-time matcher, kept as the reference the property tests compare
/// against.
#[cfg(test)]
pub(crate) fn naive_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("?", "", false),
            ("?", "a", true),
            ("a?c", "abcd", false),
            ("?", "ab", false),
            ("?", "é", true),
            ("??", "é", false),
            ("a*", "a", true),
            ("*a", "a", true),
            ("a*b", "ab", true),
            ("a*b", "a", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.txt", "notes.txt", true),
            ("*.txt", "notes.txt.bak", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("ecs:describe*", "ecs:describeinstances", true),
            ("ecs:describe*", "ecs:describ", false),
            ("*?", "", false),
            ("*?", "x", true),
            ("**", "", true),
            ("a**b", "ab", true),
            ("user/*", "user/", true),
            ("é*ü", "éxyzü", true),
            ("exact", "exact", true),
            ("exact", "Exact", false),
            ("*disk*", "ecs:describedisks", true),
            ("*disk*", "disk", true),
            ("*disk*", "dis", false),
            ("*ü*", "aüb", true),
            ("*.json", "a.json", true),
            ("*.json", "a.jsonx", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(Pattern::new(p).matches(t), *want, "{p:?} vs {t:?}");
            assert_eq!(naive_match(p, t), *want, "naive {p:?} vs {t:?}");
        }
    }

    #[test]
    fn pathological_input_is_fast() {
        // The classic backtracking killer: many stars against a long near-miss.
        let pattern = format!("{}b", "a*".repeat(200));
        let text = "a".repeat(100_000);
        assert!(!Pattern::new(&pattern).matches(&text));
        let pattern = format!("{}b", "?*".repeat(200));
        assert!(!Pattern::new(&pattern).matches(&text));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_naive(p in "[ab?*é]{0,8}", t in "[abé]{0,10}") {
            prop_assert_eq!(Pattern::new(&p).matches(&t), naive_match(&p, &t));
        }

        #[test]
        fn substring_shape_agrees_with_naive_on_long_texts(p in "\\*[ab]{1,4}\\*", t in "[ab]{0,150}") {
            prop_assert_eq!(Pattern::new(&p).matches(&t), naive_match(&p, &t));
        }
    }
}
