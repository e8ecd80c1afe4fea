"""Recorder cost as figures: bench/recorder_cpu.py (our recorder and ``ffmpeg -c copy -f
segment`` side by side on one live source), repeated; medians of the runs.

The CPU figure is the ratio of the two processes' CPU seconds per recorded minute within each
run (both ran at the same time on the same machine, so the load hits both), over the whole run
including start-up. Goals: ≤ 1.5x ffmpeg's CPU, ≤ 50 MB peak RSS.

    python bench/recorder_cost.py           # 3 runs of 60 s of 720p30
    python bench/recorder_cost.py --tiny    # 1 run of recorder_cpu.py --tiny
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/recorder_cost.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, add_common_arguments, emit, load_average, median, spread

SCRIPT = Path(__file__).resolve().parent / "recorder_cpu.py"
GOAL_RATIO = 1.5
GOAL_RSS_MB = 50.0


def one_run(extra: list[str]) -> tuple[dict[str, Any], str]:
    result = subprocess.run([sys.executable, str(SCRIPT), "--json", *extra],
                            capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    figures = next((json.loads(line) for line in reversed(lines) if line.startswith("{")), None)
    if result.returncode != 0 or figures is None:
        raise RuntimeError(f"recorder_cpu.py failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    report = "\n".join(line for line in lines if not line.startswith("{"))
    return figures, report


def measure(runs: int, extra: list[str]) -> tuple[list[Figure], str]:
    results = []
    report = ""
    for run in range(runs):
        result, report = one_run(extra)
        results.append(result)
        ours, theirs = result["recorder"], result["ffmpeg"]
        print(f"  run {run}: CPU s/recorded min: ours {ours['cpu_s_per_recorded_min']}, ffmpeg "
              f"{theirs['cpu_s_per_recorded_min']}; peak RSS ours {ours['peak_rss_mb']} MB, "
              f"ffmpeg {theirs['peak_rss_mb']} MB; {load_average()}", flush=True)

    def both(key: str) -> tuple[list[float], list[float]]:
        return ([float(r["recorder"][key] or 0) for r in results],
                [float(r["ffmpeg"][key] or 0) for r in results])

    ours_cpu, ffmpeg_cpu = both("cpu_s_per_recorded_min")
    ratios = [o / f for o, f in zip(ours_cpu, ffmpeg_cpu, strict=True) if f > 0]
    ours_steady, ffmpeg_steady = both("steady_cpu_s_per_min")
    steady = [o / f for o, f in zip(ours_steady, ffmpeg_steady, strict=True) if f > 0]
    ours_rss, ffmpeg_rss = both("peak_rss_mb")
    ours_private, _ = both("private_mb")
    figures = [
        Figure("recorder CPU / recorded minute, x ffmpeg's", median(ratios), "x",
               f"≤ {GOAL_RATIO}x", median(ratios) <= GOAL_RATIO,
               f"ours {median(ours_cpu):.2f} CPU s/min, ffmpeg {median(ffmpeg_cpu):.2f} "
               f"(whole run, start-up included); steady state {median(steady):.2f}x; "
               f"{spread(ratios, 'x', 2)}", ratios),
        Figure("recorder CPU s per recorded minute", median(ours_cpu), "s", "", None,
               f"ffmpeg: {median(ffmpeg_cpu):.2f} s", ours_cpu),
        Figure("recorder peak RSS", median(ours_rss), "MB", f"≤ {GOAL_RSS_MB:.0f} MB",
               median(ours_rss) <= GOAL_RSS_MB,
               f"ffmpeg {median(ffmpeg_rss):.0f} MB; private (unshared) memory "
               f"{median(ours_private):.0f} MB; {spread(ours_rss, 'MB', 0)}", ours_rss),
    ]
    return figures, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=60.0, help="recording length per run")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.tiny else 3)
    extra = ["--tiny"] if args.tiny else ["--seconds", str(args.seconds)]
    figures, report = measure(runs, extra)
    title = f"Recorder cost vs ffmpeg -c copy -f segment ({runs} runs, medians)"
    print(f"\nlast run:\n{report}")
    emit(figures, args.json, title, f"The last run, as recorder_cpu.py prints it:\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
