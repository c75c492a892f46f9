//! The list of an `in` / `nin` condition.
//!
//! A filter is tested once per candidate memory, and a graph walk over a large store
//! tests it on thousands of nodes, so `{"user_id": {"in": [1,000 users]}}` compared
//! element by element costs about a millisecond per thousand memories. A long list
//! therefore also keeps its strings in a hash set (scope ids and most metadata values
//! are strings); other values are few and still compared one by one.

use std::collections::HashSet;

use serde_json::Value;

/// Lists longer than this hash their strings.
const HASH_FROM: usize = 8;

/// The values of an `in` / `nin` condition.
#[derive(Debug, Clone)]
pub struct ValueList {
    values: Vec<Value>,
    /// Every string of `values`, when the list is long.
    strings: Option<HashSet<String>>,
}

impl PartialEq for ValueList {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl ValueList {
    pub fn new(values: Vec<Value>) -> Self {
        let strings = (values.len() > HASH_FROM).then(|| {
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
        ValueList { values, strings }
    }

    /// The values, in the order given.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Whether the list holds the string `s`.
    pub fn contains_str(&self, s: &str) -> bool {
        match &self.strings {
            Some(set) => set.contains(s),
            None => self
                .values
                .iter()
                .any(|v| matches!(v, Value::String(x) if x == s)),
        }
    }

    /// Whether the list holds a value that `equal` says equals `value`. A string only
    /// ever equals a string, so strings go through the set when there is one.
    pub fn contains(&self, value: &Value, equal: impl Fn(&Value, &Value) -> bool) -> bool {
        match (value, &self.strings) {
            (Value::String(s), Some(_)) => self.contains_str(s),
            _ => self.values.iter().any(|v| equal(value, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_and_long_lists_agree() {
        let items: Vec<Value> = (0..20)
            .map(|i| {
                if i % 3 == 0 {
                    json!(i)
                } else {
                    json!(format!("u{i}"))
                }
            })
            .collect();
        for n in [0, 3, 8, 9, 20] {
            let list = ValueList::new(items[..n].to_vec());
            assert_eq!(list.strings.is_some(), n > HASH_FROM);
            for probe in ["u1", "u2", "u8", "u19", "u20", "3", ""] {
                let want = items[..n].iter().any(|v| v.as_str() == Some(probe));
                assert_eq!(list.contains_str(probe), want, "{n} {probe}");
                assert_eq!(list.contains(&json!(probe), |a, b| a == b), want);
            }
            let three = items[..n].contains(&json!(3));
            assert_eq!(list.contains(&json!(3), |a, b| a == b), three, "{n}");
        }
    }
}
