"""What an export is made of: the recorded files overlapping the range, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..model import coverage
from ..model.coverage import Gap


@dataclass(frozen=True)
class Segment:
    """One finished file: where it is (a local copy, else its object URL) and when it was."""

    start: datetime
    finish: datetime
    path: Path | None = None
    #: ``s3://bucket/key`` once uploaded.
    url: str | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)


def gaps(segments: list[Segment], start: datetime, end: datetime) -> list[Gap]:
    """The uncovered stretches of [start, end) given the segments in order."""
    return coverage.gaps(((s.start, s.finish) for s in segments), start, end)
