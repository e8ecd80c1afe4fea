"""How cost grows: records latency and operator (and API) memory at 100 / 1,000 / 5,000
Recordings, printed as a curve.

One rig (bench/rig.py: control plane, operator, API, no pod runner) is filled through the API
level by level; at each level, once every pod exists and the operator has worked off its
backlog, records is timed over HTTP and the processes' resident memory is read; the same is
read before the first task (the baseline). "Linear or better" is checked on the cost per task
above that baseline: at the largest level it may be at most 1.25x what it is at the level below
(memory or latency growing faster than the task count would show as a larger cost per task).

    python bench/growth.py                  # 100, 1000, 5000 Recordings, 3 runs
    python bench/growth.py --tiny           # 5, 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/growth.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Figure,
    add_common_arguments,
    emit,
    load_average,
    median,
    percentile,
    rss_mb,
    wait_for,
    wait_idle,
)
from bench.rig import Rig, http_client, start_records, time_records

#: an increment may be this much steeper than the first one and still count as linear
TOLERANCE = 1.25


@dataclass
class Point:
    tasks: int
    records_p50: float
    records_p99: float
    operator_mb: float
    api_mb: float


def one_run(workdir: Path, levels: list[int], samples: int, concurrency: int,
            idle_window: float) -> list[Point]:
    points = []
    with Rig(workdir) as rig, http_client(rig.api_url) as client:
        filled = 0
        for level in [0, *levels]:
            started = time.monotonic()
            if level > filled:
                start_records(rig.api_url, [f"t{n:05d}" for n in range(filled, level)],
                              concurrency)
            filled = level
            wait_for(lambda level=level: rig.pod_count() >= level + 1, 900,  # type: ignore[misc]
                     f"{level} pods", 0.2)
            took = time.monotonic() - started
            wait_idle(rig.operator_pid, window=idle_window, limit=120)
            wait_idle(rig.api_pid, window=idle_window, limit=60)
            time_records(client, 3, level)  # warm: task views rendered once per version
            latencies = time_records(client, samples, level, blocks=5)
            point = Point(level, percentile(latencies, 0.5), percentile(latencies, 0.99),
                          rss_mb(rig.operator_pid), rss_mb(rig.api_pid))
            points.append(point)
            print(f"  {level:>6} tasks (filled in {took:.0f} s): records p50 "
                  f"{point.records_p50:.1f} ms p99 {point.records_p99:.1f} ms; operator RSS "
                  f"{point.operator_mb:.0f} MB, API RSS {point.api_mb:.0f} MB; {load_average()}",
                  flush=True)
    return points


def _per_task(rows: list[Point], attr: str) -> tuple[float, float]:
    """Cost per task above the baseline (row 0), at the second largest and the largest level."""
    base = getattr(rows[0], attr)
    mid, top = rows[-2], rows[-1]
    return (getattr(mid, attr) - base) / mid.tasks, (getattr(top, attr) - base) / top.tasks


def curve(levels: list[int], points: list[list[Point]]) -> tuple[str, list[Figure]]:
    def med(attr: str, i: int) -> float:
        return median([getattr(run[i], attr) for run in points])

    rows = [Point(level, med("records_p50", i), med("records_p99", i), med("operator_mb", i),
                  med("api_mb", i)) for i, level in enumerate([0, *levels])]
    lines = [f"{'tasks':>7} {'records p50 ms':>15} {'p99 ms':>8} {'operator MB':>12} "
             f"{'API MB':>8}   curve (operator MB)"]
    top = max(row.operator_mb for row in rows)
    for row in rows:
        bar = "#" * max(1, round(40 * row.operator_mb / top))
        lines.append(f"{row.tasks:>7,} {row.records_p50:>15.1f} {row.records_p99:>8.1f} "
                     f"{row.operator_mb:>12.0f} {row.api_mb:>8.0f}   {bar}")
    figures = []
    for row in rows[1:]:
        figures.append(Figure(f"records p99 at {row.tasks:,} tasks", row.records_p99, "ms", "",
                              None, f"p50 {row.records_p50:.1f} ms"))
    for row in rows[1:]:
        figures.append(Figure(f"operator RSS at {row.tasks:,} Recordings", row.operator_mb, "MB",
                              "", None, f"API RSS {row.api_mb:.0f} MB"))
    for label, attr, unit, scale in (("records p50", "records_p50", "µs", 1000.0),
                                     ("operator RSS", "operator_mb", "KB", 1024.0),
                                     ("API RSS", "api_mb", "KB", 1024.0)):
        mid, top = _per_task(rows, attr)
        ok = top <= TOLERANCE * max(mid, 0.0) or top <= 0
        figures.append(Figure(
            f"{label} per task at {levels[-1]:,}", top * scale, unit,
            f"≤ {TOLERANCE}x {mid * scale:.1f} {unit} (at {levels[-2]:,})", ok,
            "linear or better: the cost per task, above the empty baseline, does not grow "
            "with the task count"))
    return "\n".join(lines), figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--levels", default=None, help="task counts (default 100,1000,5000)")
    parser.add_argument("--samples", type=int, default=None, help="records calls per level")
    parser.add_argument("--concurrency", type=int, default=8, help="startRecords in flight")
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in (args.levels or ("5,20" if args.tiny
                                                     else "100,1000,5000")).split(","))
    if len(levels) < 2 or levels[0] < 1:
        parser.error("give at least two levels above 0 (the empty baseline is measured too)")
    samples = args.samples or (10 if args.tiny else 200)
    runs = args.runs or (1 if args.tiny else 3)
    points = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
            points.append(one_run(Path(tmp), levels, samples, args.concurrency,
                                  0.3 if args.tiny else 1.0))
    text, figures = curve(levels, points)
    title = (f"How cost grows ({runs} run(s), medians; records timed over {samples} calls per "
             "level, in 5 blocks)")
    print(f"\n{title}\n{text}")
    emit(figures, args.json, title, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
