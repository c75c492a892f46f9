//! The SQLite side of the embedded store: connections, schema, and row reads/writes.

mod rows;
mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result};

pub(crate) use rows::{
    bump_generation, count, delete_memory, for_each_memory, history, insert_history, insert_memory,
    read_dims, read_generation, reset, update_memory, write_dims,
};

/// Opens the database read-write (creating it if missing) and brings its schema up to date.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| Error::Store(format!("cannot open the store at {}: {e}", path.display())))?;
    configure(&conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Store(format!(
            "the store at {} cannot use write-ahead logging (journal_mode is {mode})",
            path.display()
        )));
    }
    schema::migrate(&conn)?;
    Ok(conn)
}

/// A second connection for reads that go to disk (history), so that they never wait
/// behind the writer's transaction (WAL lets readers and one writer run together).
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // FULL: a transaction that returned is on disk, even if the machine loses power.
    // journal_size_limit: after a checkpoint, the WAL file is cut back to at most 4 MiB
    // instead of keeping the size of the largest burst of writes.
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304;",
    )?;
    Ok(())
}
