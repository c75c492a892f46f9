"""The ``memlane`` command line, run as a subprocess against a store in tmp_path: JSON
on stdout, one line on stderr for an error, and an exit code per error class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from memlane import Memory
from memlane.server import cli

from tests.support.cli_runner import run_memlane
from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import check_add_results, check_history, check_item

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def memlane(tmp_path: Path, api_config_file: Path):
    """``memlane(*args)``: runs the command line with ``--config`` set to the test's store."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_memlane(*args, "--config", str(api_config_file), scratch=tmp_path, **env)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed (asserting success and a quiet stderr)."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, (
        "one compact line when piped"
    )
    return json.loads(result.stdout)


def failed(result: subprocess.CompletedProcess[str], code: int, error: str, fragment: str) -> None:
    """Asserts the command failed with ``code`` and one stderr line naming ``error``."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    assert result.stderr.startswith(f"memlane: {error}: "), result.stderr
    assert fragment in result.stderr, result.stderr


def test_round_trip_through_every_memory_command(memlane):
    added = ok(
        memlane(
            "add",
            "Allergic to peanuts",
            "--user-id",
            "alice",
            "--agent-id",
            "diet",
            "--no-infer",
            "--metadata",
            '{"topic": "health"}',
        )
    )
    [memory_id] = check_add_results(added, ["Allergic to peanuts"])
    ok(memlane("add", "Plays the cello", "--user-id", "alice", "--no-infer"))

    listed = ok(memlane("list", "--user-id", "alice"))["results"]
    assert [m["memory"] for m in listed] == ["Allergic to peanuts", "Plays the cello"]
    check_item(listed[0], scope={"user_id": "alice", "agent_id": "diet"})
    assert listed[0]["metadata"] == {"topic": "health"}
    assert [m["memory"] for m in ok(memlane("list", "--agent-id", "diet"))["results"]] == [
        "Allergic to peanuts"
    ]

    got = ok(memlane("get", memory_id))
    assert got == listed[0]

    hits = ok(memlane("search", "peanuts allergy", "--user-id", "alice", "--limit", "1"))["results"]
    assert [h["id"] for h in hits] == [memory_id]
    check_item(hits[0], scope={"user_id": "alice", "agent_id": "diet"}, score=True)
    filtered = ok(
        memlane("search", "peanuts", "--user-id", "alice", "--filters", '{"topic": "music"}')
    )
    assert filtered == {"results": []}

    assert ok(memlane("update", memory_id, "Allergic to peanuts and cashews")) == {
        "message": "Memory updated successfully!"
    }
    assert ok(memlane("update", memory_id, "--metadata", '{"topic": "allergy"}'))["message"]
    got = ok(memlane("get", memory_id))
    assert (got["memory"], got["metadata"]) == (
        "Allergic to peanuts and cashews",
        {"topic": "allergy"},
    )

    assert ok(memlane("delete", memory_id)) == {"message": "Memory deleted successfully!"}
    events = ok(memlane("history", memory_id))
    assert check_history(events, memory_id) == ["ADD", "UPDATE", "UPDATE", "DELETE"]
    failed(memlane("get", memory_id), 4, "MemoryNotFoundError", memory_id)


def test_add_infers_facts_with_the_llm(memlane, llm_server: FakeOpenAI):
    llm_server.script_chat(json.dumps({"memory": [{"event": "ADD", "text": "Is vegetarian"}]}))
    added = ok(memlane("add", "I stopped eating meat last year.", "--user-id", "alice"))
    assert [(r["memory"], r["event"]) for r in added["results"]] == [("Is vegetarian", "ADD")]
    assert llm_server.chat_calls == 1
    assert [m["memory"] for m in ok(memlane("list", "--user-id", "alice"))["results"]] == [
        "Is vegetarian"
    ]


def test_output_is_utf8_json_whatever_the_locale(memlane):
    text = "Café ☕ in Zürich"
    ok(memlane("add", text, "--user-id", "zoë", "--no-infer"))
    result = memlane("list", "--user-id", "zoë", LC_ALL="C", LANG="C", PYTHONIOENCODING="ascii")
    assert text in result.stdout, "non-ASCII text is written as UTF-8, not escaped"
    assert ok(result)["results"][0]["memory"] == text


@pytest.mark.parametrize("case", ["validation", "not found", "llm", "embedding"])
def test_each_error_class_has_its_exit_code_and_one_line(
    memlane, llm_server: FakeOpenAI, case: str
):
    if case == "validation":
        failed(memlane("list"), 3, "ValidationError", "pass user_id, agent_id or run_id")
    elif case == "not found":
        failed(memlane("update", "no-such-id", "text"), 4, "MemoryNotFoundError", "no-such-id")
    elif case == "llm":
        llm_server.script_chat("I am not JSON at all")
        failed(memlane("add", "I like tea", "--user-id", "alice"), 5, "LLMError", "no JSON object")
    else:
        llm_server.fail_embeddings(1)
        failed(
            memlane("add", "I like tea", "--user-id", "alice", "--no-infer"),
            6,
            "EmbeddingError",
            "",
        )
    assert ok(memlane("list", "--user-id", "alice")) == {"results": []}, "nothing was stored"


def test_store_held_by_another_process_exits_7(memlane, api_config: dict[str, Any]):
    with Memory(api_config) as holder:
        holder.add("held", user_id="alice", infer=False)
        failed(memlane("list", "--user-id", "alice"), 7, "StoreError", "in use by another process")
    assert [m["memory"] for m in ok(memlane("list", "--user-id", "alice"))["results"]] == ["held"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        ((), "the following arguments are required: COMMAND"),
        (("forget",), "invalid choice: 'forget'"),
        (("add", "--user-id", "alice"), "the following arguments are required: TEXT"),
        (
            ("add", "x", "--user-id", "alice", "--metadata", "{oops"),
            "argument --metadata: not JSON",
        ),
        (("add", "x", "--user-id", "alice", "--metadata", "[1]"), "must be a JSON object"),
        (("search", "x", "--user-id", "alice", "--limit", "0"), "must be a positive integer"),
        (
            ("list", "--user-id", "alice", "--limit", str(2**64)),
            "must be a positive integer up to 2**63-1",
        ),
        (("list", "--user-id", "alice", "--colour", "red"), "unrecognized arguments: --colour red"),
        (("serve", "--port", "70000"), "argument --port: must be 0 to 65535"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: tuple[str, ...], fragment: str):
    result = run_memlane(*args, scratch=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    assert "--help" in result.stderr
    assert not (tmp_path / "default-store").exists(), "nothing was opened"


def test_config_comes_from_the_flag_then_the_environment(tmp_path: Path, api_config_file: Path):
    env_store = {"MEMLANE_CONFIG": str(api_config_file)}
    ok(
        run_memlane(
            "add", "from env", "--user-id", "alice", "--no-infer", scratch=tmp_path, **env_store
        )
    )
    # --config before the command, and winning over a broken MEMLANE_CONFIG.
    broken = {"MEMLANE_CONFIG": str(tmp_path / "missing.json")}
    listed = ok(
        run_memlane(
            "--config",
            str(api_config_file),
            "list",
            "--user-id",
            "alice",
            scratch=tmp_path,
            **broken,
        )
    )
    assert [m["memory"] for m in listed["results"]] == ["from env"]
    failed(
        run_memlane("list", "--user-id", "alice", scratch=tmp_path, **broken),
        3,
        "ValidationError",
        "missing.json",
    )


def test_defaults_apply_without_any_config(tmp_path: Path):
    # With no config, no key and the local model installed, AsyncMemory's defaults are an
    # offline embedder and the store in $MEMLANE_DIR (which cli_env puts in tmp_path).
    from memlane.providers.embedders.local_embedder import LocalEmbedder

    if not LocalEmbedder.is_available():
        pytest.skip("the default embedder without an API key is the local model (memlane[local])")
    ok(run_memlane("add", "Likes tea", "--user-id", "alice", "--no-infer", scratch=tmp_path))
    listed = ok(run_memlane("list", "--user-id", "alice", scratch=tmp_path))
    assert [m["memory"] for m in listed["results"]] == ["Likes tea"]
    assert (tmp_path / "default-store" / "memlane.db").exists()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must hold a JSON object, got list"),
        ('{"vector_store": {"provider": "embedded", "config": {"paht": "/tmp"}}}', "paht"),
        ('{"llm": {"provider": "anthropic"}}', "'anthropic' is not supported"),
    ],
)
def test_a_bad_config_file_exits_3_naming_the_file(tmp_path: Path, content: str, fragment: str):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = run_memlane("list", "--user-id", "alice", "--config", str(path), scratch=tmp_path)
    failed(result, 3, "ValidationError", fragment)
    assert "bad.json" in result.stderr


def test_help_version_and_exit_code_table(tmp_path: Path):
    result = run_memlane("--help", scratch=tmp_path)
    assert result.returncode == 0
    for line in (
        "3  ValidationError",
        "4  MemoryNotFoundError",
        "5  LLMError",
        "6  EmbeddingError",
        "7  StoreError",
        "8  MemlaneError",
        "9  serve could not start",
    ):
        assert line in result.stdout
    version = run_memlane("--version", scratch=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("memlane ")


def test_the_console_script_points_at_main():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["memlane"].partition(":")
    assert (module, name) == ("memlane.server.cli", "main")
    assert cli.main is getattr(sys.modules[module], name)


def test_the_command_line_does_not_need_the_server_extra(tmp_path: Path):
    # Only `serve` needs FastAPI/uvicorn (or pydantic): the memory commands must run
    # where `pip install memlane` alone was done.
    code = (
        "import sys, memlane.server, memlane.server.cli\n"
        "print(sorted(m for m in ('fastapi', 'pydantic', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
