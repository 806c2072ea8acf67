//! Condition operators, their typed values, and how they decide against a request context.
//!
//! Semantics (RAM documents the operators but not these edges; the choices are Rampart's and are
//! tested):
//! - Several values under one key: any may match (OR). Several keys under one operator, and
//!   several operators in one block: all must hold (AND).
//! - Key names compare case-insensitively.
//! - A key missing from the request: a positive operator is false; a negated one
//!   (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`, `NumericNotEquals`,
//!   `DateNotEquals`, `NotIpAddress`) is true.
//! - A multi-valued request key without a set qualifier: a positive operator holds when *any*
//!   request value matches *any* policy value; a negated operator holds when *no* request value
//!   matches any policy value. A negated operator is always the exact complement of its positive
//!   twin, including for request values that cannot be read as the operator's type.
//! - Extension: `ForAnyValue:` and `ForAllValues:` prefixes apply the (possibly negated) test to
//!   each request value and require any / all of them to pass. `ForAllValues:` holds on a missing
//!   key; `ForAnyValue:` does not.

use crate::context::{ContextValue, ContextValues};
use crate::value::IpNet;
use crate::wildcard::Pattern;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

/// What a value of an operator is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    String,
    Number,
    Date,
    Bool,
    Ip,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Date => "date",
            ValueType::Bool => "boolean",
            ValueType::Ip => "IP address",
        }
    }
}

use BaseOperator as B;

const ALL: [(BaseOperator, &str); 21] = [
    (B::StringEquals, "StringEquals"),
    (B::StringNotEquals, "StringNotEquals"),
    (B::StringEqualsIgnoreCase, "StringEqualsIgnoreCase"),
    (B::StringNotEqualsIgnoreCase, "StringNotEqualsIgnoreCase"),
    (B::StringLike, "StringLike"),
    (B::StringNotLike, "StringNotLike"),
    (B::NumericEquals, "NumericEquals"),
    (B::NumericNotEquals, "NumericNotEquals"),
    (B::NumericLessThan, "NumericLessThan"),
    (B::NumericLessThanEquals, "NumericLessThanEquals"),
    (B::NumericGreaterThan, "NumericGreaterThan"),
    (B::NumericGreaterThanEquals, "NumericGreaterThanEquals"),
    (B::DateEquals, "DateEquals"),
    (B::DateNotEquals, "DateNotEquals"),
    (B::DateLessThan, "DateLessThan"),
    (B::DateLessThanEquals, "DateLessThanEquals"),
    (B::DateGreaterThan, "DateGreaterThan"),
    (B::DateGreaterThanEquals, "DateGreaterThanEquals"),
    (B::Bool, "Bool"),
    (B::IpAddress, "IpAddress"),
    (B::NotIpAddress, "NotIpAddress"),
];

impl BaseOperator {
    pub fn all() -> impl Iterator<Item = BaseOperator> {
        ALL.iter().map(|(op, _)| *op)
    }

    /// Operator names are case-sensitive, as RAM documents.
    pub fn from_name(name: &str) -> Option<BaseOperator> {
        ALL.iter().find(|(_, n)| *n == name).map(|(op, _)| *op)
    }

    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(op, _)| *op == self)
            .map_or("", |(_, n)| n)
    }

    /// Operators whose name differs from a known one only in case, for a helpful diagnostic.
    pub fn suggest(name: &str) -> Option<&'static str> {
        ALL.iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(_, n)| *n)
    }

    pub fn value_type(self) -> ValueType {
        match self {
            B::StringEquals
            | B::StringNotEquals
            | B::StringEqualsIgnoreCase
            | B::StringNotEqualsIgnoreCase
            | B::StringLike
            | B::StringNotLike => ValueType::String,
            B::NumericEquals
            | B::NumericNotEquals
            | B::NumericLessThan
            | B::NumericLessThanEquals
            | B::NumericGreaterThan
            | B::NumericGreaterThanEquals => ValueType::Number,
            B::DateEquals
            | B::DateNotEquals
            | B::DateLessThan
            | B::DateLessThanEquals
            | B::DateGreaterThan
            | B::DateGreaterThanEquals => ValueType::Date,
            B::Bool => ValueType::Bool,
            B::IpAddress | B::NotIpAddress => ValueType::Ip,
        }
    }

    /// Negated operators are the complement of [`BaseOperator::positive`].
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
        )
    }

    pub fn positive(self) -> BaseOperator {
        match self {
            B::StringNotEquals => B::StringEquals,
            B::StringNotEqualsIgnoreCase => B::StringEqualsIgnoreCase,
            B::StringNotLike => B::StringLike,
            B::NumericNotEquals => B::NumericEquals,
            B::DateNotEquals => B::DateEquals,
            B::NotIpAddress => B::IpAddress,
            other => other,
        }
    }
}

