//! The request side of an evaluation: the action, the resources, and the condition context.
//!
//! Everything a decision reads is normalised here, once per request, so the evaluator compares
//! without allocating: the action is lower-cased and split at its service, context keys are
//! lower-cased and hashed, and each context value is read as a number, date, boolean or IP
//! address at most once, when a condition first asks.

use std::net::IpAddr;
use std::sync::OnceLock;

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::value::{parse_bool, parse_date, parse_ip, parse_number};

/// An API action such as `ram:GetUser`, normalised for matching. Build it once per endpoint and
/// reuse it: actions compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Action {
    original: Box<str>,
    lower: Box<str>,
    service_len: usize,
    /// Its place in an [`crate::ActionTable`]: (table id, index).
    slot: Option<(u64, u32)>,
    /// `name_bit` of the action's first character after the colon.
    first_bit: u64,
}

/// A 64-bit set of characters, used to skip statements whose actions cannot start the way a
/// request's action name does without running their patterns.
pub(crate) fn name_bit(c: Option<u8>) -> u64 {
    c.map_or(1, |c| 1u64 << (c % 64))
}

impl Action {
    pub fn new(action: &str) -> Action {
        let lower: Box<str> = action.to_lowercase().into();
        let service_len = lower.find(':').unwrap_or(lower.len());
        // Only a well-formed `service:name` has a first name character a pattern can be judged
        // by; anything else is left to the patterns themselves.
        let first_bit = if lower.bytes().filter(|&b| b == b':').count() == 1 {
            name_bit(lower.as_bytes().get(service_len + 1).copied())
        } else {
            u64::MAX
        };
        Action {
            original: action.into(),
            lower,
            service_len,
            slot: None,
            first_bit,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn lower(&self) -> &str {
        &self.lower
    }

    pub(crate) fn with_slot(mut self, table: u64, index: u32) -> Action {
        self.slot = Some((table, index));
        self
    }

    pub(crate) fn slot(&self) -> Option<(u64, u32)> {
        self.slot
    }

    pub(crate) fn first_bit(&self) -> u64 {
        self.first_bit
    }

    /// The lower-cased service code (`ram` for `ram:GetUser`).
    pub fn service(&self) -> &str {
        self.lower.get(..self.service_len).unwrap_or_default()
    }
}

/// One request value of a condition key. Its typed readings (number, date, boolean, IP) are
/// computed on first use and kept: most values are only ever compared as strings, and reading
/// every value as every type up front cost as much as a whole decision.
#[derive(Clone, Debug)]
pub struct ContextValue {
    /// Inline up to 24 bytes (IP addresses, booleans, tag values): comparing it touches no
    /// other cache line than the value itself.
    text: CompactString,
    folded: OnceLock<Option<Box<str>>>,
    number: OnceLock<Option<f64>>,
    date: OnceLock<Option<i64>>,
    boolean: OnceLock<Option<bool>>,
    ip: OnceLock<Option<IpAddr>>,
}

impl PartialEq for ContextValue {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl ContextValue {
    pub fn new(text: &str) -> ContextValue {
        ContextValue {
            text: CompactString::new(text),
            folded: OnceLock::new(),
            number: OnceLock::new(),
            date: OnceLock::new(),
            boolean: OnceLock::new(),
            ip: OnceLock::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The lower-cased text, for the `IgnoreCase` operators.
    pub fn folded(&self) -> &str {
        self.folded
            .get_or_init(|| {
                let lower = self.text.to_lowercase();
                (lower != self.text).then(|| lower.into())
            })
            .as_deref()
            .unwrap_or(&self.text)
    }

    pub fn number(&self) -> Option<f64> {
        *self.number.get_or_init(|| parse_number(&self.text))
    }

    /// Milliseconds since the epoch.
    pub fn date(&self) -> Option<i64> {
        *self.date.get_or_init(|| parse_date(&self.text))
    }

    pub fn boolean(&self) -> Option<bool> {
        *self.boolean.get_or_init(|| parse_bool(&self.text))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        *self.ip.get_or_init(|| parse_ip(&self.text))
    }
}

pub type ContextValues = SmallVec<[ContextValue; 1]>;

/// Hashes a lower-cased key name. Compiled conditions hash their key once, so a lookup
/// compares one integer per context entry before it compares any text.
pub(crate) fn key_hash(lower: &str) -> u64 {
    // FNV-1a: keys are short, and this needs no state or allocation.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lower.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The condition keys of a request. Keys are case-insensitive; a key may carry several values
/// (`acs:TagKeys`, say).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    // Parallel arrays, so a lookup scans only the hashes, which sit inline in one cache line;
    // key text and values are touched only on a hit. Few keys per request: no map.
    hashes: SmallVec<[u64; 8]>,
    /// Inline up to 24 bytes, next to the hashes, so confirming a hash hit stays in the
    /// context's own memory.
    keys: SmallVec<[CompactString; 8]>,
    values: Vec<ContextValues>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    fn position(&self, hash: u64, lower: &str) -> Option<usize> {
        self.hashes.iter().enumerate().find_map(|(i, h)| {
            (*h == hash
                && self
                    .keys
                    .get(i)
                    .is_some_and(|k| crate::wildcard::bytes_eq(k.as_bytes(), lower.as_bytes())))
            .then_some(i)
        })
    }

    /// Adds a value to `key`, keeping values already there.
    pub fn insert(&mut self, key: &str, value: &str) -> &mut Self {
        let key = key.to_lowercase();
        let hash = key_hash(&key);
        let v = ContextValue::new(value);
        match self
            .position(hash, &key)
            .and_then(|i| self.values.get_mut(i))
        {
            Some(values) => values.push(v),
            None => {
                let mut values = ContextValues::new();
                values.push(v);
                self.hashes.push(hash);
                self.keys.push(CompactString::new(&key));
                self.values.push(values);
            }
        }
        self
    }

    /// Replaces every value of `key`.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.remove(key);
        self.insert(key, value)
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.insert(key, value);
        self
    }

    pub fn remove(&mut self, key: &str) {
        let key = key.to_lowercase();
        if let Some(i) = self.position(key_hash(&key), &key) {
            self.hashes.remove(i);
            self.keys.remove(i);
            self.values.remove(i);
        }
    }

    /// Looks a key up; `key` must already be lower-case.
    pub fn get_lower(&self, key: &str) -> Option<&ContextValues> {
        self.get_hashed(key_hash(key), key)
    }

    pub(crate) fn get_hashed(&self, hash: u64, lower: &str) -> Option<&ContextValues> {
        self.position(hash, lower).and_then(|i| self.values.get(i))
    }

    pub fn get(&self, key: &str) -> Option<&ContextValues> {
        self.get_lower(&key.to_lowercase())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValues)> {
        self.keys
            .iter()
            .map(CompactString::as_str)
            .zip(self.values.iter())
    }
}
