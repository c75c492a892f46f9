//! The schema, versioned with `PRAGMA user_version` and migrated forward in code.

use rusqlite::Connection;

use crate::{Error, Result};

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: memories with their vectors, append-only history, store facts.
    "CREATE TABLE memories (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        memory     TEXT NOT NULL,
        hash       TEXT NOT NULL,
        user_id    TEXT,
        agent_id   TEXT,
        run_id     TEXT,
        actor_id   TEXT,
        role       TEXT,
        metadata   TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        embedding  BLOB NOT NULL
    );
    CREATE TABLE history (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        memory_id  TEXT NOT NULL,
        old_memory TEXT,
        new_memory TEXT,
        event      TEXT NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE')),
        created_at TEXT,
        updated_at TEXT,
        is_deleted INTEGER NOT NULL DEFAULT 0,
        actor_id   TEXT,
        role       TEXT
    );
    CREATE INDEX history_by_memory ON history (memory_id, seq);
    CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 1 -> 2: a generation number, bumped by every committed write, so that derived
    // state saved beside the database (the vector index snapshot) knows which version of
    // the data it describes.
    "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('generation', '0');",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Store(format!(
            "the store was written by a newer memlane (schema {version}, this one knows {SCHEMA_VERSION}); upgrade memlane"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        // Each step and its version bump commit together, so a crash never leaves a half step.
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
