//! The request side of an evaluation: the action, the resources, and the condition context.
//!
//! Everything a decision reads is normalised here, once per request, so the evaluator compares
//! without allocating: the action is lower-cased and split at its service, context keys are
//! lower-cased, and each context value is read once as a number, date, boolean and IP address.

use std::net::IpAddr;

use smallvec::SmallVec;

use crate::value::{parse_bool, parse_date, parse_ip, parse_number};

/// An API action such as `ram:GetUser`, normalised for matching. Build it once per endpoint and
/// reuse it: actions compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Action {
    original: Box<str>,
    lower: Box<str>,
    service_len: usize,
}

impl Action {
    pub fn new(action: &str) -> Action {
        let lower: Box<str> = action.to_lowercase().into();
        let service_len = lower.find(':').unwrap_or(lower.len());
        Action {
            original: action.into(),
            lower,
            service_len,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// The lower-cased service code (`ram` for `ram:GetUser`).
    pub fn service(&self) -> &str {
        self.lower.get(..self.service_len).unwrap_or_default()
    }
}

/// One request value of a condition key, with its typed readings.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextValue {
    pub text: Box<str>,
    folded: Option<Box<str>>,
    pub number: Option<f64>,
    pub date: Option<i64>,
    pub boolean: Option<bool>,
    pub ip: Option<IpAddr>,
}

impl ContextValue {
    pub fn new(text: &str) -> ContextValue {
        let lower = text.to_lowercase();
        ContextValue {
            folded: (lower != text).then(|| lower.into()),
            number: parse_number(text),
            date: parse_date(text),
            boolean: parse_bool(text),
            ip: parse_ip(text),
            text: text.into(),
        }
    }

    /// The lower-cased text, for the `IgnoreCase` operators.
    pub fn folded(&self) -> &str {
        self.folded.as_deref().unwrap_or(&self.text)
    }
}

pub type ContextValues = SmallVec<[ContextValue; 1]>;

/// The condition keys of a request. Keys are case-insensitive; a key may carry several values
/// (`acs:TagKeys`, say).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    // Few keys per request, so a vector beats a map.
    entries: Vec<(Box<str>, ContextValues)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Adds a value to `key`, keeping values already there.
    pub fn insert(&mut self, key: &str, value: &str) -> &mut Self {
        let key = key.to_lowercase();
        let v = ContextValue::new(value);
        match self.entries.iter_mut().find(|(k, _)| **k == *key) {
            Some((_, values)) => values.push(v),
            None => {
                let mut values = ContextValues::new();
                values.push(v);
                self.entries.push((key.into(), values));
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
        self.entries.retain(|(k, _)| **k != *key);
    }

    /// Looks a key up; `key` must already be lower-case (compiled conditions are).
    pub fn get_lower(&self, key: &str) -> Option<&ContextValues> {
        self.entries
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|(_, v)| v)
    }

    pub fn get(&self, key: &str) -> Option<&ContextValues> {
        self.get_lower(&key.to_lowercase())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValues)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
}
