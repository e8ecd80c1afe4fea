"""Where a file goes: macro expansion, safe macro values, temporary and final locations.

Templates are checked when a task is created (``model.rules.path_problem``), but macro values
come from clients (ids, stream names), so each value is sanitised here to a single harmless path
segment and every resolved path is checked again against the real storage root, symlinks
included. A value such as ``..`` or ``a/b`` can therefore never move a file out of the root.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath

from ..model.rules import FILE_EXTENSIONS, INFO_EXTENSIONS, path_problem
from .errors import StorageError

_MACRO = re.compile(r"\$\{([A-Za-z]+)(?::([^}]*))?\}")
_TIME_TOKEN = re.compile(r"YYYY|MM|DD|hh|mm|ss")
_TIME_FORMAT = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "hh": "%H", "mm": "%M", "ss": "%S"}
_DEFAULT_TIME_FORMAT = "YYYYMMDDhhmmss"
#: Anything but letters, digits and a few punctuation marks becomes ``_``.
_UNSAFE = re.compile(r"[^\w.@+=-]", re.UNICODE)
#: Longest value kept from one macro, so that a long id cannot make a name the filesystem refuses.
_MAX_VALUE = 120


def safe_value(value: str) -> str:
    """One path segment that cannot climb, hide or split: ``../x`` → ``.._x``, ``..`` → ``__``."""
    cleaned = _UNSAFE.sub("_", value)[:_MAX_VALUE]
    if not cleaned.strip("."):
        cleaned = cleaned.replace(".", "_")
    return cleaned or "_"


def format_time(moment: datetime, pattern: str) -> str:
    """Renders ``YYYY MM DD hh mm ss`` tokens (any mix, any separators) of ``moment``."""
    return _TIME_TOKEN.sub(lambda m: moment.strftime(_TIME_FORMAT[m.group(0)]), pattern)


@dataclass(frozen=True)
class MacroValues:
    """What the macros of one file expand to. Times are shown in ``zone``."""

    transaction_id: str
    id: str
    vhost: str
    app: str
    stream: str
    sequence: int
    zone: tzinfo
    start: datetime
    #: None while the file is being written: ``${EndTime}`` then shows the start time.
    end: datetime | None = None

    def finished(self, end: datetime) -> MacroValues:
        return replace(self, end=end)


def expand(template: str, values: MacroValues) -> str:
    """Expands the spec's macros; an unknown macro stays as written, as OvenMediaEngine does."""

    def one(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name in ("StartTime", "EndTime"):
            moment = values.start if name == "StartTime" or values.end is None else values.end
            return safe_value(format_time(moment.astimezone(values.zone),
                                          arg or _DEFAULT_TIME_FORMAT))
        plain = {
            "TransactionId": values.transaction_id,
            "Id": values.id,
            "VirtualHost": values.vhost,
            "Application": values.app,
            "SourceStream": values.stream,
            "Stream": values.stream,
            "Sequence": str(values.sequence),
        }.get(name)
        return match.group(0) if plain is None else safe_value(plain)

    return _MACRO.sub(one, template)


class StorageRoot:
    """The directory every output lives under; resolves relative paths and refuses escapes."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root)

    def check_template(self, template: str, *, info: bool = False) -> None:
        problem = path_problem(template, INFO_EXTENSIONS if info else FILE_EXTENSIONS)
        if problem:
            kind = "infoPath" if info else "filePath"
            raise StorageError(f"{kind} {template!r} {problem}")

    def resolve(self, relative: str) -> Path:
        """The absolute path of ``relative``; raises StorageError when it would leave the root.

        Checked twice: lexically (no ``..``, not absolute) and on the real filesystem (a
        symlinked directory inside the root that points outside is refused too).
        """
        rel = PurePosixPath(relative)
        if rel.is_absolute() or any(part in ("..", "") for part in rel.parts) or not rel.parts:
            raise StorageError(f"path {relative!r} is outside the storage root")
        candidate = self.path.joinpath(*rel.parts)
        root_real = os.path.realpath(self.path)
        parent_real = os.path.realpath(candidate.parent)
        if parent_real != root_real and not parent_real.startswith(root_real + os.sep):
            raise StorageError(f"path {relative!r} resolves outside the storage root")
        return candidate

    def relative(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def make_parent(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(describe_os_error(exc, path.parent)) from exc
        # A directory created through a symlink race is caught here, after the fact.
        self.resolve(self.relative(path))


def temp_name(transaction_id: str, sequence: int, extension: str) -> str:
    """The name a file has while it is written: unique per task and sequence, same extension,
    so a file left by a killed recorder is still recognised by players."""
    return f"{safe_value(transaction_id)}_{sequence}.recording{extension}"


def unique_path(path: Path) -> Path:
    """``path`` or, when a file is already there, ``name_1.ext``, ``name_2.ext`` …: a template
    without a time or sequence macro must not make a new file overwrite an older one."""
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    n = 1
    while True:
        candidate = path.with_name(f"{stem}_{n}{suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def describe_os_error(exc: OSError, where: Path | str) -> str:
    """A status message for a storage failure that names the cause a person can act on."""
    reasons = {
        errno.ENOSPC: "the storage is full",
        errno.EDQUOT: "the storage quota is exhausted",
        errno.EACCES: "the storage is not writable (permission denied)",
        errno.EPERM: "the storage is not writable (operation not permitted)",
        errno.EROFS: "the storage is mounted read-only",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.EFBIG: "the file is larger than the storage allows",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot write {where}: {reason}"
