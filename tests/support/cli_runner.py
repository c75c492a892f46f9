"""Running the ``memlane`` command line as a real subprocess (``python -m memlane``).

The child's environment is this one minus every variable that would choose a config or
an LLM behind the test's back (``MEMLANE_CONFIG``, ``OPENAI_*``), with ``MEMLANE_DIR``
pointed at a scratch folder so a default store never lands in the home directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["cli_env", "run_memlane"]

#: Longest any one command may take (each opens a store and exits).
TIMEOUT = 120

_CHOOSERS = ("MEMLANE_CONFIG", "MEMLANE_DIR", "OPENAI_API_KEY", "OPENAI_BASE_URL")


def cli_env(scratch: Path, **extra: str) -> dict[str, str]:
    """The environment for a memlane child process (see the module docstring)."""
    env = {key: value for key, value in os.environ.items() if key not in _CHOOSERS}
    env["MEMLANE_DIR"] = str(scratch / "default-store")
    env.update(extra)
    return env


def run_memlane(*args: str, scratch: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m memlane ARGS`` in ``scratch`` and returns its outcome (text, UTF-8)."""
    return subprocess.run(
        [sys.executable, "-m", "memlane", *args],
        cwd=scratch,
        env=cli_env(scratch, **env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
