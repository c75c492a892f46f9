//! Rust results → the Mem0-shaped Python dicts the API returns, and JSON ↔ Python.

use std::sync::Arc;

use memlane_core::{HistoryEvent, MemoryRecord, Outcome};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

/// A memory as a dict: ids/actor/role only when set, `metadata` None when empty.
fn record_dict<'py>(
    py: Python<'py>,
    r: &MemoryRecord,
    score: Option<f32>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &r.id)?;
    d.set_item("memory", &r.memory)?;
    d.set_item("hash", &r.hash)?;
    match &r.metadata {
        Some(m) => d.set_item("metadata", json_map(py, m)?)?,
        None => d.set_item("metadata", py.None())?,
    }
    if let Some(s) = score {
        d.set_item("score", f64::from(s))?;
    }
    d.set_item("created_at", &r.created_at)?;
    d.set_item("updated_at", &r.updated_at)?;
    for (key, value) in [
        ("user_id", &r.user_id),
        ("agent_id", &r.agent_id),
        ("run_id", &r.run_id),
        ("actor_id", &r.actor_id),
        ("role", &r.role),
    ] {
        if let Some(v) = value {
            d.set_item(key, v)?;
        }
    }
    Ok(d)
}

/// One memory.
pub(crate) struct Record(pub Arc<MemoryRecord>);

/// Memories in order.
pub(crate) struct Records(pub Vec<Arc<MemoryRecord>>);

/// Search hits: memory and score in [0, 1].
pub(crate) struct Hits(pub Vec<(Arc<MemoryRecord>, f32)>);

/// History rows.
pub(crate) struct History(pub Vec<HistoryEvent>);

/// What an `apply` did, one item per op.
pub(crate) struct Outcomes(pub Vec<Outcome>);

macro_rules! into_py_any {
    ($ty:ty, |$self_:ident, $py:ident| $body:expr) => {
        impl<'py> IntoPyObject<'py> for $ty {
            type Target = PyAny;
            type Output = Bound<'py, PyAny>;
            type Error = PyErr;
            fn into_pyobject(self, $py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                let $self_ = self;
                $body
            }
        }
    };
}

into_py_any!(Record, |s, py| Ok(record_dict(py, &s.0, None)?.into_any()));

into_py_any!(Records, |s, py| {
    let items =
        s.0.iter()
            .map(|r| record_dict(py, r, None))
            .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
});

into_py_any!(Hits, |s, py| {
    let items =
        s.0.iter()
            .map(|(r, score)| record_dict(py, r, Some(*score)))
            .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
});

into_py_any!(History, |s, py| {
    let items =
        s.0.iter()
            .map(|e| {
                let d = PyDict::new(py);
                d.set_item("id", &e.id)?;
                d.set_item("memory_id", &e.memory_id)?;
                d.set_item("old_memory", &e.old_memory)?;
                d.set_item("new_memory", &e.new_memory)?;
                d.set_item("event", &e.event)?;
                d.set_item("created_at", &e.created_at)?;
                d.set_item("updated_at", &e.updated_at)?;
                d.set_item("is_deleted", e.is_deleted)?;
                d.set_item("actor_id", &e.actor_id)?;
                d.set_item("role", &e.role)?;
                Ok(d)
            })
            .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
});

into_py_any!(Outcomes, |s, py| {
    let items =
        s.0.into_iter()
            .map(|outcome| outcome_item(py, outcome))
            .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
});

/// `{"id", "memory", "event"}` (+ `previous_memory` for UPDATE); a scope delete gives
/// `{"event": "DELETE", "deleted": [ids]}`; a reset gives None.
fn outcome_item(py: Python<'_>, outcome: Outcome) -> PyResult<Bound<'_, PyAny>> {
    let d = PyDict::new(py);
    match outcome {
        Outcome::Added(r) => {
            d.set_item("id", r.id)?;
            d.set_item("memory", r.memory)?;
            d.set_item("event", "ADD")?;
        }
        Outcome::Updated { record, previous } => {
            d.set_item("id", record.id)?;
            d.set_item("memory", record.memory)?;
            d.set_item("event", "UPDATE")?;
            d.set_item("previous_memory", previous)?;
        }
        Outcome::Deleted(r) => {
            d.set_item("id", r.id)?;
            d.set_item("memory", r.memory)?;
            d.set_item("event", "DELETE")?;
        }
        Outcome::DeletedScope(records) => {
            let ids: Vec<String> = records.into_iter().map(|r| r.id).collect();
            d.set_item("event", "DELETE")?;
            d.set_item("deleted", ids)?;
        }
        Outcome::Reset => return Ok(py.None().into_bound(py)),
    }
    Ok(d.into_any())
}

fn json_map<'py>(
    py: Python<'py>,
    map: &serde_json::Map<String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in map {
        d.set_item(k, json_value(py, v)?)?;
    }
    Ok(d)
}

fn json_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|v| json_value(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(map) => json_map(py, map)?.into_any(),
    })
}
