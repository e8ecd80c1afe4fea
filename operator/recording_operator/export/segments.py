"""What an export is made of: the recorded files overlapping the range, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


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


@dataclass(frozen=True)
class Gap:
    """Wall-clock time inside the range that no file covers (the stream was down, say)."""

    start: datetime
    finish: datetime


#: Two files closer than this are back to back (a split is not a gap).
GAP_TOLERANCE_SECONDS = 1.0


def gaps(segments: list[Segment], start: datetime, end: datetime) -> list[Gap]:
    """The uncovered stretches of [start, end) given the segments in order."""
    found: list[Gap] = []
    cursor = start
    for segment in segments:
        if (segment.start - cursor).total_seconds() > GAP_TOLERANCE_SECONDS:
            found.append(Gap(cursor, min(segment.start, end)))
        cursor = max(cursor, segment.finish)
    if (end - cursor).total_seconds() > GAP_TOLERANCE_SECONDS:
        found.append(Gap(cursor, end))
    return found
