//! Python op tuples → core [`Op`]s. The tuple forms (documented in `_native.pyi`):
//!
//! - `("add", text, vector, user_id, agent_id, run_id, actor_id, role, metadata_json)`
//! - `("update", id, text, vector, metadata_json)`: text/vector both or neither;
//!   metadata_json None keeps the metadata, `"{}"` clears it
//! - `("delete", id)`, `("delete_scope", user_id, agent_id, run_id)`, `("reset",)`
//!
//! Vectors travel as little-endian float32 bytes (one copy, no per-float objects).

use memlane_core::{Error, NewMemory, Op, Scope};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::{Map, Value};

use crate::errors::IntoPyResult;

type Meta = Option<Map<String, Value>>;
type Opt = Option<String>;
/// `("add", text, vector, user_id, agent_id, run_id, actor_id, role, metadata_json)`
type AddTuple = (String, String, Vec<u8>, Opt, Opt, Opt, Opt, Opt, Opt);

pub(crate) fn parse_ops(items: Vec<Bound<'_, PyTuple>>) -> PyResult<Vec<Op>> {
    items.iter().map(parse_op).collect()
}

fn parse_op(t: &Bound<'_, PyTuple>) -> PyResult<Op> {
    let kind: String = t.get_item(0)?.extract()?;
    let op = match (kind.as_str(), t.len()) {
        ("add", 9) => {
            let (_, text, vector, user_id, agent_id, run_id, actor_id, role, meta): AddTuple =
                t.extract()?;
            Op::Add(NewMemory {
                text,
                vector: vector_from_bytes(&vector).py_err()?,
                scope: Scope {
                    user_id,
                    agent_id,
                    run_id,
                },
                actor_id,
                role,
                metadata: metadata(meta.as_deref()).py_err()?,
            })
        }
        ("update", 5) => {
            let (_, id, text, vector, meta): (
                String,
                String,
                Option<String>,
                Option<Vec<u8>>,
                Option<String>,
            ) = t.extract()?;
            let text = match (text, vector) {
                (Some(text), Some(v)) => Some((text, vector_from_bytes(&v).py_err()?)),
                (None, None) => None,
                _ => {
                    return Err(Error::invalid(
                        "an update needs both text and vector, or neither",
                    ))
                    .py_err()
                }
            };
            let metadata = meta.map(|m| metadata(Some(&m))).transpose().py_err()?;
            Op::Update { id, text, metadata }
        }
        ("delete", 2) => Op::Delete {
            id: t.get_item(1)?.extract()?,
        },
        ("delete_scope", 4) => {
            let (_, user_id, agent_id, run_id): (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = t.extract()?;
            Op::DeleteScope(Scope {
                user_id,
                agent_id,
                run_id,
            })
        }
        ("reset", 1) => Op::Reset,
        _ => {
            return Err(Error::invalid(format!(
                "malformed op {kind:?} with {} fields",
                t.len()
            )))
            .py_err()
        }
    };
    Ok(op)
}

/// Little-endian float32 bytes → floats.
pub(crate) fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, Error> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::invalid(format!(
            "a vector must be float32 bytes; got {} bytes, not a multiple of 4",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn metadata(text: Option<&str>) -> Result<Meta, Error> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(Error::invalid("metadata must be a dict")),
        Err(e) => Err(Error::invalid(format!("metadata is not valid JSON: {e}"))),
    }
}
