"""Small measurement helpers shared by the benchmarks: percentiles, medians of passes,
process memory, machine facts, and the printed table."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REPO_ROOT",
    "RESULTS_DIR",
    "machine_info",
    "median_of",
    "percentiles_ms",
    "print_table",
    "proc_memory_mb",
    "write_json",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Git-ignored; every benchmark writes its JSON here.
RESULTS_DIR = REPO_ROOT / "bench-results"


def percentiles_ms(
    samples_ns: Sequence[int] | np.ndarray, points: Iterable[float]
) -> dict[str, float]:
    """Percentiles of nanosecond samples, in milliseconds, keyed ``p50``, ``p95``, ..."""
    data = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {f"p{p:g}": float(np.percentile(data, p)) for p in points}


def median_of(passes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-key median over passes (nested dicts too): one noisy pass cannot skew it."""
    out: dict[str, Any] = {}
    for key, first in passes[0].items():
        values = [p[key] for p in passes]
        if isinstance(first, dict):
            out[key] = median_of(values)
        elif isinstance(first, (int, float)) and not isinstance(first, bool):
            out[key] = statistics.median(values)
        else:
            out[key] = first
    return out


def proc_memory_mb() -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in MB."""
    found: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(rest.split()[0]) / 1024  # the kernel reports kB
    return {"rss_mb": found["VmRSS"], "peak_rss_mb": found["VmHWM"]}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """What a reader needs to compare figures between runs."""
    import memlane
    from memlane import _native

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        # Other work on the machine skews every figure; the reader should see how much.
        "load_average_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "memlane": getattr(memlane, "__version__", "?"),
        # Which build ran: an editable debug build lives in the source tree, the
        # benchmark's release build in a virtualenv's site-packages.
        "native_module": _native.__file__,
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """Rows of (what, figure, target-or-note), aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"\n{title}")
    print("-" * (sum(widths) + 6))
    for what, figure, note in rows:
        print(f"{what:<{widths[0]}}   {figure:>{widths[1]}}   {note}")
