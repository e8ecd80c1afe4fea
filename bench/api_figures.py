"""API latency as figures: bench/api_latency.py's measurement, repeated, medians of the runs.

Each run is api_latency's own (the API as its own process under its ServiceAccount, a fresh
namespace filled to 1, 100 and 1,000 tasks, startRecord and records timed over HTTP); the runs
share one control plane. Goals: startRecord p99 < 50 ms at every level; records over 1,000 tasks
p99 < 100 ms.

    python bench/api_figures.py             # 3 runs of 1, 100, 1000 tasks, 200 samples
    python bench/api_figures.py --tiny      # 1 run of 1 and 10 tasks, 10 samples
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/api_figures.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api_latency
from bench.common import Figure, add_common_arguments, emit, load_average, median, spread
from recording_operator.local.controlplane import ControlPlane

GOAL_START_MS = 50.0
GOAL_RECORDS_MS = 100.0


def measure(levels: list[int], samples: int, runs: int) -> tuple[list[Figure], str]:
    all_rows = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        plane = ControlPlane.start(Path(tmp) / "controlplane")
        try:
            plane.apply_crds()
            for run in range(runs):
                rows = api_latency.measure(plane, levels, samples, Path(tmp))
                all_rows.append(rows)
                print(f"  run {run}: " + "; ".join(
                    f"{r.tasks} tasks: startRecord p99 {r.start_p99:.1f} ms, records p99 "
                    f"{r.records_p99:.1f} ms" for r in rows) + f"; {load_average()}", flush=True)
        finally:
            plane.stop()
    figures = []
    merged = []
    for i, level in enumerate(levels):
        def values(attr: str, i: int = i) -> list[float]:
            return [getattr(rows[i], attr) for rows in all_rows]

        start99, start50 = values("start_p99"), values("start_p50")
        rec99, rec50 = values("records_p99"), values("records_p50")
        merged.append(api_latency.Row(level, median(start50), median(start99), median(rec50),
                                      median(rec99)))
        figures.append(Figure(
            f"startRecord p99, {level:,} tasks", median(start99), "ms",
            f"< {GOAL_START_MS:.0f} ms", median(start99) < GOAL_START_MS,
            f"p50 {median(start50):.1f} ms; {spread(start99, 'ms')}", start99))
        top = level == max(levels)
        figures.append(Figure(
            f"records p99, {level:,} tasks", median(rec99), "ms",
            f"< {GOAL_RECORDS_MS:.0f} ms" if top else "",
            median(rec99) < GOAL_RECORDS_MS if top else None,
            f"p50 {median(rec50):.1f} ms; {spread(rec99, 'ms')}", rec99))
    return figures, api_latency.table(merged, samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--samples", type=int, default=None, help="timed calls per figure")
    args = parser.parse_args(argv)
    levels = [1, 10] if args.tiny else [1, 100, 1000]
    samples = args.samples or (10 if args.tiny else 200)
    runs = args.runs or (1 if args.tiny else 3)
    figures, text = measure(levels, samples, runs)
    title = f"API latency over HTTP ({runs} runs of {samples} calls, medians of the runs)"
    print(f"\n{text}")
    emit(figures, args.json, title, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