/// How a multi-valued request key is tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// No prefix: the default semantics in the module docs.
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    pub base: BaseOperator,
    pub qualifier: SetQualifier,
}

impl Operator {
    pub fn parse(name: &str) -> Option<Operator> {
        let (qualifier, base) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else {
            (SetQualifier::None, name)
        };
        Some(Operator {
            base: BaseOperator::from_name(base)?,
            qualifier,
        })
    }

    pub fn name(&self) -> String {
        match self.qualifier {
            SetQualifier::None => self.base.name().to_owned(),
            SetQualifier::ForAnyValue => format!("ForAnyValue:{}", self.base.name()),
            SetQualifier::ForAllValues => format!("ForAllValues:{}", self.base.name()),
        }
    }
}

/// Policy values of one condition, read once as the operator's type.
#[derive(Clone, Debug)]
pub enum TypedValues {
    Strings(Box<[Box<str>]>),
    /// Lower-cased, for the `IgnoreCase` operators.
    FoldedStrings(Box<[Box<str>]>),
    Patterns(Box<[Pattern]>),
    Numbers(Box<[f64]>),
    /// Milliseconds since the epoch.
    Dates(Box<[i64]>),
    Bools(Box<[bool]>),
    Networks(Box<[IpNet]>),
}

/// One `operator: { key: values }` test, ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledCondition {
    pub operator: Operator,
    /// Lower-cased: context keys are lower-cased on insertion.
    pub key: Box<str>,
    /// `context::key_hash` of `key`.
    pub key_hash: u64,
    pub values: TypedValues,
}

impl CompiledCondition {
    pub fn evaluate(&self, values: Option<&ContextValues>) -> bool {
        let base = self.operator.base;
        let negated = base.is_negated();
        let request: &[ContextValue] = match values {
            Some(v) if !v.is_empty() => v.as_slice(),
            _ => {
                return match self.operator.qualifier {
                    SetQualifier::None => negated,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::ForAllValues => true,
                }
            }
        };
        let positive = base.positive();
        // Per request value: does it match any policy value under the positive operator?
        let hit = |v: &ContextValue| self.matches_positive(positive, v);
        match self.operator.qualifier {
            SetQualifier::None => {
                let any = request.iter().any(hit);
                any != negated
            }
            SetQualifier::ForAnyValue => request.iter().any(|v| hit(v) != negated),
            SetQualifier::ForAllValues => request.iter().all(|v| hit(v) != negated),
        }
    }

    fn matches_positive(&self, op: BaseOperator, v: &ContextValue) -> bool {
        match &self.values {
            TypedValues::Strings(ps) => ps
                .iter()
                .any(|p| crate::wildcard::bytes_eq(p.as_bytes(), v.text().as_bytes())),
            TypedValues::FoldedStrings(ps) => {
                let folded = v.folded();
                ps.iter()
                    .any(|p| crate::wildcard::bytes_eq(p.as_bytes(), folded.as_bytes()))
            }
            TypedValues::Patterns(ps) => ps.iter().any(|p| p.matches(v.text())),
            TypedValues::Numbers(ps) => v.number().is_some_and(|n| {
                ps.iter().any(|p| match op {
                    B::NumericEquals => n == *p,
                    B::NumericLessThan => n < *p,
                    B::NumericLessThanEquals => n <= *p,
                    B::NumericGreaterThan => n > *p,
                    B::NumericGreaterThanEquals => n >= *p,
                    _ => false,
                })
            }),
            TypedValues::Dates(ps) => v.date().is_some_and(|d| {
                ps.iter().any(|p| match op {
                    B::DateEquals => d == *p,
                    B::DateLessThan => d < *p,
                    B::DateLessThanEquals => d <= *p,
                    B::DateGreaterThan => d > *p,
                    B::DateGreaterThanEquals => d >= *p,
                    _ => false,
                })
            }),
            TypedValues::Bools(ps) => v.boolean().is_some_and(|b| ps.contains(&b)),
            TypedValues::Networks(ps) => v.ip().is_some_and(|ip| ps.iter().any(|n| n.contains(ip))),
        }
    }
}
