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
from dataclasses import dataclass
from datetime import datetime

from ..model.recording import FileRecord, RecordingStatus
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


def plan_resume(
    status: RecordingStatus | None, transaction_id: str, info: list[InfoEntry]
) -> Resume:
    next_sequence = 0
    total_bytes = total_time = 0
    files: tuple[FileRecord, ...] = ()
    orphan = None
    if status is not None:
        files = tuple(status.files)
        total_bytes = status.total_record_bytes or 0
        total_time = status.total_record_time or 0
        if status.sequence is not None:
            next_sequence = status.sequence + 1
        recorder = status.recorder
        crashed = recorder is not None and recorder.state == State.RECORDING
        # Between two files the status names the finished one: its figures are in the totals
        # for good, and nothing is open (a file opened after that report is found on disk).
        live = ".recording." in posixpath.basename(status.output_file_path or "")
        if crashed and live and status.sequence is not None:
            # It died mid-file: that file's partial figures are in the totals; the recovered
            # file's real figures replace them.
            total_bytes = max(0, total_bytes - (status.record_bytes or 0))
            total_time = max(0, total_time - (status.record_time or 0))
            if status.output_file_path and status.start_time:
                orphan = Orphan(
                    relative_path=status.output_file_path,
                    sequence=status.sequence,
                    start=parse_time(status.start_time),
                )
    mine = [e for e in info if e.transaction_id == transaction_id]
    if mine:
        next_sequence = max(next_sequence, max(e.sequence for e in mine) + 1)
        # The info file lists every finished file, even one whose status patch never got
        # through: its sums are the totals (a recovered orphan adds its own figures later).
        total_bytes = sum(e.record_bytes for e in mine)
        total_time = sum(e.record_time for e in mine)
    if orphan is not None and orphan.sequence < next_sequence - 1:
        # The info file already lists files after it: it was finished after all.
        orphan = None
    return Resume(
        next_sequence=next_sequence,
        total_bytes=total_bytes,
        total_time_ms=total_time,
        files=files,
        orphan=orphan,
    )
