"""``memlane serve`` as a real subprocess: it announces its URL, answers HTTP, stops
gracefully on SIGTERM/SIGINT (exit 0, store released), and reports what keeps it from
starting, or from writing, without a traceback."""

from __future__ import annotations

import json
import queue
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from memlane import Memory

from tests.support.cli_runner import TIMEOUT, cli_env, run_memlane

_SERVING = re.compile(r"^memlane: serving (http://\S+) ")


class ServeProcess:
    """``python -m memlane serve --port 0 ...`` with its stderr read line by line."""

    def __init__(
        self, scratch: Path, config: Path, *args: str, file_size_limit: int | None = None
    ) -> None:
        def limit_file_size() -> None:  # runs in the child, before exec
            # Writes past the limit then fail with EFBIG, as on a full disk, instead of
            # killing the process with SIGXFSZ (an ignored signal stays ignored across exec).
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, hard))

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "memlane",
                "serve",
                "--port",
                "0",
                "--log-level",
                "warning",
                "--config",
                str(config),
                *args,
            ],
            cwd=scratch,
            env=cli_env(scratch),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            preexec_fn=limit_file_size if file_size_limit is not None else None,  # noqa: PLW1509
        )
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, deadline: float) -> str | None:
        line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        if line is not None:
            self.stderr.append(line)
        return line

    def url(self) -> str:
        """The announced URL; fails if the process ends (or stays silent) first."""
        deadline = time.monotonic() + TIMEOUT
        while (line := self._next_line(deadline)) is not None:
            match = _SERVING.match(line)
            if match:
                return match.group(1)
        raise AssertionError(f"serve ended without serving: {''.join(self.stderr)}")

    def wait(self) -> int:
        """The exit code, once stderr is fully read."""
        deadline = time.monotonic() + TIMEOUT
        while self._next_line(deadline) is not None:
            pass
        return self.proc.wait(timeout=TIMEOUT)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def serving(tmp_path: Path, api_config_file: Path):
    """Starts serve processes for the test; kills any still running at the end."""
    started: list[ServeProcess] = []

    def start(*args: str, **kwargs: Any) -> ServeProcess:
        process = ServeProcess(tmp_path, api_config_file, *args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@contextmanager
def healthy(url: str) -> Iterator[httpx.Client]:
    """A client on ``url``, once GET /health answers 200 (polled, bounded)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url}/health never answered 200"
            time.sleep(0.05)
        yield client


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_then_stops_gracefully(serving, tmp_path: Path, api_config_file: Path, sig):
    server = serving()
    url = server.url()
    assert url.startswith("http://127.0.0.1:"), "loopback by default"
    with healthy(url) as client:
        response = client.post(
            "/memories", json={"messages": "Likes tea", "user_id": "alice", "infer": False}
        )
        assert response.status_code == 200, response.text
        assert [
            m["memory"]
            for m in client.get("/memories", params={"user_id": "alice"}).json()["results"]
        ] == ["Likes tea"]
    assert server.stop(sig) == 0, "".join(server.stderr)
    assert "Traceback" not in "".join(server.stderr)
    # The store was closed and released: another process opens it and sees the write.
    listed = run_memlane(
        "list", "--user-id", "alice", "--config", str(api_config_file), scratch=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert [m["memory"] for m in json.loads(listed.stdout)["results"]] == ["Likes tea"]


def test_serve_reports_a_store_in_use_and_exits_7(serving, api_config: dict[str, Any]):
    with Memory(api_config):
        server = serving()
        assert server.wait() == 7
    assert len(server.stderr) == 1, server.stderr
    assert (
        server.stderr[0].startswith("memlane: StoreError: ")
        and "in use by another process" in server.stderr[0]
    )


def test_serve_on_a_busy_port_exits_9(serving):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = serving("--port", str(port))  # the later --port wins over --port 0
        assert server.wait() == 9
    assert len(server.stderr) == 1, server.stderr
    assert server.stderr[0].startswith(f"memlane: cannot listen on 127.0.0.1:{port}: "), (
        server.stderr
    )


def test_a_full_disk_is_a_503_store_error_and_the_server_serves_on(
    serving, tmp_path: Path, api_config_file: Path
):
    seeded = run_memlane(
        "add",
        "Likes tea",
        "--user-id",
        "alice",
        "--no-infer",
        "--config",
        str(api_config_file),
        scratch=tmp_path,
    )
    assert seeded.returncode == 0, seeded.stderr
    largest = max(f.stat().st_size for f in (tmp_path / "store").iterdir())
    server = serving(file_size_limit=largest + 256 * 1024)
    with healthy(server.url()) as client:
        too_big = {
            "messages": "Likes jazz",
            "user_id": "alice",
            "infer": False,
            "metadata": {"notes": "x" * (2 * 1024 * 1024)},
        }
        response = client.post("/memories", json=too_big)
        assert response.status_code == 503, response.text
        body = response.json()
        assert set(body) == {"error", "detail"} and body["error"] == "StoreError", body
        assert client.get("/health").status_code == 200
        listed = client.get("/memories", params={"user_id": "alice"}).json()["results"]
        assert [m["memory"] for m in listed] == ["Likes tea"], "the refused write left nothing"
    server.stop()
    logged = "".join(server.stderr)
    assert "-> 503 StoreError" in logged, "operators see the failure in the log"
    assert "Traceback" not in logged


def test_serve_with_a_bad_config_exits_3_before_listening(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"vector_store": {"provider": "embedded", "config": {"paht": "x"}}}')
    result = run_memlane("serve", "--port", "0", "--config", str(bad), scratch=tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "paht" in result.stderr
    assert "serving" not in result.stderr
