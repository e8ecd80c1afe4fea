"""Timestamps as OvenMediaEngine writes them: ISO 8601 with milliseconds and a ±HH:MM offset.

Python's ``isoformat`` writes microseconds and, for UTC, may be asked for ``Z``; OME clients
parse ``2023-03-15T21:15:20.113+09:00`` and nothing else, so the format is fixed here.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """Formats an aware datetime as ``YYYY-MM-DDThh:mm:ss.mmm+HH:MM`` (UTC is ``+00:00``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous: pass an aware datetime")
    return moment.isoformat(timespec="milliseconds")


def parse_time(text: str) -> datetime:
    """Parses what :func:`format_time` wrote (and any ISO 8601 form with an offset or ``Z``)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without an offset: {text!r}")
    return moment
