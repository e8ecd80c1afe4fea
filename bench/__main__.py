"""``make bench`` / ``python -m bench``: runs every benchmark script, prints one table (figure,
value, goal, met?) and writes it to docs/benchmarks.md with the machine it ran on.

    python -m bench                 # every benchmark, full size (several minutes)
    python -m bench --tiny          # every benchmark at a tiny size; docs are not written
    python -m bench --only growth   # some of them (docs are written only for a full set)
    python -m bench --tiny --parallel   # the quick check make test runs

Each script runs in its own process (``python -m bench.<name> --json FILE``), one after the
other, so one benchmark's processes never load another's measurements.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Figure, Section, load_average, load_section
from .notes import notes
from .report import console_table, machine, markdown, now

#: (module, what it measures), in the order of the table
BENCHMARKS = (
    ("api_figures", "API latency"),
    ("api_consistency", "Consistent records and the API under load"),
    ("throughput", "Control-plane throughput"),
    ("stream_latency", "Reservation and stop latency"),
    ("recorder_cost", "Recorder cost"),
    ("growth", "How cost grows"),
    ("delivery", "Delivery to S3 and signed events"),
    ("catalogue", "Recordings catalogue"),
    ("export", "Export of a range"),
)
DOC = ROOT / "docs" / "benchmarks.md"


class Run:
    """One benchmark script in its own process."""

    def __init__(self, module: str, title: str, extra: list[str], tmp: Path) -> None:
        self.module, self.title = module, title
        self.out = tmp / f"{module}.json"
        print(f"\n=== {title}: python -m bench.{module} {' '.join(extra)}", flush=True)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"bench.{module}", "--json", str(self.out), *extra], cwd=ROOT)
        self.took: float | None = None

    def wait(self) -> int:
        code = self.process.wait()
        if self.took is None:
            self.took = time.monotonic() - self.started
        return code

    def finish(self) -> tuple[Section, float]:
        code = self.wait()
        took = self.took or 0.0
        if code != 0 or not self.out.exists():
            failed = Figure(f"{self.title}: the benchmark failed", None, "", "runs", False,
                            f"`python -m bench.{self.module}` exited with {code}")
            return Section(self.title, [failed]), took
        return load_section(self.out), took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="each benchmark at a tiny size (seconds); does not write the docs")
    parser.add_argument("--only", default=None,
                        help="comma-separated: " + ", ".join(m for m, _ in BENCHMARKS))
    parser.add_argument("--runs", type=int, default=None, help="repetitions for every script")
    parser.add_argument("--output", type=Path, default=DOC, help="where the report goes")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--parallel", action="store_true",
                        help="run the scripts at the same time (quick checks only: they would "
                        "load each other's measurements)")
    args = parser.parse_args(argv)
    chosen = [(m, t) for m, t in BENCHMARKS
              if args.only is None or m in args.only.split(",")]
    if not chosen:
        parser.error(f"--only: none of {args.only}")
    extra = (["--tiny"] if args.tiny else []) + (["--runs", str(args.runs)] if args.runs else [])

    started, load_start = now(), load_average()
    clock = time.monotonic()
    sections: list[Section] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        runs: list[Run] = []
        for module, title in chosen:
            runs.append(Run(module, title, extra, Path(tmp)))
            if not args.parallel:
                runs[-1].wait()
        for run in runs:
            section, took = run.finish()
            if any(f.value is None and f.met is False for f in section.figures):
                failures.append(f"{run.module} (after {took:.0f} s)")
            section.title = f"{section.title} — {took:.0f} s"
            sections.append(section)
    minutes = (time.monotonic() - clock) / 60
    figures = [f for section in sections for f in section.figures]
    print(f"\n{console_table(figures)}\n")
    write = not (args.tiny or args.no_write or args.only or args.parallel)
    if write:
        text = markdown(sections, machine(), started, minutes, (load_start, load_average()),
                        failures, notes(figures))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"written to {args.output}")
    if failures:
        print("failed: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
