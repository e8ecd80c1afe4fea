"""What every benchmark script shares: figures (value beside goal), statistics, process memory.

A script reports :class:`Figure` rows; with ``--json FILE`` it also writes them there, which is
how ``python -m bench`` collects them into one table. Statistics are the plain ones: medians
of runs, nearest-rank percentiles of samples (with few samples p99 is the worst one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RBAC_FILE = ROOT / "charts" / "recording-operator" / "files" / "rbac.yaml"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One line of the table: a measured value beside its goal."""

    name: str
    value: float | None
    unit: str
    goal: str
    #: None: informational (no goal to meet).
    met: bool | None
    #: How it was measured (runs, the spread of runs); goes to docs/benchmarks.md.
    detail: str = ""
    runs: list[float] = field(default_factory=list)

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        digits = 0 if abs(self.value) >= 100 else 1 if abs(self.value) >= 10 else 2
        return f"{self.value:.{digits}f} {self.unit}".strip()

    def verdict(self) -> str:
        return "—" if self.met is None else ("yes" if self.met else "NO")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tiny", action="store_true", help="a few seconds: proves it works")
    parser.add_argument("--runs", type=int, default=None, help="repetitions (medians are shown)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures to FILE (for python -m bench)")


@dataclass
class Section:
    """What one script reports: its figures, and text (a curve, a table) shown beside them."""

    title: str
    figures: list[Figure]
    text: str = ""


def emit(figures: Sequence[Figure], json_path: Path | None, title: str, text: str = "") -> None:
    print(f"\n{title}")
    width = max(len(f.name) for f in figures)
    for f in figures:
        print(f"  {f.name:<{width}}  {f.shown():>12}   goal {f.goal or '—':<22} {f.verdict()}")
    if json_path is not None:
        json_path.write_text(json.dumps(
            {"title": title, "text": text, "figures": [asdict(f) for f in figures]}, indent=1))


def load_section(path: Path) -> Section:
    data = json.loads(path.read_text())
    return Section(data["title"], [Figure(**item) for item in data["figures"]], data["text"])


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], unit: str, digits: int = 1) -> str:
    """'runs: 1.2, 1.4, 1.3 s' — every run, so the reader sees the noise."""
    return "runs: " + ", ".join(f"{v:.{digits}f}" for v in values) + (f" {unit}" if unit else "")


def rbac_rules() -> dict[str, list[dict[str, Any]]]:
    rules: dict[str, list[dict[str, Any]]] = yaml.safe_load(RBAC_FILE.read_text())
    return rules


# -- processes ------------------------------------------------------------------------------

def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    """Resident memory now."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of resident memory since the process started (VmHWM)."""
    return _status_kb(pid, "VmHWM") / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_idle(pid: int, *, below: float = 0.05, window: float = 1.0, limit: float = 60.0
              ) -> float:
    """Waits until the process uses less than ``below`` of a core over ``window`` seconds (it
    has worked off its backlog); returns how long that took."""
    started = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - last < below * window:
            break
        last = now
    return time.monotonic() - started


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
