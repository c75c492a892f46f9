"""Reading an embedded store's SQLite file directly (stdlib sqlite3, read-only), for the
robustness suites: integrity checks and full dumps that prove what is on disk.

The reads run in a separate helper process, never in the test process. The test process
also has memlane's own (bundled) SQLite loaded, and two SQLite libraries in one process
must not open the same database file: POSIX locks are per process, so the second library
sees no other connection, takes itself for the first one, and rebuilds the shared-memory
wal-index under the first one's feet (SIGBUS, or worse; see "How To Corrupt An SQLite
Database File", section 2.2.1). A helper process is just another reader, which WAL
supports while memlane writes.

Run as ``python -m tests.support.store_dump`` it is that helper: it answers pickled
requests on stdin with pickled replies on stdout (length-prefixed frames).
"""

from __future__ import annotations

import atexit
import pickle
import sqlite3
import struct
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["contents", "db_file", "dump", "history_rows", "integrity", "memory_rows"]

_REPO = Path(__file__).resolve().parent.parent.parent


def db_file(folder: Path | str, collection: str = "memlane") -> Path:
    """The SQLite file of the embedded store configured with ``path=folder``."""
    return Path(folder) / f"{collection}.db"


# -- the helper process side --------------------------------------------------------------

def _connect(db: str) -> sqlite3.Connection:
    # mode=ro: never writes the database itself; committed WAL content is read.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    return conn


def _integrity(db: str) -> list[str]:
    with closing(_connect(db)) as conn:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]


def _rows(db: str, sql: str) -> list[dict[str, Any]]:
    with closing(_connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def _dump(db: str) -> dict[str, list[tuple[Any, ...]]]:
    if not Path(db).exists():
        return {"memories": [], "history": [], "store_meta": []}
    with closing(_connect(db)) as conn:
        conn.execute("BEGIN")  # one snapshot for all three tables
        return {
            "memories": conn.execute("SELECT * FROM memories ORDER BY seq").fetchall(),
            "history": conn.execute("SELECT * FROM history ORDER BY seq").fetchall(),
            "store_meta": conn.execute("SELECT * FROM store_meta ORDER BY key").fetchall(),
        }


def _contents(db: str) -> dict[str, list[dict[str, Any]]]:
    if not Path(db).exists():
        return {"memories": [], "history": [], "meta": []}
    with closing(_connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")
        return {
            "memories": [dict(r) for r in conn.execute("SELECT * FROM memories ORDER BY seq")],
            "history": [dict(r) for r in conn.execute("SELECT * FROM history ORDER BY seq")],
            "meta": [dict(r) for r in conn.execute("SELECT * FROM store_meta ORDER BY key")],
        }


_HANDLERS = {"integrity": _integrity, "rows": _rows, "dump": _dump, "contents": _contents}


def _read_frame(stream: BinaryIO) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(stream.read(size))


def _write_frame(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _serve() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            name, args = _read_frame(stdin)
        except EOFError:
            return
        try:
            reply = ("ok", _HANDLERS[name](*args))
        except Exception as err:  # noqa: BLE001 - sent back and re-raised in the test
            reply = ("error", f"{type(err).__name__}: {err}")
        _write_frame(stdout, reply)


# -- the test process side ----------------------------------------------------------------

class _Helper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def call(self, name: str, *args: Any) -> Any:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.store_dump"], cwd=_REPO,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                )
            assert self._proc.stdin is not None and self._proc.stdout is not None
            _write_frame(self._proc.stdin, (name, args))  # type: ignore[arg-type]
            status, value = _read_frame(self._proc.stdout)  # type: ignore[arg-type]
        if status != "ok":
            raise RuntimeError(f"reading the store failed: {value}")
        return value

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


_helper = _Helper()
atexit.register(_helper.close)


def integrity(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` rows (``["ok"]`` for a sound file)."""
    return _helper.call("integrity", str(db))


def memory_rows(db: Path) -> dict[str, dict[str, Any]]:
    """Every row of ``memories`` by id (columns as stored, embedding as bytes)."""
    rows = _helper.call("rows", str(db), "SELECT * FROM memories ORDER BY seq")
    return {r["id"]: r for r in rows}


def history_rows(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``history``, grouped by memory_id, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in _helper.call("rows", str(db), "SELECT * FROM history ORDER BY seq"):
        out.setdefault(r["memory_id"], []).append(r)
    return out


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Full content of the store's tables, row by row in storage order, as one snapshot."""
    return _helper.call("dump", str(db))


def contents(vector_store: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Everything a store holds, read from its database (not through memlane), for the
    ``vector_store`` section of a config: ``{"memories", "history", "meta"}``, each a
    list of rows (column name -> value) in insertion order, read as one snapshot.

    Embedded: the SQLite file (read in the helper process). Postgres: the collection's
    three tables, read with psycopg in one REPEATABLE READ transaction.
    """
    settings = vector_store["config"]
    if vector_store["provider"] == "embedded":
        return _helper.call("contents", str(db_file(settings["path"], settings.get("collection", "memlane"))))
    import psycopg
    from memlane.providers.stores.postgres.rows import unescape
    from psycopg import sql
    from psycopg.rows import dict_row

    collection = settings.get("collection", "memlane")
    out: dict[str, list[dict[str, Any]]] = {}
    with psycopg.connect(settings["dsn"], row_factory=dict_row) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        for part, order in (("memories", "seq"), ("history", "seq"), ("meta", "key")):
            table = sql.Identifier(f"{collection}_{part}")
            exists = conn.execute("SELECT to_regclass(%s) AS t", (f'"{collection}_{part}"',)).fetchone()
            if exists is None or exists["t"] is None:
                out[part] = []
                continue
            query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(table, sql.Identifier(order))
            # postgres escapes NUL in stored text (see its rows.escape): show the text itself
            out[part] = [{k: unescape(v) if isinstance(v, str) else v for k, v in r.items()}
                         for r in conn.execute(query)]
        conn.rollback()
    return out


if __name__ == "__main__":
    _serve()
