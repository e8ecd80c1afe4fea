"""Control-plane throughput: N Recordings created through the API → time until N recorder pods
exist, and the operator's peak RSS.

The local control plane, the operator and the API (see bench/rig.py), no pod runner: pods are
counted when created. The clock starts at the first startRecord; startRecords are sent
``--concurrency`` at a time, as a burst of clients would. Each run gets a fresh control plane
and operator, so a run's peak RSS is its own. Goals: 1,000 pods in < 60 s, operator < 300 MB.

    python bench/throughput.py              # 1,000 Recordings, 3 runs
    python bench/throughput.py --tiny       # 20 Recordings, 1 run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/throughput.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Figure,
    add_common_arguments,
    emit,
    load_average,
    median,
    peak_rss_mb,
    percentile,
    rss_mb,
    spread,
    wait_idle,
)
from bench.rig import Rig, start_records

GOAL_SECONDS = 60.0
GOAL_RSS_MB = 300.0


class PodClock(threading.Thread):
    """Polls the pod count until it reaches ``target``; ``reached`` is the monotonic time."""

    def __init__(self, rig: Rig, target: int, timeout: float) -> None:
        super().__init__(daemon=True)
        self.rig, self.target, self.timeout = rig, target, timeout
        self.reached: float | None = None
        self.last = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                self.last = self.rig.pod_count()
                if self.last >= self.target:
                    self.reached = time.monotonic()
                    return
                time.sleep(0.1)
        except BaseException as exc:  # reported by the caller
            self.error = exc


def one_run(workdir: Path, count: int, concurrency: int, timeout: float,
            idle_window: float = 1.0) -> dict[str, float]:
    with Rig(workdir) as rig:
        base = rig.pod_count()
        pid = rig.operator_pid
        rss_idle = rss_mb(pid)
        clock = PodClock(rig, base + count, timeout)
        started = time.monotonic()
        clock.start()
        latencies = start_records(rig.api_url, [f"t{n:05d}" for n in range(count)], concurrency)
        created = time.monotonic() - started
        clock.join(timeout + 5)
        if clock.error is not None:
            raise clock.error
        if clock.reached is None:
            raise RuntimeError(f"only {clock.last - base} of {count} pods after {timeout:.0f} s")
        pods = clock.reached - started
        settle = wait_idle(pid, window=idle_window, limit=120)
        result = {
            "pods_s": pods, "created_s": created, "settle_s": settle,
            "peak_rss_mb": peak_rss_mb(pid), "rss_idle_mb": rss_idle, "rss_end_mb": rss_mb(pid),
            "start_p50_ms": percentile(latencies, 0.5) * 1000,
            "start_p99_ms": percentile(latencies, 0.99) * 1000,
        }
    print(f"  run: {count} pods in {pods:.1f} s (API answered all in {created:.1f} s; operator "
          f"idle {settle:.1f} s later), operator peak RSS {result['peak_rss_mb']:.0f} MB "
          f"(idle at start {rss_idle:.0f} MB); {load_average()}", flush=True)
    return result


def measure(count: int, runs: int, concurrency: int, timeout: float,
            idle_window: float = 1.0) -> list[Figure]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
            results.append(one_run(Path(tmp), count, concurrency, timeout, idle_window))
    pods = [r["pods_s"] for r in results]
    peaks = [r["peak_rss_mb"] for r in results]
    created = [r["created_s"] for r in results]
    n = f"{count:,}"
    return [
        Figure(f"{n} Recordings via the API → {n} pods", median(pods), "s",
               f"< {GOAL_SECONDS:.0f} s", median(pods) < GOAL_SECONDS,
               f"startRecord {concurrency} at a time; {spread(pods, 's')}", pods),
        Figure(f"operator peak RSS, {n} Recordings", median(peaks), "MB",
               f"< {GOAL_RSS_MB:.0f} MB", median(peaks) < GOAL_RSS_MB,
               f"VmHWM of `recording-operator run`; {spread(peaks, 'MB', 0)}", peaks),
        Figure(f"API: {n} startRecords answered", median(created), "s", "", None,
               f"{concurrency} concurrent clients; p99 of one call "
               f"{median([r['start_p99_ms'] for r in results]):.0f} ms; "
               f"{spread(created, 's')}", created),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--count", type=int, default=None, help="Recordings (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="startRecords in flight")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    args = parser.parse_args(argv)
    count = args.count or (20 if args.tiny else 1000)
    runs = args.runs or (1 if args.tiny else 3)
    figures = measure(count, runs, args.concurrency, args.timeout, 0.3 if args.tiny else 1.0)
    emit(figures, args.json, f"Control-plane throughput ({runs} runs, medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
