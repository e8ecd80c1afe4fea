"""The recorder-owned status fields, kept current by the session and read by the reporter.

The session (the media thread) changes them; the reporter (its own thread) takes snapshots. A
lock keeps each snapshot consistent. ``on_change`` tells the reporter that something a client
waits for happened (a state change, a new or finished file), so it is sent at once instead of at
the next periodic update.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, Protocol

from ..model.recorder_status import RECORDER_FIELDS, FileRecord
from ..model.resource import STATUS_FILES_KEPT, State
from ..model.timefmt import format_time, now


class LiveFile(Protocol):
    """What the progress needs of the file being written."""

    @property
    def duration_us(self) -> int: ...

    def size(self) -> int: ...


class Progress:
    def __init__(
        self,
        zone: tzinfo,
        *,
        files: list[FileRecord] | None = None,
        total_bytes: int = 0,
        total_time_ms: int = 0,
        sequence: int | None = None,
        clock: Callable[[], datetime] = now,
        pod_uid: str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._pod_uid = pod_uid
        self._zone = zone
        self._clock = clock
        self.on_change: Callable[[], None] | None = None
        self.state = State.READY
        self.message: str | None = None
        #: Why the recorder waits, in one word a program can test (``space.STORAGE_FULL``).
        self.reason: str | None = None
        self.finished = False
        self.start_time: datetime | None = None
        self.finish_time: datetime | None = None
        self.output_file_path: str | None = None
        self.output_info_path: str | None = None
        self.record_bytes = 0
        self.record_time_ms = 0
        #: Totals of the finished files; the live file is added in snapshots.
        self.done_bytes = total_bytes
        self.done_time_ms = total_time_ms
        self.sequence = sequence
        self.files: deque[FileRecord] = deque(files or [], maxlen=STATUS_FILES_KEPT)
        self._live: LiveFile | None = None

    def time(self, moment: datetime) -> str:
        return format_time(moment.astimezone(self._zone))

    def _changed(self) -> None:
        callback = self.on_change
        if callback is not None:
            callback()

    # --- transitions (called by the session) -------------------------------------------------

    def waiting(self, state: State, message: str | None, reason: str | None = None) -> None:
        """No file open: waiting for the stream (``ready`` first, ``stopped`` after a drop),
        or for space on the storage (``reason``)."""
        with self._lock:
            changed = (self.state, self.message, self.reason) != (state, message, reason)
            self.state, self.message, self.reason = state, message, reason
        if changed:
            self._changed()

    def file_started(
        self, sequence: int, start: datetime, path: str, info_path: str, live: LiveFile,
        note: str | None = None,
    ) -> None:
        with self._lock:
            self.state = State.RECORDING
            self.message = note
            self.reason = None
            self.sequence = sequence
            self.start_time = start
            self.finish_time = None
            self.output_file_path = path
            self.output_info_path = info_path
            self.record_bytes = 0
            self.record_time_ms = 0
            self._live = live
        self._changed()

    def file_finished(self, record: FileRecord, info_path: str, finish: datetime) -> None:
        with self._lock:
            self._live = None
            self.files.append(record)
            self.output_file_path = record.file_path
            self.output_info_path = info_path
            self.record_bytes = record.record_bytes
            self.record_time_ms = record.record_time
            self.done_bytes += record.record_bytes
            self.done_time_ms += record.record_time
            self.finish_time = finish
        self._changed()

    def stopped(self, message: str | None, *, finished: bool = False) -> None:
        with self._lock:
            self.state = State.STOPPED
            self.message = message
            self.reason = None
            self.finished = finished
            if self.finish_time is None and self.start_time is not None:
                self.finish_time = self._clock()
        self._changed()

    def error(self, message: str) -> None:
        with self._lock:
            self.state = State.ERROR
            self.message = message
            self.reason = None
            self._live = None
            if self.start_time is not None and self.finish_time is None:
                self.finish_time = self._clock()
        self._changed()

    # --- reading (called by the reporter) ----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The recorder-owned part of ``.status`` as a merge patch: every field is named, and a
        field that does not apply is ``None`` so that a stale value is removed."""
        with self._lock:
            live = self._live
            record_bytes, record_time = self.record_bytes, self.record_time_ms
            if live is not None:
                record_bytes = live.size()
                record_time = live.duration_us // 1000
            total_bytes = self.done_bytes + (record_bytes if live is not None else 0)
            total_time = self.done_time_ms + (record_time if live is not None else 0)
            status: dict[str, Any] = {
                "recorder": {
                    "state": self.state.value,
                    "message": self.message,
                    "reason": self.reason,
                    "finished": self.finished,
                    "podUID": self._pod_uid,
                    "updatedTime": self.time(self._clock()),
                },
                "startTime": self.time(self.start_time) if self.start_time else None,
                "finishTime": self.time(self.finish_time) if self.finish_time else None,
                "outputFilePath": self.output_file_path,
                "outputInfoPath": self.output_info_path,
                "recordBytes": record_bytes,
                "recordTime": record_time,
                "totalRecordBytes": total_bytes,
                "totalRecordTime": total_time,
                "sequence": self.sequence,
                "files": [f.to_json() for f in self.files],
            }
        foreign = status.keys() - RECORDER_FIELDS
        if foreign:  # a programming error: the operator owns these, a patch would clobber them
            raise RuntimeError(f"the recorder may not report {sorted(foreign)}")
        return status
