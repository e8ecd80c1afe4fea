"""Finds finished files: the entries of the info XML files under a storage root.

A file is finished when the recorder has given it its final name and listed it in its info XML
(written atomically: a reader sees the old list or the new one). Only info files whose size or
modification time changed since the last look are parsed again, so a poll of a volume with
thousands of files costs a directory walk. Hidden names (the recorder's ``.x.tmp`` files, our
own ``.delivery`` directory) are skipped; an XML file that is not an info file is ignored.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..recorder.infofile import InfoEntry, parse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InfoFile:
    root: Path
    #: Relative to the root, with '/' separators.
    rel: str
    entries: tuple[InfoEntry, ...]
    text: bytes


class InfoScanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, tuple[int, int]] = {}

    def changed(self) -> list[InfoFile]:
        """Info files that are new or changed since the last call."""
        found: list[InfoFile] = []
        present: set[str] = set()
        for directory, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith(".") or not name.lower().endswith(".xml"):
                    continue
                path = Path(directory) / name
                rel = path.relative_to(self.root).as_posix()
                present.add(rel)
                try:
                    stat = path.stat()
                except OSError:
                    continue
                stamp = (stat.st_size, stat.st_mtime_ns)
                if self._seen.get(rel) == stamp:
                    continue
                try:
                    text = path.read_bytes()
                    entries = parse(text.decode("utf-8"))
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    log.debug("skipping %s: %s", path, exc)
                    self._seen[rel] = stamp
                    continue
                self._seen[rel] = stamp
                found.append(InfoFile(self.root, rel, tuple(entries), text))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return found

    def forget(self, rel: str) -> None:
        """Look at this info file again next time (its handling failed and must be retried)."""
        self._seen.pop(rel, None)
