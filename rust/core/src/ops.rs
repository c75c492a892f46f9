//! The changes a caller asks for. One call to [`crate::Engine::apply`] takes a list of
//! them and applies all or none, in one SQLite transaction.

use serde_json::{Map, Value};

use crate::record::MemoryRecord;

/// The scope a memory belongs to (or a `delete_all` targets): up to three ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

impl Scope {
    /// True when no id is set.
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none() && self.agent_id.is_none() && self.run_id.is_none()
    }
}

/// A memory to insert.
#[derive(Debug, Clone)]
pub struct NewMemory {
    pub text: String,
    /// Raw embedding as the embedder produced it (stored as given, searched normalised).
    pub vector: Vec<f32>,
    pub scope: Scope,
    pub actor_id: Option<String>,
    pub role: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// One change.
#[derive(Debug, Clone)]
pub enum Op {
    Add(NewMemory),
    /// Replace the text (with its new vector) and/or the metadata of a memory.
    Update {
        id: String,
        text: Option<(String, Vec<f32>)>,
        /// `Some(None)` clears the metadata; `None` keeps it.
        metadata: Option<Option<Map<String, Value>>>,
    },
    Delete {
        id: String,
    },
    /// Delete every memory whose scope contains all the ids given (subset match).
    DeleteScope(Scope),
    /// Empty the store: every memory and every history row.
    Reset,
}

impl Op {
    /// The memory ids this op reads or writes by name (used to keep conflicting ops out
    /// of the same group commit). `None` means "touches anything": it must run alone.
    pub(crate) fn touched_ids(&self) -> Option<Vec<&str>> {
        match self {
            Op::Add(_) => Some(Vec::new()),
            Op::Update { id, .. } | Op::Delete { id } => Some(vec![id.as_str()]),
            Op::DeleteScope(_) | Op::Reset => None,
        }
    }
}

/// What one op did.
#[derive(Debug, Clone)]
pub enum Outcome {
    Added(MemoryRecord),
    Updated {
        record: MemoryRecord,
        previous: String,
    },
    Deleted(MemoryRecord),
    /// The memories a scope delete removed.
    DeletedScope(Vec<MemoryRecord>),
    Reset,
}
