"""Recorder cost as figures: bench/recorder_cpu.py (our recorder and ``ffmpeg -c copy -f
segment`` side by side on one live source, status reporting on) and bench/recorder_path.py (the
same two programs' instructions per recorded minute under callgrind); medians of the runs.

The CPU figure is the ratio of the two processes' CPU seconds per recorded minute within each
run (both ran at the same time on the same machine, so the load hits both), over the whole run
including start-up, and in the steady state. Goals (issue 12): ≤ 1.5x ffmpeg's CPU over a
5-minute recording; the pod's peak memory ≤ 64 MiB; start-up < 1 s.

    python bench/recorder_cost.py           # 1 run of 5 minutes of 720p30, and callgrind
    python bench/recorder_cost.py --tiny    # 1 run of recorder_cpu.py --tiny (no callgrind)
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
GOAL_POD_MIB = 64.0
GOAL_START_S = 1.0


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
    ours_pod, _ = both("pod_peak_mb")
    pod = [max(a, b) for a, b in zip(ours_rss, ours_pod, strict=True)]
    ours_private, ffmpeg_private = both("private_mb")
    start = [float(r["recorder"]["start_up_s"] or 0) for r in results]
    imports = [float(r["recorder"]["imports_s"]) for r in results]
    imports_mb = [float(r["recorder"]["imports_peak_rss_mb"]) for r in results]
    reporting = "status reporting on" if results[0]["recorder"].get("reporting") else (
        "status reporting off")
    figures = [
        Figure("recorder CPU / recorded minute, x ffmpeg's", median(ratios), "x",
               f"≤ {GOAL_RATIO}x", median(ratios) <= GOAL_RATIO,
               f"ours {median(ours_cpu):.2f} CPU s/min, ffmpeg {median(ffmpeg_cpu):.2f} "
               f"(whole run, start-up included; {reporting}); {spread(ratios, 'x', 2)}",
               ratios),
        Figure("recorder CPU, steady state, x ffmpeg's", median(steady), "x",
               f"≤ {GOAL_RATIO}x", median(steady) <= GOAL_RATIO,
               f"ours {median(ours_steady):.2f} CPU s/min, ffmpeg {median(ffmpeg_steady):.2f}; "
               f"{spread(steady, 'x', 2)}", steady),
        Figure("recorder CPU s per recorded minute", median(ours_cpu), "s", "", None,
               f"ffmpeg: {median(ffmpeg_cpu):.2f} s", ours_cpu),
        Figure("recorder pod peak memory", median(pod), "MiB", f"≤ {GOAL_POD_MIB:.0f} MiB",
               median(pod) <= GOAL_POD_MIB,
               f"the RSS of every process of the recorder, at its peak ({reporting}); ffmpeg "
               f"{median(ffmpeg_rss):.0f} MiB; {spread(pod, 'MiB', 1)}", pod),
        Figure("recorder private memory", median(ours_private), "MiB", "", None,
               f"unshared, at the end of the run: what each further recorder on a node adds; "
               f"ffmpeg {median(ffmpeg_private):.0f} MiB", ours_private),
        Figure("recorder start-up: process start → opening the stream", median(start), "s",
               f"< {GOAL_START_S:.0f} s", median(start) < GOAL_START_S,
               f"importing the record command's modules: {median(imports):.2f} s, peak RSS "
               f"{median(imports_mb):.0f} MiB; {spread(start, 's', 2)}", start),
    ]
    return figures, report


def instructions(tiny: bool) -> list[Figure]:
    """bench/recorder_path.py's callgrind counts, as figures (one run: they do not vary)."""
    from bench.recorder_path import measure as count

    result = count(tiny)
    ours, theirs = result["recorder"], result["ffmpeg"]
    ratio = ours["per_recorded_min"] / theirs["per_recorded_min"]
    start = ours["start_up"] / theirs["start_up"]
    return [
        Figure("recorder instructions / recorded minute, x ffmpeg's", ratio, "x", "", None,
               f"callgrind, {result['size']}@{result['fps']} from an FLV file, "
               f"{result['split_s']:g} s splits: ours {ours['per_recorded_min'] / 1e6:.0f} M "
               f"per minute, ffmpeg {theirs['per_recorded_min'] / 1e6:.0f} M", [ratio]),
        Figure("recorder start-up instructions, x ffmpeg's", start, "x", "", None,
               f"ours {ours['start_up'] / 1e6:.0f} M (interpreter, PyAV, our modules), ffmpeg "
               f"{theirs['start_up'] / 1e6:.0f} M", [start]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="recording length per run")
    parser.add_argument("--no-callgrind", action="store_true",
                        help="skip the instruction counts (they take minutes)")
    args = parser.parse_args(argv)
    runs = args.runs or 1
    extra = ["--tiny"] if args.tiny else ["--seconds", str(args.seconds)]
    figures, report = measure(runs, extra)
    if not (args.tiny or args.no_callgrind):
        figures += instructions(tiny=False)
    title = f"Recorder cost vs ffmpeg -c copy -f segment ({runs} runs, medians)"
    print(f"\nlast run:\n{report}")
    emit(figures, args.json, title, f"The last run, as recorder_cpu.py prints it:\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
