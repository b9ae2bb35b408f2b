"""Statistics, ratios, the machine description, tables and result files.

Absolute times on these shared 2-core machines are noise, so results are reported as ratios, and a
ratio is the median of per-round ratios (contenders are interleaved round by round, so drift of the
machine hits every contender of a round alike).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    collected = list(values)
    return statistics.median(collected) if collected else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def median_ratio(pairs: Iterable[tuple[float, float]]) -> float | None:
    """The median of the per-round ratios a/b (rounds where b is 0 are left out)."""
    ratios = [a / b for a, b in pairs if b > 0]
    return statistics.median(ratios) if ratios else None


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    limit: float
    at_most: bool
    """True: met when value <= limit; False: met when value >= limit."""
    detail: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "comparison": "<=" if self.at_most else ">=",
            "met": self.met,
            "detail": self.detail,
        }

    def line(self) -> str:
        verdict = {True: "MET", False: "MISSED", None: "NOT MEASURED"}[self.met]
        value = "n/a" if self.value is None else f"{self.value:.2f}"
        comparison = "<=" if self.at_most else ">="
        detail = f"  ({self.detail})" if self.detail else ""
        return f"{verdict:13} {self.name}: {value} (target {comparison} {self.limit:g}){detail}"


def _command_output(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _command_output(["node", "--version"]),
        "taskset": shutil.which("taskset") is not None,
        # Other work on the machine shows up as noise: the load average says how busy it was.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def write_result(name: str, result: Mapping[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """`results/<name>.json` (the latest run of that benchmark, overwritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (also readable in a terminal)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)
