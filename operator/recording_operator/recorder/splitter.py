"""When the current file ends and the next begins.

Splits only ever happen on a keyframe of the default track (the first selected video track, else
the first audio track), so every file starts with a picture a player can show:

* ``interval``: at the first such keyframe once the file holds at least ``interval`` ms of media;
* ``schedule``: at the first such keyframe at or after each fire time of the cron expression
  ``second minute hour``, evaluated in the configured time zone on the wall clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from ..model.rules import is_valid_schedule


class SplitPolicy(Protocol):
    def begin(self, media_us: int, wall: datetime) -> None:
        """A new file started with the keyframe at ``media_us`` (output clock), at ``wall``."""

    def due(self, media_us: int, wall: datetime) -> bool:
        """Whether the default-track keyframe at ``media_us`` should start a new file."""


class NoSplit:
    def begin(self, media_us: int, wall: datetime) -> None:
        pass

    def due(self, media_us: int, wall: datetime) -> bool:
        return False


class IntervalSplit:
    def __init__(self, interval_ms: int) -> None:
        if interval_ms <= 0:
            raise ValueError("interval must be positive")
        self._interval_us = interval_ms * 1000
        self._start_us = 0

    def begin(self, media_us: int, wall: datetime) -> None:
        self._start_us = media_us

    def due(self, media_us: int, wall: datetime) -> bool:
        return media_us - self._start_us >= self._interval_us


def cron_expression(schedule: str) -> str:
    """``second minute hour`` → croniter's six fields (seconds last)."""
    second, minute, hour = schedule.split(" ")
    return f"{minute} {hour} * * * {second}"


class ScheduleSplit:
    def __init__(self, schedule: str, timezone: str = "UTC") -> None:
        if not is_valid_schedule(schedule):
            raise ValueError(f"invalid schedule {schedule!r} (want 'second minute hour')")
        self._expression = cron_expression(schedule)
        self._zone = ZoneInfo(timezone)
        self._next: datetime | None = None

    def _fire_after(self, wall: datetime) -> datetime:
        from croniter import croniter  # only a scheduled recording needs it (start-up)

        it = croniter(self._expression, wall.astimezone(self._zone))
        fire: datetime = it.get_next(datetime)
        return fire

    @property
    def next_fire(self) -> datetime | None:
        return self._next

    def begin(self, media_us: int, wall: datetime) -> None:
        # The next fire strictly after the file's start: a keyframe that lands exactly on a fire
        # time starts the file and does not end it at once.
        self._next = self._fire_after(wall)

    def due(self, media_us: int, wall: datetime) -> bool:
        return self._next is not None and wall >= self._next


def make_policy(interval_ms: int | None, schedule: str | None, timezone: str) -> SplitPolicy:
    if interval_ms and interval_ms > 0:
        return IntervalSplit(interval_ms)
    if schedule:
        return ScheduleSplit(schedule, timezone)
    return NoSplit()
