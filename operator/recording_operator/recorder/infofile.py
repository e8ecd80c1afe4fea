"""The info XML: one ``<file>`` entry per finished file, as OvenMediaEngine writes it.

Clients parse this file while a recording runs, so it is rewritten whole and atomically (temp
file, fsync, rename): a reader sees the old list or the new one, never half of either. The
element order and layout are fixed by the spec; they are rendered by hand rather than by an XML
library so that the order, the CDATA and the 2-space indent are exactly as specified.

Several tasks may share one info file (a literal ``infoPath``), so an append is a
read-modify-write under a lock (``fcntl`` on a ``.<name>.lock`` file next to it, which also
works across pods on a shared volume), through a temporary file of a unique name. A character
XML 1.0 cannot hold becomes U+FFFD, so the file always parses; a file that does not parse (or a
symlink planted at its name) is set aside under a name of its own, never over an older one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from xml.sax.saxutils import escape

from .paths import move_noreplace, storage_error


@dataclass(frozen=True)
class InfoEntry:
    transaction_id: str
    id: str
    metadata: str
    vhost: str
    app: str
    stream: str
    #: Relative to the storage root.
    file_path: str
    record_bytes: int
    record_time: int
    sequence: int
    last_sequence: bool
    created_time: str
    start_time: str
    finish_time: str


#: (python field, XML element) in the spec's order.
_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("transaction_id", "transactionId"),
    ("id", "id"),
    ("metadata", "metadata"),
    ("vhost", "vhost"),
    ("app", "app"),
    ("stream", "stream"),
    ("file_path", "filePath"),
    ("record_bytes", "recordBytes"),
    ("record_time", "recordTime"),
    ("sequence", "sequence"),
    ("last_sequence", "lastSequence"),
    ("created_time", "createdTime"),
    ("start_time", "startTime"),
    ("finish_time", "finishTime"),
)
if [f.name for f in fields(InfoEntry)] != [name for name, _ in _ELEMENTS]:
    raise TypeError("InfoEntry's fields and the info XML's elements are out of step")

#: What XML 1.0 cannot hold (its ``Char`` production's complement): C0 controls but tab, LF
#: and CR; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _value(entry: InfoEntry, name: str) -> str:
    value = getattr(entry, name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "file_path":
        return _cdata(xml_text(str(value)))
    return escape(xml_text(str(value)))


def render(entries: list[InfoEntry]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<files>"]
    for entry in entries:
        lines.append("  <file>")
        for name, element in _ELEMENTS:
            lines.append(f"    <{element}>{_value(entry, name)}</{element}>")
        lines.append("  </file>")
    lines.append("</files>")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[InfoEntry]:
    """Reads a file :func:`render` wrote; raises ValueError when it is not one."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - our own file; expat refuses entity bombs
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    if root.tag != "files":
        raise ValueError(f"root element is <{root.tag}>, not <files>")
    entries = []
    for node in root.findall("file"):
        raw = {name: (node.findtext(element) or "") for name, element in _ELEMENTS}
        try:
            entries.append(
                InfoEntry(
                    **{k: v for k, v in raw.items()
                       if k not in ("record_bytes", "record_time", "sequence", "last_sequence")},
                    record_bytes=int(raw["record_bytes"] or 0),
                    record_time=int(raw["record_time"] or 0),
                    sequence=int(raw["sequence"] or 0),
                    last_sequence=raw["last_sequence"] == "true",
                )
            )
        except ValueError as exc:
            raise ValueError(f"bad <file> entry: {exc}") from exc
    return entries


def read(path: Path) -> list[InfoEntry]:
    """The entries of an existing info file; [] when there is none.

    A file that cannot be parsed, or a symlink at its name, is moved aside (``name.broken``,
    ``name_1.broken`` …: never over an earlier one), so whatever it held can still be
    recovered by hand. Call it under :func:`locked` when the result is written back.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise storage_error(exc, path) from exc
        text = None  # a symlink: not ours to read
    else:
        try:
            with open(fd, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise storage_error(exc, path) from exc
        text = raw.decode("utf-8", errors="replace")
    if text is not None:
        try:
            return parse(text)
        except ValueError:
            pass
    move_noreplace(path, path.with_name(path.name + ".broken"))
    return []


def write_atomically(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text`` through a temporary file of a unique name."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise storage_error(exc, path) from exc
    tmp = Path(tmp_name)
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)  # readable as before; mkstemp makes it 0600
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from exc


#: fcntl locks belong to a process: threads of one process are kept apart by this.
_IN_PROCESS = threading.Lock()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Holds the lock of the info file at ``path`` (every process and pod sharing the volume)."""
    lock_path = path.with_name(f".{path.name}.lock")
    with _IN_PROCESS:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise storage_error(exc, lock_path) from exc
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def append(path: Path, entry: InfoEntry) -> list[InfoEntry]:
    """Adds ``entry`` to the info file at ``path`` (created when absent); returns all entries."""
    with locked(path):
        entries = [e for e in read(path) if not (
            e.transaction_id == entry.transaction_id and e.sequence == entry.sequence)]
        entries.append(entry)
        write_atomically(path, render(entries))
    return entries
