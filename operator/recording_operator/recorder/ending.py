"""The last file of a task stopped while it waited for a stream that had ended.

A stop during recording finishes the open file with ``lastSequence`` true. But a task is often
stopped just after its stream ended: a StreamMap rule's task is ended by the media server's
unpublish notification, which arrives after the recorder has already seen the stream drop and
finished the file with ``lastSequence`` false (a drop is not the end: the stream may return).
When the stop then comes, no file is open, and without this the transaction would end with no
file saying it was the last. So on the final stop the transaction's last file is marked
``lastSequence`` true in its info file and in the status, as OME's own files end.
"""

from __future__ import annotations

import dataclasses
import logging

from . import infofile
from .errors import RecorderError
from .paths import StorageRoot
from .progress import Progress

log = logging.getLogger(__name__)


def mark_last_file(root: StorageRoot, progress: Progress, transaction_id: str) -> None:
    """Marks the transaction's last finished file as its last sequence (a no-op when it is
    marked already, or when no file was finished)."""
    if not progress.files or progress.output_info_path is None:
        return
    last = progress.files[-1]
    if last.last_sequence:
        return
    try:
        path = root.resolve(progress.output_info_path)
        with infofile.locked(path):
            entries = infofile.read(path)
            marked = [
                dataclasses.replace(e, last_sequence=True)
                if e.transaction_id == transaction_id and e.file_path == last.file_path else e
                for e in entries
            ]
            if marked != entries:
                infofile.write_atomically(path, infofile.render(marked))
    except (RecorderError, OSError) as exc:
        log.warning("could not mark %s as the last file: %s", last.file_path, exc)
        return
    progress.files[-1] = dataclasses.replace(last, last_sequence=True)
    log.info("file %d was the last: marked lastSequence", last.sequence)
