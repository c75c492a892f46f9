//! JSON → [`Filter`], rejecting anything the language does not define.

use serde_json::{Map, Value};

use super::{Cond, Filter, Key, ValueList};
use crate::record::Field;
use crate::{Error, Result};

/// Filters nest; a limit keeps a hostile filter from exhausting the stack.
const MAX_DEPTH: usize = 32;

pub(super) fn parse_filter(value: &Value) -> Result<Filter> {
    parse_object(value, 0)
}

fn parse_object(value: &Value, depth: usize) -> Result<Filter> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(format!(
            "filters nest deeper than {MAX_DEPTH} levels"
        )));
    }
    let Value::Object(map) = value else {
        return Err(Error::invalid(format!(
            "a filter must be an object (dict), got {}",
            kind(value)
        )));
    };
    let mut parts = Vec::with_capacity(map.len());
    for (key, val) in map {
        parts.push(match key.as_str() {
            "AND" => Filter::And(parse_list(key, val, depth)?),
            "OR" => Filter::Or(parse_list(key, val, depth)?),
            "NOT" => Filter::Not(parse_list(key, val, depth)?),
            _ => parse_condition(key, val)?,
        });
    }
    Ok(Filter::and(parts))
}

fn parse_list(op: &str, value: &Value, depth: usize) -> Result<Vec<Filter>> {
    let items = match value {
        Value::Array(items) if !items.is_empty() => items,
        Value::Array(_) => {
            return Err(Error::invalid(format!(
                "filter {op:?} needs at least one filter in its list"
            )))
        }
        other => {
            return Err(Error::invalid(format!(
                "filter {op:?} takes a list of filters, got {}",
                kind(other)
            )))
        }
    };
    items.iter().map(|v| parse_object(v, depth + 1)).collect()
}

fn parse_condition(key: &str, value: &Value) -> Result<Filter> {
    if key.is_empty() {
        return Err(Error::invalid("a filter key must not be empty"));
    }
    let key = match Field::from_key(key) {
        Some(field) => Key::Field(field),
        None => Key::Meta(key.to_owned()),
    };
    let normalise = |v: &Value| normalise_value(&key, v);
    match value {
        Value::String(s) if s == "*" => Ok(cond(key.clone(), Cond::Exists)),
        Value::Object(ops) => parse_operators(&key, ops, &normalise),
        Value::Array(_) => Err(Error::invalid(format!(
            "filter value for {} is a list; use {{\"in\": [...]}} for membership",
            key_name(&key)
        ))),
        scalar => Ok(cond(key.clone(), Cond::Eq(normalise(scalar)))),
    }
}

fn parse_operators(
    key: &Key,
    ops: &Map<String, Value>,
    normalise: &dyn Fn(&Value) -> Value,
) -> Result<Filter> {
    if ops.is_empty() {
        return Err(Error::invalid(format!(
            "filter for {} has an empty operator object",
            key_name(key)
        )));
    }
    let mut parts = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let c = match op.as_str() {
            "eq" => Cond::Eq(scalar_arg(key, op, arg, normalise)?),
            "ne" => Cond::Ne(scalar_arg(key, op, arg, normalise)?),
            "gt" => Cond::Gt(ordered_arg(key, op, arg, normalise)?),
            "gte" => Cond::Gte(ordered_arg(key, op, arg, normalise)?),
            "lt" => Cond::Lt(ordered_arg(key, op, arg, normalise)?),
            "lte" => Cond::Lte(ordered_arg(key, op, arg, normalise)?),
            "in" => Cond::In(ValueList::new(list_arg(key, op, arg, normalise)?)),
            "nin" => Cond::Nin(ValueList::new(list_arg(key, op, arg, normalise)?)),
            "contains" => Cond::Contains(string_arg(key, op, arg)?),
            "icontains" => Cond::IContains(string_arg(key, op, arg)?.to_lowercase()),
            unknown => {
                return Err(Error::invalid(format!(
                    "unknown filter operator {unknown:?} for {}; use one of eq, ne, gt, gte, lt, lte, in, nin, contains, icontains",
                    key_name(key)
                )))
            }
        };
        parts.push(cond(key.clone(), c));
    }
    Ok(Filter::and(parts))
}

fn cond(key: Key, cond: Cond) -> Filter {
    Filter::Cond { key, cond }
}

fn scalar_arg(
    key: &Key,
    op: &str,
    arg: &Value,
    normalise: &dyn Fn(&Value) -> Value,
) -> Result<Value> {
    match arg {
        Value::Array(_) | Value::Object(_) => Err(Error::invalid(format!(
            "filter operator {op:?} on {} takes a single value, got {}",
            key_name(key),
            kind(arg)
        ))),
        _ => Ok(normalise(arg)),
    }
}

fn ordered_arg(
    key: &Key,
    op: &str,
    arg: &Value,
    normalise: &dyn Fn(&Value) -> Value,
) -> Result<Value> {
    match arg {
        Value::Number(_) | Value::String(_) => Ok(normalise(arg)),
        _ => Err(Error::invalid(format!(
            "filter operator {op:?} on {} compares numbers or strings (ISO dates), got {}",
            key_name(key),
            kind(arg)
        ))),
    }
}

fn list_arg(
    key: &Key,
    op: &str,
    arg: &Value,
    normalise: &dyn Fn(&Value) -> Value,
) -> Result<Vec<Value>> {
    match arg {
        Value::Array(items) => {
            for item in items {
                scalar_arg(key, op, item, normalise)?;
            }
            Ok(items.iter().map(normalise).collect())
        }
        _ => Err(Error::invalid(format!(
            "filter operator {op:?} on {} takes a list, got {}",
            key_name(key),
            kind(arg)
        ))),
    }
}

fn string_arg(key: &Key, op: &str, arg: &Value) -> Result<String> {
    match arg {
        Value::String(s) => Ok(s.clone()),
        _ => Err(Error::invalid(format!(
            "filter operator {op:?} on {} takes a string, got {}",
            key_name(key),
            kind(arg)
        ))),
    }
}

/// Built-in fields hold strings; a number given for them (`user_id=42`) means its text,
/// as the API converts integer ids with `str()`.
fn normalise_value(key: &Key, value: &Value) -> Value {
    match (key, value) {
        (Key::Field(_), Value::Number(n)) => Value::String(n.to_string()),
        _ => value.clone(),
    }
}

fn key_name(key: &Key) -> String {
    match key {
        Key::Field(f) => format!("{:?}", f.name()),
        Key::Meta(k) => format!("{k:?}"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
