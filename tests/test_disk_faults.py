"""Disk faults: a full disk and read-only files. The failing call raises StoreError,
nothing is acknowledged that was not saved (and nothing refused is saved), and the store
reopens cleanly afterwards with every acknowledged write.

How the faults are made (no mocks, no mounts):

- Disk full: the writer is a child process (tests/support/disk_child.py) that lowers its
  own soft ``RLIMIT_FSIZE`` to just above the store's current file sizes and ignores
  SIGXFSZ, so SQLite's writes past the limit fail with EFBIG, exactly as on a full disk.
  Variants: small writes; big concurrent writes whose transaction overflows SQLite's page
  cache (so the failure can hit inside a job, not only at COMMIT); the limit already hit
  when the store is opened; and a writer SIGKILLed while the disk is still full. The
  recovering variants raise the limit again in the same process and keep writing.
- Read-only: permission bits, with the child running WITHOUT the capabilities that let
  root ignore them. These tests run as root, and root bypasses file modes through
  CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH/CAP_FOWNER. Switching to an unprivileged user
  is not usable here (the Python interpreter lives under /root, mode 0700), so the child
  drops those capabilities from its bounding set before exec (``prctl(PR_CAPBSET_DROP)``,
  via ctypes in ``preexec_fn``): it is still uid 0 and can run the interpreter, but file
  modes now apply to it. When not running as root nothing needs dropping.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory

from tests.support.det_embedder import DigestEmbedder
from tests.support.store_dump import db_file, dump, history_rows, integrity, memory_rows

REPO = Path(__file__).resolve().parent.parent
USERS = ["u0", "u1", "u2", "u3"]
PR_CAPBSET_DROP = 24
DAC_CAPS = (1, 2, 3, 4)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID


def drop_root_file_powers() -> None:
    """preexec_fn: remove the capabilities that let root ignore file modes."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in DAC_CAPS:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_child(tmp_path: Path, plan: dict[str, Any], *, restricted: bool = False,
              kill_on: str | None = None) -> tuple[list[dict[str, Any]], int, str]:
    plan_file = tmp_path / f"plan-{len(list(tmp_path.glob('plan-*')))}.json"
    plan_file.write_text(json.dumps(plan))
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "tests.support.disk_child", str(plan_file)], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # Only prctl between fork and exec (async-signal-safe enough; no locks taken).
        preexec_fn=drop_root_file_powers if restricted else None,  # noqa: PLW1509
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines = []
    for raw in proc.stdout:
        if not raw.endswith(b"\n"):
            break
        line = json.loads(raw)
        lines.append(line)
        if kill_on is not None and line["ev"] == kill_on:
            proc.send_signal(signal.SIGKILL)
    code = proc.wait(timeout=120)
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    return lines, code, err


class Model:
    """The store's expected content, from the acknowledged writes."""

    def __init__(self) -> None:
        self.live: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.events: dict[str, list[tuple[str, str | None, str | None]]] = {}
        self.acked = 0
        self.refused = 0

    def apply(self, line: dict[str, Any]) -> None:
        self.acked += 1
        if line["op"] == "add":
            for mid, text in zip(line["ids"], line["texts"]):
                self.live[mid] = text
                self.events[mid] = [("ADD", None, text)]
        elif line["op"] == "update":
            old = self.live[line["id"]]
            self.live[line["id"]] = line["text"]
            self.events[line["id"]].append(("UPDATE", old, line["text"]))
        else:
            old = self.live.pop(line["id"])
            self.deleted.add(line["id"])
            self.events[line["id"]].append(("DELETE", old, None))


def check_store(store: Path, model: Model, refused_texts: set[str]) -> None:
    """The SQLite file holds exactly the acknowledged writes, and none refused."""
    db = db_file(store)
    assert integrity(db) == ["ok"]
    rows = memory_rows(db)
    missing = {m: t for m, t in model.live.items() if rows.get(m, {}).get("memory") != t}
    assert not missing, f"acknowledged writes not saved: {list(missing.items())[:3]}"
    extra = set(rows) - set(model.live)
    assert not extra, f"rows no acknowledged write made: {[rows[m]['memory'][:40] for m in extra][:3]}"
    assert not refused_texts & {r["memory"] for r in rows.values()}, "a refused write was saved"
    history = history_rows(db)
    for mid, want in model.events.items():
        got = [(h["event"], h["old_memory"], h["new_memory"]) for h in history.get(mid, [])]
        assert got == want, f"history of {mid}: {got} != {want}"
    assert set(history) == set(model.events), "history rows of writes never acknowledged"


async def reopen_and_write(store: Path, model: Model) -> None:
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(store)}}}
    async with AsyncMemory(config, embedder=DigestEmbedder(32)) as memory:
        seen = {}
        for user in USERS:
            for item in (await memory.get_all(user_id=user, limit=1_000_000))["results"]:
                seen[item["id"]] = item["memory"]
        assert seen == model.live
        new = await memory.add("written after the fault", user_id="u0", infer=False)
        assert (await memory.get(new["results"][0]["id"]))["memory"] == "written after the fault"
    assert integrity(db_file(store)) == ["ok"]


FSIZE_PLANS = {
    # small writes, the disk fills, space comes back
    "small-writes": {"workers": 8, "size": 200, "margin": 64 * 1024, "warmup": 3,
                     "failures": 30, "recover": True, "after": 5},
    # big concurrent writes: a group-committed transaction larger than the page cache
    "big-batches": {"workers": 96, "size": 30_000, "margin": 2_000_000, "warmup": 1,
                    "failures": 96, "recover": True, "after": 2},
    # the disk is already full when the store is opened
    "full-at-open": {"workers": 4, "size": 100, "margin": 1, "limit_before_open": True,
                     "warmup": 2, "failures": 8, "recover": True, "after": 3},
    # killed while the disk is still full (the WAL may end in a torn frame)
    "killed-while-full": {"workers": 16, "size": 500, "margin": 32 * 1024, "warmup": 2,
                          "failures": 20, "hold": True},
}


