"""The status-write budget shared out among recorders (issue "Hardening", item 7)."""

from __future__ import annotations

import math

import pytest

from recording_operator.model.reporting import CEILING, FLOOR, progress_interval


def test_a_few_recordings_report_at_the_floor() -> None:
    assert progress_interval(1) == FLOOR == 5.0
    assert progress_interval(400) == FLOOR


def test_the_interval_grows_with_the_recordings_up_to_the_ceiling() -> None:
    assert progress_interval(1_000) == 12.5
    assert progress_interval(5_000) == CEILING == 60.0
    assert progress_interval(50_000) == CEILING


def test_5000_recordings_write_progress_under_300_per_second() -> None:
    """A burst: every pod made with the whole census; and one at a time: pod k made when
    there were k Recordings. Both stay under the hardening issue's 300 writes/s."""
    burst = 5_000 / progress_interval(5_000)
    one_by_one = sum(1 / progress_interval(k) for k in range(1, 5_001))
    assert burst < 300 and one_by_one < 300, (burst, one_by_one)


@pytest.mark.parametrize("budget", [0.0, -1.0, math.inf, math.nan])
def test_no_budget_means_the_floor(budget: float) -> None:
    assert progress_interval(5_000, budget) == FLOOR
