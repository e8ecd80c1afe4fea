"""Retention: an app's local files by age and by total bytes, oldest first.

Only files in the journal are candidates, and the journal holds only finished files (listed in
an info XML), so the file being written is never one. A file whose upload is configured but not
yet confirmed is never removed: it still counts towards the total (the space is really used),
but retention skips it and takes the next confirmed one. Info XML files are never removed, so
they keep every entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..model.delivery import RetentionConfig
from .journal import LOCAL, UPLOADED, FileRow


@dataclass(frozen=True)
class Decision:
    row: FileRow
    why: str


def choose(rows: list[FileRow], policy: RetentionConfig, now: float | None = None,
           ) -> list[Decision]:
    """Which of an app's local files (oldest first) to remove now, and why."""
    now = time.time() if now is None else now
    max_age = policy.max_age_seconds
    max_bytes = policy.max_bytes_total
    total = sum(row.size for row in rows)
    chosen = []
    for row in rows:
        if row.state not in (UPLOADED, LOCAL):
            continue
        if max_age is not None and now - row.mtime > max_age:
            chosen.append(Decision(row, f"older than {policy.max_age}"))
        elif max_bytes is not None and total > max_bytes:
            chosen.append(Decision(row, f"the app's files exceed {policy.max_bytes}"))
        else:
            continue
        total -= row.size
    return chosen