@pytest.mark.parametrize("variant", list(FSIZE_PLANS))
async def test_disk_full(tmp_path: Path, variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    plan = {"mode": "fsize", "path": str(store), "seed": 7, **FSIZE_PLANS[variant]}
    lines, code, err = run_child(tmp_path, plan, kill_on="holding" if plan.get("hold") else None)
    if plan.get("hold"):
        assert code == -signal.SIGKILL, err
    else:
        assert lines[-1] == {"ev": "done"}, err
        assert code == 0, (f"the child finished its work but exited with status {code} "
                           f"(see test_a_process_exits_cleanly_after_close): {err[-500:]}")
    assert {"ev": "never_failed"} not in lines, "the size limit never made a write fail"

    model = Model()
    refused_texts: set[str] = set()
    phase = "before"
    for line in lines:
        if line["ev"] in ("limited", "recovered"):
            phase = line["ev"]
        elif line["ev"] == "ack":
            model.apply(line)
        elif line["ev"] == "fail":
            model.refused += 1
            assert line["type"] == "StoreError", line
            assert phase == "limited" or line["op"] == "open", f"a write failed {phase}: {line}"
            refused_texts.update(line.get("texts", []) + [line.get("text")] * ("text" in line))
        elif line["ev"] == "state":
            # The writer's own memlane answered exactly what was acknowledged.
            assert dict(map(tuple, line["items"])) == model.live
    if plan.get("limit_before_open"):
        assert any(l["ev"] == "fail" and l["op"] == "open" for l in lines), (
            "opening a fresh store on a full disk did not fail")
    assert model.refused >= plan["failures"] - 1
    refused_texts.discard(None)  # type: ignore[arg-type]
    check_store(store, model, refused_texts)
    await reopen_and_write(store, model)
    with capsys.disabled():
        print(f"\n[disk full: {variant}] acknowledged {model.acked}, refused with StoreError "
              f"{model.refused}, live {len(model.live)}")


# -- read-only files -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def can_restrict(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skips when this machine cannot make a child that respects file modes."""
    probe = tmp_path_factory.mktemp("probe") / "ro"
    probe.write_text("x")
    probe.chmod(0o444)
    result = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
                            preexec_fn=drop_root_file_powers, capture_output=True, check=False)
    if result.returncode == 0:
        pytest.skip("cannot run a child that respects file modes (root with no way to "
                    "drop CAP_DAC_OVERRIDE)")


async def populate(store: Path) -> Model:
    model = Model()
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(store)}}}
    async with AsyncMemory(config, embedder=DigestEmbedder(32)) as memory:
        for i in range(12):
            user = USERS[i % len(USERS)]
            r = await memory.add(f"kept memory {i}", user_id=user, infer=False)
            model.apply({"op": "add", "ids": [r["results"][0]["id"]],
                         "texts": [f"kept memory {i}"]})
    return model


READONLY_SETUPS = {
    "db-file-read-only": lambda store: [db_file(store)],
    "db-and-wal-read-only": lambda store: [p for p in store.iterdir() if p.name != "memlane.db.lock"],
    "lock-file-read-only": lambda store: [store / "memlane.db.lock"],
    "folder-read-only-fresh-store": None,  # special: an empty folder, mode 0555
}


@pytest.mark.parametrize("setup", list(READONLY_SETUPS))
async def test_read_only_store(tmp_path: Path, setup: str, can_restrict: None) -> None:
    store = tmp_path / "store"
    if setup == "folder-read-only-fresh-store":
        store.mkdir()
        model = Model()
        protected = [store]
        modes = {store: 0o555}
    else:
        model = await populate(store)
        protected = READONLY_SETUPS[setup](store)  # type: ignore[misc]
        modes = {p: 0o444 for p in protected}
    before = dump(db_file(store))
    saved = {p: stat.S_IMODE(p.stat().st_mode) for p in protected}
    for p, mode in modes.items():
        p.chmod(mode)
    try:
        lines, code, err = run_child(tmp_path, {"mode": "readonly", "path": str(store)},
                                     restricted=True)
    finally:
        for p, mode in saved.items():
            p.chmod(mode)
    assert lines[-1] == {"ev": "done"}, err
    assert code == 0, (f"the child finished its work but exited with status {code} "
                       f"(see test_a_process_exits_cleanly_after_close): {err[-500:]}")
    fails = [l for l in lines if l["ev"] == "fail"]
    assert [l for l in lines if l["ev"] == "ack"] == [], "a write was acknowledged on a read-only store"
    assert fails and all(l["type"] == "StoreError" for l in fails), fails
    if any(l["op"] == "open" for l in fails):
        assert len(fails) == 1  # refused at open: nothing else was tried
    else:
        assert {l["op"] for l in fails} == {"add", "add_many", "update", "delete",
                                            "delete_all", "reset"}
        for state in (l for l in lines if l["ev"] == "state"):
            assert dict(map(tuple, state["items"])) == model.live
    assert dump(db_file(store)) == before, "the read-only store changed"
    if db_file(store).exists():
        check_store(store, model, {"read-only add", "ro one", "ro two", "read-only update"})
    await reopen_and_write(store, model)
