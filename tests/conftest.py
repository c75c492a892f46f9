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


# --- contract-test fixtures (test_api_methods, test_errors, test_filters, ...) ---------
# A real AsyncMemory on the real embedded store in tmp_path, with the real openai embedder
# talking to the fake OpenAI-compatible server on 127.0.0.1.

from collections.abc import AsyncIterator, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.support.fake_openai import FakeOpenAI  # noqa: E402
from tests.support.memory_helpers import DIMS, memory_config  # noqa: E402


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAI]:
    """One fake OpenAI server for the session (vectors are deterministic, so sharing is safe)."""
    with FakeOpenAI(dims=DIMS) as server:
        yield server


@pytest.fixture
def mem_config(tmp_path: Path, fake_server: FakeOpenAI) -> dict[str, Any]:
    """Config dict for a fresh embedded store in ``tmp_path``."""
    return memory_config(tmp_path, fake_server.base_url)


@pytest.fixture
async def memory(mem_config: dict[str, Any]) -> AsyncIterator[Any]:
    """An open AsyncMemory on a fresh store; closed after the test."""
    from memlane import AsyncMemory

    m = AsyncMemory(mem_config)
    try:
        yield m
    finally:
        await m.close()
