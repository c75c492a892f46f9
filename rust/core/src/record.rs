//! The two row types the engine hands out: a memory and a history event.

use serde_json::{Map, Value};

/// One stored memory (its vector lives in the vector arena, not here).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRecord {
    /// UUID4 text.
    pub id: String,
    /// The memory's text.
    pub memory: String,
    /// MD5 hex digest of `memory` (as Mem0 computes it).
    pub hash: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    pub actor_id: Option<String>,
    pub role: Option<String>,
    /// User metadata; `None` when empty.
    pub metadata: Option<Map<String, Value>>,
    pub created_at: String,
    pub updated_at: String,
    /// SQLite rowid: insertion order, used to list memories oldest first.
    pub seq: i64,
}

impl MemoryRecord {
    /// The value of a string field that filters can name directly.
    pub fn field(&self, field: Field) -> Option<&str> {
        match field {
            Field::UserId => self.user_id.as_deref(),
            Field::AgentId => self.agent_id.as_deref(),
            Field::RunId => self.run_id.as_deref(),
            Field::ActorId => self.actor_id.as_deref(),
            Field::Role => self.role.as_deref(),
            Field::CreatedAt => Some(&self.created_at),
            Field::UpdatedAt => Some(&self.updated_at),
        }
    }
}

/// The built-in fields of a memory that filters address by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    UserId,
    AgentId,
    RunId,
    ActorId,
    Role,
    CreatedAt,
    UpdatedAt,
}

impl Field {
    /// The field a filter key names, if it is a built-in one.
    pub fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "user_id" => Field::UserId,
            "agent_id" => Field::AgentId,
            "run_id" => Field::RunId,
            "actor_id" => Field::ActorId,
            "role" => Field::Role,
            "created_at" => Field::CreatedAt,
            "updated_at" => Field::UpdatedAt,
            _ => return None,
        })
    }

    /// The key that names this field in filters and results.
    pub fn name(self) -> &'static str {
        match self {
            Field::UserId => "user_id",
            Field::AgentId => "agent_id",
            Field::RunId => "run_id",
            Field::ActorId => "actor_id",
            Field::Role => "role",
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
        }
    }

    /// Scope fields have a posting list per value, so the planner can start from them.
    pub fn is_scope(self) -> bool {
        matches!(self, Field::UserId | Field::AgentId | Field::RunId)
    }
}

/// One row of a memory's history; append-only, kept after the memory is deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: String,
    pub memory_id: String,
    pub old_memory: Option<String>,
    pub new_memory: Option<String>,
    /// `ADD`, `UPDATE` or `DELETE`.
    pub event: String,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub is_deleted: bool,
    pub actor_id: Option<String>,
    pub role: Option<String>,
}
