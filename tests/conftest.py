"""Shared pytest configuration. Sections are owned by different test modules; keep each
section self-contained and clearly separated."""

from __future__ import annotations

import sys
from pathlib import Path

# --- import path: make `tests.support` importable however pytest is started ------------
# `python -m pytest` puts the working directory on sys.path, but the bare `pytest`
# command only adds this directory; test modules import `tests.support.*`, which needs
# the repository root.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
