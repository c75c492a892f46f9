//! The filter language of `search`, `get_all` and `delete_all` (see spec/API.md, "Filters").
//!
//! A filter arrives as JSON, is parsed once into the [`Filter`] tree (unknown operators and
//! malformed shapes are rejected with a message naming them) and is then evaluated in Rust
//! against each candidate record. Nothing of it ever becomes SQL text.

mod canonical;
mod eval;
mod parse;
mod value_list;

use serde_json::Value;

use crate::record::Field;
pub use value_list::ValueList;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every record (no filter given).
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// Matches records that match none of the children.
    Not(Vec<Filter>),
    /// One condition on one key.
    Cond {
        key: Key,
        cond: Cond,
    },
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A built-in field (scope ids, actor_id, role, timestamps).
    Field(Field),
    /// A top-level metadata key.
    Meta(String),
}

/// The comparison a condition makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(ValueList),
    Nin(ValueList),
    Contains(String),
    IContains(String),
    Exists,
}

impl Filter {
    /// Parses a filter from its JSON form (an object).
    pub fn from_json(value: &Value) -> crate::Result<Filter> {
        parse::parse_filter(value)
    }

    /// Parses a filter from JSON text; empty text means "no filter".
    pub fn from_json_str(text: &str) -> crate::Result<Filter> {
        if text.trim().is_empty() {
            return Ok(Filter::All);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| crate::Error::invalid(format!("filters are not valid JSON: {e}")))?;
        Self::from_json(&value)
    }

    /// Combines filters with AND, dropping `All`.
    pub fn and(parts: Vec<Filter>) -> Filter {
        let mut parts: Vec<Filter> = parts.into_iter().filter(|f| *f != Filter::All).collect();
        match parts.len() {
            0 => Filter::All,
            1 => parts.pop().unwrap_or(Filter::All),
            _ => Filter::And(parts),
        }
    }

    /// An equality condition on a scope field.
    pub fn scope_eq(field: Field, value: &str) -> Filter {
        Filter::Cond {
            key: Key::Field(field),
            cond: Cond::Eq(Value::String(value.to_owned())),
        }
    }

    /// Scope fields whose value every match must take from a known list (an `eq`, or
    /// an `in` over strings), each with that list: the planner starts from the posting
    /// lists of the cheapest of them instead of scanning everything.
    pub fn required_scope_values(&self) -> Vec<(Field, Vec<&str>)> {
        let mut out = Vec::new();
        self.collect_required(&mut out);
        out
    }

    fn collect_required<'a>(&'a self, out: &mut Vec<(Field, Vec<&'a str>)>) {
        match self {
            Filter::And(parts) => parts.iter().for_each(|p| p.collect_required(out)),
            Filter::Cond {
                key: Key::Field(field),
                cond,
            } if field.is_scope() => match cond {
                Cond::Eq(Value::String(value)) => out.push((*field, vec![value.as_str()])),
                // A scope id is a string: the list's other values can never match.
                Cond::In(list) => out.push((
                    *field,
                    list.values().iter().filter_map(Value::as_str).collect(),
                )),
                _ => {}
            },
            _ => {}
        }
    }
}
