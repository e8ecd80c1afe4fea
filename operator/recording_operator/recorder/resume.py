"""Where a restarted recorder picks up: the sequence, the totals and the file a crash left.

A recorder pod can die at any moment (OOM kill, node loss, SIGKILL). Its Recording's status
holds what it last reported: the sequence of the file it was writing, its totals and, while
recording, the temporary path of that file. The new run continues with the next sequence,
carries the totals over (minus the unfinished file's partial figures, which the recovered file
replaces) and finishes the orphaned file. The info XML is consulted too, since it may be ahead of
a status patch that never got through.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model.recorder_status import FileRecord
from ..model.resource import State
from ..model.timefmt import parse_time
from .infofile import InfoEntry


@dataclass(frozen=True)
class Orphan:
    """A file a killed recorder left under its temporary name."""

    relative_path: str
    sequence: int
    start: datetime


@dataclass(frozen=True)
class Resume:
    """Where this run continues: the previous run's sequence, totals and files."""

    next_sequence: int = 0
    total_bytes: int = 0
    total_time_ms: int = 0
    files: tuple[FileRecord, ...] = ()
    orphan: Orphan | None = None
    #: The sequences whose figures the totals already hold (a file whose publication a kill
    #: interrupted after its listing is reported only if it is not among them).
    counted: frozenset[int] = frozenset()


def _int(status: Mapping[str, Any], key: str) -> int | None:
    value = status.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(status: Mapping[str, Any], key: str) -> str | None:
    value = status.get(key)
    return value if isinstance(value, str) else None


def plan_resume(
    status: Mapping[str, Any] | None, transaction_id: str, info: list[InfoEntry]
) -> Resume:
    """``status`` is the Recording's status as JSON (camelCase); only the recorder's own
    fields are read, and one of the wrong type counts as absent."""
    next_sequence = 0
    total_bytes = total_time = 0
    files: tuple[FileRecord, ...] = ()
    orphan = None
    if status is not None:
        listed = status.get("files")
        records = (FileRecord.from_json(f) for f in listed if isinstance(f, Mapping)) \
            if isinstance(listed, list) else ()
        files = tuple(r for r in records if r is not None)
        total_bytes = _int(status, "totalRecordBytes") or 0
        total_time = _int(status, "totalRecordTime") or 0
        sequence = _int(status, "sequence")
        if sequence is not None:
            next_sequence = sequence + 1
        recorder = status.get("recorder")
        crashed = isinstance(recorder, Mapping) and recorder.get("state") == State.RECORDING
        # Between two files the status names the finished one: its figures are in the totals
        # for good, and nothing is open (a file opened after that report is found on disk).
        output = _str(status, "outputFilePath")
        live = ".recording." in posixpath.basename(output or "")
        if crashed and live and sequence is not None:
            # It died mid-file: that file's partial figures are in the totals; the recovered
            # file's real figures replace them.
            total_bytes = max(0, total_bytes - (_int(status, "recordBytes") or 0))
            total_time = max(0, total_time - (_int(status, "recordTime") or 0))
            start = _str(status, "startTime")
            if output and start:
                orphan = Orphan(relative_path=output, sequence=sequence, start=parse_time(start))
    mine = [e for e in info if e.transaction_id == transaction_id]
    counted = frozenset(f.sequence for f in files)
    if mine:
        next_sequence = max(next_sequence, max(e.sequence for e in mine) + 1)
        # The info file lists every finished file, even one whose status patch never got
        # through: its sums are the totals (a recovered orphan adds its own figures later).
        total_bytes = sum(e.record_bytes for e in mine)
        total_time = sum(e.record_time for e in mine)
        counted = frozenset(e.sequence for e in mine)
    if orphan is not None and orphan.sequence < next_sequence - 1:
        # The info file already lists files after it: it was finished after all.
        orphan = None
    return Resume(
        next_sequence=next_sequence,
        total_bytes=total_bytes,
        total_time_ms=total_time,
        files=files,
        orphan=orphan,
        counted=counted,
    )
