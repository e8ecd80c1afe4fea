"""A full storage is a wait, not a failure: the recorder keeps what it wrote and goes on later.

When the volume (or the quota) runs out, the file being written is closed where it stands (it
plays, as after a crash), the recorder reports why it waits (``recorder.reason``
:data:`STORAGE_FULL`, which the operator turns into a condition), and it checks the free space
every second. Once there is room again the partial file is finished like any other and
recording goes on with the next sequence. "Room" is the smaller of 64 MiB and a tenth of the
filesystem, so that one freed block does not restart a recorder only to fill it at once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..model.resource import State
from .errors import StorageFull
from .progress import Progress

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``recorder.reason`` while waiting for space.
STORAGE_FULL = "StorageFull"
_ROOM = 64 * 1024 * 1024


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use under ``path`` (0 when it cannot be read)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return 0
    return stats.f_bavail * stats.f_frsize


def room_needed(path: Path) -> int:
    try:
        stats = os.statvfs(path)
    except OSError:
        return _ROOM
    return min(_ROOM, stats.f_blocks * stats.f_frsize // 10)


class SpaceWait:
    """Waits out a full storage under ``root`` while reporting it; ``stop`` ends the wait."""

    def __init__(
        self, root: Path, stop: threading.Event, progress: Progress, *, poll: float = 1.0
    ) -> None:
        self.root = root
        self.stop = stop
        self.progress = progress
        self.poll = poll

    def until_free(self, exc: StorageFull, state: State) -> bool:
        """Blocks until there is room again (True) or the recorder is stopped (False)."""
        needed = room_needed(self.root)
        message = (f"{exc}; the partial file is kept and recording resumes when "
                   f"{needed // (1024 * 1024) or 1} MiB are free")
        log.warning("%s", message)
        self.progress.waiting(state, message, reason=STORAGE_FULL)
        while not self.stop.is_set():
            if free_bytes(self.root) >= needed:
                log.info("storage has room again (%d bytes free): resuming",
                         free_bytes(self.root))
                self.progress.waiting(state, "storage has room again: resuming")
                return True
            self.stop.wait(self.poll)
        return False

    def retry(self, action: Callable[[], T], state: State) -> T:
        """``action()``, waiting for space and trying again each time the storage is full;
        StorageFull when stopped while waiting."""
        while True:
            try:
                return action()
            except StorageFull as exc:
                if not self.until_free(exc, state):
                    raise
