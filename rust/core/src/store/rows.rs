//! Row-level reads and writes. Every statement is a prepared statement with bound
//! parameters: no caller text is ever spliced into SQL.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::record::{HistoryEvent, MemoryRecord};
use crate::{Error, Result};

const MEMORY_COLUMNS: &str =
    "seq, id, memory, hash, user_id, agent_id, run_id, actor_id, role, metadata, created_at, updated_at, embedding";

/// Calls `visit` with every memory and its raw vector, in insertion order.
pub(crate) fn for_each_memory(
    conn: &Connection,
    mut visit: impl FnMut(MemoryRecord, &[f32]) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {MEMORY_COLUMNS} FROM memories ORDER BY seq"
    ))?;
    let mut rows = stmt.query([])?;
    let mut vector = Vec::new();
    while let Some(row) = rows.next()? {
        let record = memory_from_row(row)??;
        vector.clear();
        vector.extend(
            row.get_ref(12)?
                .as_blob()
                .map_err(rusqlite::Error::from)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        visit(record, &vector)?;
    }
    Ok(())
}

/// Number of memories stored.
pub(crate) fn count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM memories", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

type RowResult = rusqlite::Result<Result<MemoryRecord>>;

fn memory_from_row(row: &Row<'_>) -> RowResult {
    let metadata: Option<String> = row.get(9)?;
    let id: String = row.get(1)?;
    let metadata = match metadata.map(|m| parse_metadata(&id, &m)).transpose() {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(MemoryRecord {
        seq: row.get(0)?,
        id,
        memory: row.get(2)?,
        hash: row.get(3)?,
        user_id: row.get(4)?,
        agent_id: row.get(5)?,
        run_id: row.get(6)?,
        actor_id: row.get(7)?,
        role: row.get(8)?,
        metadata,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    }))
}

fn parse_metadata(id: &str, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Store(format!("metadata of memory {id} is corrupt"))),
    }
}

fn metadata_text(metadata: &Option<Map<String, Value>>) -> Option<String> {
    metadata
        .as_ref()
        .map(|m| Value::Object(m.clone()).to_string())
}

fn vector_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inserts a memory and returns its rowid.
pub(crate) fn insert_memory(conn: &Connection, r: &MemoryRecord, vector: &[f32]) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO memories (id, memory, hash, user_id, agent_id, run_id, actor_id, role, metadata, created_at, updated_at, embedding)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        r.id,
        r.memory,
        r.hash,
        r.user_id,
        r.agent_id,
        r.run_id,
        r.actor_id,
        r.role,
        metadata_text(&r.metadata),
        r.created_at,
        r.updated_at,
        vector_blob(vector),
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Rewrites a memory's text, metadata and timestamp, and its vector when given.
pub(crate) fn update_memory(
    conn: &Connection,
    r: &MemoryRecord,
    vector: Option<&[f32]>,
) -> Result<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE memories SET memory = ?2, hash = ?3, metadata = ?4, updated_at = ?5,
                 embedding = COALESCE(?6, embedding)
             WHERE id = ?1",
        )?
        .execute(params![
            r.id,
            r.memory,
            r.hash,
            metadata_text(&r.metadata),
            r.updated_at,
            vector.map(vector_blob),
        ])?;
    if changed == 0 {
        return Err(Error::NotFound(r.id.clone()));
    }
    Ok(())
}

pub(crate) fn delete_memory(conn: &Connection, id: &str) -> Result<()> {
    let changed = conn
        .prepare_cached("DELETE FROM memories WHERE id = ?1")?
        .execute([id])?;
    if changed == 0 {
        return Err(Error::NotFound(id.to_owned()));
    }
    Ok(())
}

pub(crate) fn insert_history(conn: &Connection, e: &HistoryEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        e.id,
        e.memory_id,
        e.old_memory,
        e.new_memory,
        e.event,
        e.created_at,
        e.updated_at,
        e.is_deleted,
        e.actor_id,
        e.role,
    ])?;
    Ok(())
}

/// A memory's history, oldest first.
pub(crate) fn history(conn: &Connection, memory_id: &str) -> Result<Vec<HistoryEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role
         FROM history WHERE memory_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([memory_id], |row| {
        Ok(HistoryEvent {
            id: row.get(0)?,
            memory_id: row.get(1)?,
            old_memory: row.get(2)?,
            new_memory: row.get(3)?,
            event: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
            is_deleted: row.get(7)?,
            actor_id: row.get(8)?,
            role: row.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn reset(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM memories; DELETE FROM history;")?;
    Ok(())
}

pub(crate) fn read_dims(conn: &Connection) -> Result<Option<usize>> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM store_meta WHERE key = 'dims'", [], |r| {
            r.get(0)
        })
        .optional()?;
    text.map(|t| {
        t.parse()
            .map_err(|_| Error::Store(format!("the store's recorded dimension {t:?} is corrupt")))
    })
    .transpose()
}

pub(crate) fn write_dims(conn: &Connection, dims: usize) -> Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('dims', ?1)")?
        .execute([dims.to_string()])?;
    Ok(())
}

/// Marks one more committed write (inside the writer's transaction).
pub(crate) fn bump_generation(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
    )?
    .execute([])?;
    Ok(())
}

/// The number of committed writes so far (see `bump_generation`).
pub(crate) fn read_generation(conn: &Connection) -> Result<u64> {
    let text: String = conn.query_row(
        "SELECT value FROM store_meta WHERE key = 'generation'",
        [],
        |r| r.get(0),
    )?;
    text.parse()
        .map_err(|_| Error::Store(format!("the store's generation {text:?} is corrupt")))
}
