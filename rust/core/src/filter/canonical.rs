//! The parsed filter as canonical JSON, for stores that evaluate filters themselves
//! (PostgreSQL compiles it to parameterised SQL). Parsing once, here, means every store
//! accepts and rejects exactly the same filters with the same messages.
//!
//! Shape: `{"all": true}`, `{"and": [..]}`, `{"or": [..]}`, `{"not": [..]}` (none of the
//! children match), or `{"field": "user_id", "op": "eq", "value": ..}` for a built-in
//! field / `{"meta": "key", "op": .., "value": ..}` for a metadata key. `op` is one of eq,
//! ne, gt, gte, lt, lte, in, nin (value is a list), contains, icontains (value already
//! lower-cased), exists (no value).

use serde_json::{json, Value};

use super::{Cond, Filter, Key};

impl Filter {
    /// The canonical JSON form described in this module's documentation.
    pub fn to_canonical(&self) -> Value {
        match self {
            Filter::All => json!({"all": true}),
            Filter::And(parts) => {
                json!({"and": parts.iter().map(Filter::to_canonical).collect::<Vec<_>>()})
            }
            Filter::Or(parts) => {
                json!({"or": parts.iter().map(Filter::to_canonical).collect::<Vec<_>>()})
            }
            Filter::Not(parts) => {
                json!({"not": parts.iter().map(Filter::to_canonical).collect::<Vec<_>>()})
            }
            Filter::Cond { key, cond } => {
                let (op, value) = match cond {
                    Cond::Eq(v) => ("eq", Some(v.clone())),
                    Cond::Ne(v) => ("ne", Some(v.clone())),
                    Cond::Gt(v) => ("gt", Some(v.clone())),
                    Cond::Gte(v) => ("gte", Some(v.clone())),
                    Cond::Lt(v) => ("lt", Some(v.clone())),
                    Cond::Lte(v) => ("lte", Some(v.clone())),
                    Cond::In(vs) => ("in", Some(Value::Array(vs.values().to_vec()))),
                    Cond::Nin(vs) => ("nin", Some(Value::Array(vs.values().to_vec()))),
                    Cond::Contains(s) => ("contains", Some(Value::String(s.clone()))),
                    Cond::IContains(s) => ("icontains", Some(Value::String(s.clone()))),
                    Cond::Exists => ("exists", None),
                };
                let mut out = match key {
                    Key::Field(f) => json!({"field": f.name(), "op": op}),
                    Key::Meta(k) => json!({"meta": k, "op": op}),
                };
                if let (Some(v), Some(map)) = (value, out.as_object_mut()) {
                    map.insert("value".into(), v);
                }
                out
            }
        }
    }
}
