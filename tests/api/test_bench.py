"""bench/api_latency.py in its tiny form, so the benchmark keeps working (figures are printed,
not asserted: this machine's load decides them)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from recording_operator.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_latency.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_latency", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_tiny_benchmark(controlplane: ControlPlane, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    rows = bench.measure(controlplane, [1, 10], 10, tmp_path)
    assert [row.tasks for row in rows] == [1, 10]
    for row in rows:
        assert 0 < row.start_p50 <= row.start_p99
        assert 0 < row.records_p50 <= row.records_p99
    with capsys.disabled():
        print("\n" + bench.table(rows, 10))


def test_percentile_is_nearest_rank() -> None:
    bench = load_bench()
    assert bench.percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert bench.percentile(list(map(float, range(1, 101))), 0.99) == 99.0
    assert bench.percentile([7.0], 0.99) == 7.0
