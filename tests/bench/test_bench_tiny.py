"""The benchmarks keep working: every script once at a tiny size (together, about 30 s), and the
report they feed. Figures are printed, not asserted: this machine's load decides them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from bench.common import ROOT, Figure, Section, median, percentile
from bench.growth import Point, curve
from bench.notes import notes
from bench.report import console_table, markdown

DOC = ROOT / "docs" / "benchmarks.md"
#: every figure the issue asks for, as the table names it
EXPECTED = (
    "startRecord p99, 1 tasks", "records p99, 10 tasks",
    "20 Recordings via the API → 20 pods", "operator peak RSS, 20 Recordings",
    "reservation: publish → first byte on disk", "stop: stopRecord → file finished, task gone",
    "reservation with publish notifications: publish → first byte on disk",
    "reservation, recorder alone, --retry-max 1",
    "recorder CPU / recorded minute, x ffmpeg's", "recorder pod peak memory",
    "recorder CPU, steady state, x ffmpeg's",
    "recorder start-up: process start → opening the stream",
    "upload throughput, x a plain bulk PUT of the same files", "delivery CPU per GB uploaded",
    "file finished → event received p99", "delivery peak RSS, queued files drained",
    "records p99 at 20 tasks", "operator RSS at 20 Recordings", "operator RSS per task at 20",
    "records p99 at 20 tasks, consistent, no other writes",
    "records p99 at 20 tasks, replica cache only (before), no other writes",
    "API peak RSS, 20 tasks with status writes", "status writes/s recorders cause at 5,000 tasks",
    "catalogue query p99, SQLite, 2,000 files", "catalogue query p99, PostgreSQL, 2,000 files",
    "export throughput, x ffmpeg -f concat -c copy",
)


@pytest.mark.bench
@pytest.mark.controlplane
@pytest.mark.media
@pytest.mark.timeout(150)
def test_every_benchmark_runs_tiny_and_leaves_the_docs_alone() -> None:
    before = DOC.stat().st_mtime_ns if DOC.exists() else None
    result = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--parallel"], cwd=ROOT,
                            capture_output=True, text=True, timeout=140, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    table = result.stdout.rsplit("\nfigure ", 1)[-1]
    for name in EXPECTED:
        assert name in table, f"{name!r} missing from the table:\n{table}"
    assert "failed" not in table
    assert (DOC.stat().st_mtime_ns if DOC.exists() else None) == before
    print(table)


def _fig(name: str, value: float, met: bool | None, goal: str = "< 3 s", detail: str = ""
         ) -> Figure:
    return Figure(name, value, "s", goal, met, detail, [value, value + 1])


def _latency(embedded: float) -> list[Figure]:
    return [
        _fig("reservation: publish → first byte on disk", embedded, embedded < 3),
        _fig("stop: stopRecord → file finished, task gone", 0.3, True),
        _fig("reservation, recorder alone, --retry-max 1 (default)", 2.9, True),
        _fig("reservation, recorder alone, --retry-max 5", 5.1, False),
        _fig("open a live RTMP stream, analyzeduration 1 s (recorder's)", 1.2, None, ""),
    ]


def test_the_report_has_the_table_the_machine_and_why_a_goal_is_missed() -> None:
    figures = [*_latency(5.8), _fig("operator RSS at 1,000 Recordings", 165, None, "")]
    text = markdown([Section("Latency", figures, "a | curve")], [("CPU", "Test CPU"),
                                                                 ("cores", "2")],
                    datetime(2026, 1, 2, 3, 4, tzinfo=UTC), 12.0, ("load 1", "load 2"), [],
                    notes(figures))
    assert "| reservation: publish → first byte on disk | 5.80 s | < 3 s | NO |" in text
    assert "| stop: stopRecord → file finished, task gone | 0.30 s | < 3 s | yes |" in text
    assert "| CPU | Test CPU |" in text and "2026-01-02 03:04 UTC" in text
    # the miss is explained with this run's own comparison
    words = " ".join(text.split())
    assert "Reservation latency is missed** (5.80 s median" in words
    assert "took 2.90 s with the default (runs: 2.9, 3.9) and 5.10 s with `--retry-max 5`" in words
    assert "1.20 s with analyzeduration 1 s" in words
    assert "a \\| curve" not in text and "a | curve" in text  # code blocks stay verbatim
    assert console_table(figures).splitlines()[0].split() == ["figure", "value", "goal", "met?"]


def test_a_reservation_met_by_luck_is_still_explained_and_a_missed_goal_is_explained() -> None:
    assert "Reservation latency is met** (2.80 s median" in " ".join(notes(_latency(2.8)).split())
    recorder = [_fig("recorder CPU / recorded minute, x ffmpeg's", 1.2, True),
                _fig("recorder pod peak memory", 40, True)]
    # the recorder's figures are always described from the run; the design that could reach
    # the CPU goal is proposed only when the run missed it
    met = " ".join(notes(recorder).split())
    assert "Recorder cost, this run" in met and "per-packet work in C" not in met
    missed = notes([_fig("recorder CPU / recorded minute, x ffmpeg's", 2.1, False), recorder[1]])
    assert "per-packet work in C" in " ".join(missed.split())


def test_growth_is_judged_on_the_cost_per_task_above_the_baseline() -> None:
    linear = [Point(0, 1.0, 1.0, 90.0, 90.0), Point(100, 1.4, 2, 100.0, 91.0),
              Point(1000, 5.0, 6, 190.0, 100.0), Point(5000, 21.0, 25, 590.0, 140.0)]
    _, figures = curve([100, 1000, 5000], [linear])
    judged = {f.name: f.met for f in figures if f.met is not None}
    assert judged == {"records p50 per task at 5,000": True,
                      "operator RSS per task at 5,000": True, "API RSS per task at 5,000": True}
    quadratic = [*linear[:3], Point(5000, 101.0, 120, 2600.0, 140.0)]
    _, figures = curve([100, 1000, 5000], [quadratic])
    judged = {f.name: f.met for f in figures if f.met is not None}
    assert judged["records p50 per task at 5,000"] is False
    assert judged["operator RSS per task at 5,000"] is False


def test_statistics() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 101))), 0.99) == 99.0
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
