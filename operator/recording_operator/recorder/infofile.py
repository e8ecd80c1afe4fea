"""The info XML: one ``<file>`` entry per finished file, as OvenMediaEngine writes it.

Clients parse this file while a recording runs, so it is rewritten whole and atomically (temp
file, fsync, rename): a reader sees the old list or the new one, never half of either. The
element order and layout are fixed by the spec; they are rendered by hand rather than by an XML
library so that the order, the CDATA and the 2-space indent are exactly as specified.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields
from pathlib import Path
from xml.sax.saxutils import escape

from .errors import StorageError
from .paths import describe_os_error


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
assert [f.name for f in fields(InfoEntry)] == [name for name, _ in _ELEMENTS]


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _value(entry: InfoEntry, name: str) -> str:
    value = getattr(entry, name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "file_path":
        return _cdata(str(value))
    return escape(str(value))


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

    A file that cannot be parsed is moved aside (``name.broken``), not overwritten, so whatever
    it held can still be recovered by hand.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(describe_os_error(exc, path)) from exc
    try:
        return parse(text)
    except ValueError:
        try:
            path.replace(path.with_name(path.name + ".broken"))
        except OSError as exc:
            raise StorageError(describe_os_error(exc, path)) from exc
        return []


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StorageError(describe_os_error(exc, path)) from exc


def append(path: Path, entry: InfoEntry) -> list[InfoEntry]:
    """Adds ``entry`` to the info file at ``path`` (created when absent); returns all entries."""
    entries = [e for e in read(path) if not (
        e.transaction_id == entry.transaction_id and e.sequence == entry.sequence)]
    entries.append(entry)
    write_atomically(path, render(entries))
    return entries
