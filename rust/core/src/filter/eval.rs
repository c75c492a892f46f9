//! Evaluating a [`Filter`] against one record.
//!
//! Semantics: a missing key (or JSON null) fails every condition except `ne`, `nin` and
//! `eq null`; numbers compare numerically, strings lexicographically (ISO dates sort that
//! way), and values of different kinds never compare as ordered. `contains` on a list
//! value means "has this element".

use std::cmp::Ordering;

use serde_json::Value;

use super::{Cond, Filter, Key};
use crate::record::MemoryRecord;

impl Filter {
    /// Whether `record` satisfies this filter.
    pub fn matches(&self, record: &MemoryRecord) -> bool {
        match self {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Not(parts) => !parts.iter().any(|p| p.matches(record)),
            Filter::Cond { key, cond } => match key {
                Key::Field(field) => match record.field(*field) {
                    Some(s) => cond.test_str(s),
                    None => cond.test(None),
                },
                Key::Meta(name) => cond.test(
                    record
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get(name))
                        .filter(|v| !v.is_null()),
                ),
            },
        }
    }
}

impl Cond {
    /// `test` for a built-in string field, without building a JSON value per record.
    fn test_str(&self, s: &str) -> bool {
        let eq = |v: &Value| matches!(v, Value::String(x) if x == s);
        let cmp = |v: &Value| match v {
            Value::String(x) => Some(s.cmp(x.as_str())),
            _ => None,
        };
        match self {
            Cond::Exists => true,
            Cond::Eq(v) => eq(v),
            Cond::Ne(v) => !eq(v),
            Cond::Gt(v) => cmp(v) == Some(Ordering::Greater),
            Cond::Gte(v) => matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal)),
            Cond::Lt(v) => cmp(v) == Some(Ordering::Less),
            Cond::Lte(v) => matches!(cmp(v), Some(Ordering::Less | Ordering::Equal)),
            Cond::In(vs) => vs.contains_str(s),
            Cond::Nin(vs) => !vs.contains_str(s),
            Cond::Contains(needle) => s.contains(needle.as_str()),
            Cond::IContains(needle) => s.to_lowercase().contains(needle.as_str()),
        }
    }

    fn test(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return match self {
                Cond::Ne(v) => !v.is_null(),
                Cond::Nin(_) => true,
                Cond::Eq(v) => v.is_null(),
                _ => false,
            };
        };
        match self {
            Cond::Exists => true,
            Cond::Eq(v) => equal(value, v),
            Cond::Ne(v) => !equal(value, v),
            Cond::Gt(v) => compare(value, v) == Some(Ordering::Greater),
            Cond::Gte(v) => matches!(compare(value, v), Some(Ordering::Greater | Ordering::Equal)),
            Cond::Lt(v) => compare(value, v) == Some(Ordering::Less),
            Cond::Lte(v) => matches!(compare(value, v), Some(Ordering::Less | Ordering::Equal)),
            Cond::In(vs) => vs.contains(value, equal),
            Cond::Nin(vs) => !vs.contains(value, equal),
            Cond::Contains(needle) => contains(value, needle, false),
            Cond::IContains(needle) => contains(value, needle, true),
        }
    }
}

/// JSON equality, except that 1 and 1.0 are equal.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

fn contains(value: &Value, needle: &str, fold_case: bool) -> bool {
    match value {
        Value::String(s) if fold_case => s.to_lowercase().contains(needle),
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|item| match item {
            Value::String(s) if fold_case => s.to_lowercase() == needle,
            Value::String(s) => s == needle,
            _ => false,
        }),
        _ => false,
    }
}
