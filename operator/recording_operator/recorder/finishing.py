"""A finished file's publication, made durable before it starts so that no kill loses the file.

Publishing a finished file is two steps that cannot be one: the rename from its temporary name
to its final name, then its entry in the info XML (and the status). Listing first is wrong
(delivery would find a listed file that does not exist yet and call it lost); renaming first
leaves a window in which a killed recorder (SIGKILL, node loss) leaves a file under its final
name that nothing lists, which a restart would never look at again: resuming only finishes
temporary names. So before the rename the recorder writes a small hidden note next to the
temporary file, ``.<temporary name>.finishing``, holding what the publication needs (sequence,
start, end, size, duration, whether it is the last file, and the file's inode, which the rename
keeps), and removes it once the file is listed. A restarted recorder that finds a note completes
what it describes: the rename if the temporary file is still there, the info entry if the final
file is not listed, or nothing but the note's removal if the kill came after the listing.

The note's name starts with a dot and ends in ``.finishing``: delivery, retention and the
catalogue only follow info XMLs (and skip hidden names), and no media extension matches it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .paths import StorageRoot, is_unique_name, storage_error

SUFFIX = ".finishing"
#: A note is a few hundred bytes; anything larger is not one of ours.
_MAX_BYTES = 4096


@dataclass(frozen=True)
class Pending:
    """A publication begun but perhaps not completed: what its completion needs."""

    sequence: int
    start: datetime
    end: datetime
    size: int
    time_ms: int
    last: bool
    #: The inode of the temporary file, which the rename keeps: how the final file is found
    #: again when the kill came after the rename (its name may have taken a ``_1``).
    inode: int

    def to_json(self) -> str:
        return json.dumps({
            "sequence": self.sequence, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "bytes": self.size, "timeMs": self.time_ms,
            "last": self.last, "inode": self.inode,
        })

    @classmethod
    def from_json(cls, text: str) -> Pending | None:
        """The note's contents, or None when it is not a complete note (a kill while it was
        written: then the rename had not happened and the temporary file is still there)."""
        try:
            raw = json.loads(text)
            pending = cls(
                sequence=raw["sequence"], start=datetime.fromisoformat(raw["start"]),
                end=datetime.fromisoformat(raw["end"]), size=raw["bytes"],
                time_ms=raw["timeMs"], last=raw["last"], inode=raw["inode"],
            )
        except (ValueError, TypeError, KeyError):
            return None
        numbers = (pending.sequence, pending.size, pending.time_ms, pending.inode)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            return None
        if not isinstance(pending.last, bool) or pending.start.tzinfo is None \
                or pending.end.tzinfo is None:
            return None
        return pending


def note_name(temp_name: str) -> str:
    """The note's name for the temporary file named ``temp_name``."""
    return f".{temp_name}{SUFFIX}"


def temp_of(note: str) -> str | None:
    """The temporary file's name a note's name stands for, or None if it is not a note's."""
    if not (note.startswith(".") and note.endswith(SUFFIX)) or len(note) <= len(SUFFIX) + 1:
        return None
    return note[1:-len(SUFFIX)]


def inode_of(temp: Path) -> int:
    try:
        return os.lstat(temp).st_ino
    except OSError as exc:
        raise storage_error(exc, temp) from exc


def write(root: StorageRoot, temp: Path, pending: Pending) -> Path:
    """Writes the note for ``temp`` and makes it durable (file and directory synced) before
    the rename it announces; returns its path.

    Whatever is at the note's name (a stale note, or a symlink planted on a shared volume) is
    removed first and the note made with ``O_EXCL | O_NOFOLLOW``, so nothing is written through
    a link; the descriptor is checked to be inside the storage root.
    """
    path = temp.with_name(note_name(temp.name))
    data = pending.to_json().encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        root.check_opened(fd, path)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise storage_error(exc, path) from exc
    os.close(fd)
    sync_directory(path.parent)
    return path


def sync_directory(directory: Path) -> None:
    """Makes the directory's entries (a new note, a rename, a removal) survive a power loss;
    best effort where the filesystem cannot sync a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> Pending | None:
    """The note at ``path``; None when it is missing, not a regular file, or incomplete."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, _MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > _MAX_BYTES:
        return None
    return Pending.from_json(raw.decode("utf-8", errors="replace"))


def remove(path: Path) -> None:
    """Removes a note whose publication is complete (a missing note is fine)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise storage_error(exc, path) from exc


def find_renamed(file: Path, pending: Pending) -> Path | None:
    """The file the note's publication renamed: at ``file``'s name or one of its ``_<n>``
    variants (see :func:`paths.unique_names`), the regular file with the note's inode (the
    size is not compared: the inode alone is the file, and an unlisted file is never removed
    by delivery or retention, so its inode cannot have been reused)."""
    try:
        names = os.listdir(file.parent)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            return None
        raise storage_error(exc, file.parent) from exc
    for name in sorted(names):
        if not is_unique_name(file, name):
            continue
        try:
            found = os.lstat(file.parent / name)
        except OSError:
            continue
        if stat.S_ISREG(found.st_mode) and found.st_ino == pending.inode:
            return file.parent / name
    return None
