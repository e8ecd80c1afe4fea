"""Split decisions: interval on media time, schedule on the wall clock in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from recording_operator.recorder.splitter import (
    IntervalSplit,
    NoSplit,
    ScheduleSplit,
    cron_expression,
    make_policy,
)

T0 = datetime(2024, 1, 1, 10, 0, 7, tzinfo=UTC)


def test_interval_splits_once_the_file_holds_the_interval() -> None:
    policy = IntervalSplit(2000)
    policy.begin(10_000_000, T0)
    assert not policy.due(11_999_999, T0)
    assert policy.due(12_000_000, T0)


@pytest.mark.parametrize(("schedule", "expected"), [
    ("0 */1 *", "*/1 * * * * 0"), ("*/30 * *", "* * * * * */30"), ("10 */1 *", "*/1 * * * * 10"),
])
def test_schedule_fields_map_to_croniter(schedule: str, expected: str) -> None:
    assert cron_expression(schedule) == expected


def test_schedule_fires_at_second_zero_of_each_minute() -> None:
    policy = ScheduleSplit("0 */1 *")
    policy.begin(0, T0)
    assert policy.next_fire == datetime(2024, 1, 1, 10, 1, 0, tzinfo=UTC)
    assert not policy.due(0, T0 + timedelta(seconds=52))
    assert policy.due(0, T0 + timedelta(seconds=53))


def test_schedule_uses_the_configured_time_zone() -> None:
    policy = ScheduleSplit("0 0 9", "Asia/Seoul")  # 09:00:00 in Seoul is 00:00:00 UTC
    policy.begin(0, T0)
    fire = policy.next_fire
    assert fire is not None
    assert fire.astimezone(UTC) == datetime(2024, 1, 2, 0, 0, 0, tzinfo=UTC)
    assert fire.tzinfo == ZoneInfo("Asia/Seoul")


def test_a_keyframe_exactly_on_a_fire_time_starts_a_file_without_ending_it() -> None:
    policy = ScheduleSplit("*/5 * *")
    on_fire = datetime(2024, 1, 1, 10, 0, 5, tzinfo=UTC)
    policy.begin(0, on_fire)
    assert not policy.due(0, on_fire)
    assert policy.next_fire == datetime(2024, 1, 1, 10, 0, 10, tzinfo=UTC)


def test_invalid_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        ScheduleSplit("0 0")
    with pytest.raises(ValueError):
        IntervalSplit(0)


def test_policy_choice() -> None:
    assert isinstance(make_policy(1000, None, "UTC"), IntervalSplit)
    assert isinstance(make_policy(None, "*/5 * *", "UTC"), ScheduleSplit)
    assert isinstance(make_policy(0, None, "UTC"), NoSplit)
