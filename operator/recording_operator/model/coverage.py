"""Which stretches of a time range no recorded file covers: one rule for the listing and the export.

Files of one stream follow each other at keyframes, and their wall-clock times are stamped a few
milliseconds apart, so two files closer than :data:`GAP_TOLERANCE` are back to back: a split is
not a gap. A gap is where the stream was really down (or a file is missing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Two files closer than this are back to back.
GAP_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Gap:
    """Wall-clock time inside the range that no file covers."""

    start: datetime
    end: datetime


def gaps(spans: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[Gap]:
    """The uncovered stretches of [start, end), given (start, finish) spans in start order
    (spans may overlap)."""
    found: list[Gap] = []
    covered = start
    for span_start, span_finish in spans:
        if span_start - covered > GAP_TOLERANCE:
            found.append(Gap(covered, min(span_start, end)))
        covered = max(covered, span_finish)
        if covered >= end:
            break
    if end - covered > GAP_TOLERANCE:
        found.append(Gap(covered, end))
    return found
