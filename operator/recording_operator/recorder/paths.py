"""Where a file goes, and how it gets there without harming any other file.

Templates are checked when a task is created (``model.rules.path_problem``), but macro values
come from clients (ids, stream names), so each value is sanitised here to a single harmless path
segment and every resolved path is checked again against the real storage root, symlinks
included. A value such as ``..`` or ``a/b`` can therefore never move a file out of the root. A
leading ``/`` means the root itself, as OvenMediaEngine joins every path to its RootPath.

Several recorders share one volume and may be given the same literal names (``a.ts``,
``info.xml``), and a recorder parses untrusted media, so nothing here trusts what is on disk:

* a file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a symlink or file planted at its name
  is never written through or over; another name is taken) and written through its descriptor;
* a finished file gets its final name with ``renameat2(RENAME_NOREPLACE)`` (or link + unlink
  where the filesystem lacks it), never by check-then-replace, so two tasks finishing at once
  cannot overwrite each other: the later one takes ``name_1.ext``;
* a set-aside file (``.broken``) gets a name of its own in the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath

from ..model.rules import FILE_EXTENSIONS, INFO_EXTENSIONS, path_problem
from .errors import StorageError, StorageFull

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

        Checked twice: lexically (no ``..``; a leading ``/`` is the root) and on the real
        filesystem (a symlinked directory inside the root that points outside is refused too).
        """
        rel = PurePosixPath(relative.lstrip("/"))
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
            raise storage_error(exc, path.parent) from exc
        # A directory created through a symlink race is caught here, after the fact.
        self.resolve(self.relative(path))

    def check_opened(self, fd: int, path: Path) -> None:
        """Refuses a file that was opened outside the root (a directory swapped for a symlink
        between :meth:`resolve` and the open): what the descriptor really is, is checked."""
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return  # no /proc: the lexical and realpath checks are all there is
        root_real = os.path.realpath(self.path)
        if not real.startswith(root_real + os.sep):
            raise StorageError(f"{self.relative(path)!r} was opened outside the storage root")


@dataclass(frozen=True)
class TaskPaths:
    """Where one file of a task lives: its final name, its info file and its temporary name,
    each resolved inside the storage root with its parent directory made.

    ``file`` is the name the template gives (for a file being written, ``${EndTime}`` shows
    its start); :func:`move_noreplace` may still add ``_1`` if that name is taken.
    """

    root: StorageRoot
    file: Path
    info: Path
    temp: Path

    @classmethod
    def of(
        cls, root: StorageRoot, file_template: str, info_template: str, values: MacroValues
    ) -> TaskPaths:
        file = root.resolve(expand(file_template, values))
        info = root.resolve(expand(info_template, values))
        temp = file.with_name(temp_name(values.transaction_id, values.sequence, file.suffix))
        root.make_parent(file)
        root.make_parent(info)
        return cls(root=root, file=file, info=info, temp=temp)

    def relative(self, path: Path) -> str:
        return self.root.relative(path)

    @contextlib.contextmanager
    def create_temp(self) -> Iterator[tuple[Path, str]]:
        """Creates the temporary file; yields its path and the name to open it by.

        The file is made with ``O_EXCL | O_NOFOLLOW``: if anything is at the name already (a
        symlink planted on the volume, another run of the task), a fresh name is taken. The
        name to open is the descriptor's ``/proc/self/fd`` entry, so a writer opening it while
        the descriptor is held reaches exactly this file, whatever happens to the name. The
        writer must open it before the ``with`` block ends.
        """
        path = self.temp
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for _ in range(100):
            try:
                fd = os.open(path, flags, 0o644)
                break
            except FileExistsError:
                path = self.temp.with_name(
                    f"{self.temp.stem}.{secrets.token_hex(4)}{self.temp.suffix}")
            except OSError as exc:
                raise storage_error(exc, path) from exc
        else:
            raise StorageError(f"cannot create a temporary file next to {self.temp}")
        try:
            self.root.check_opened(fd, path)
            proc = f"/proc/self/fd/{fd}"
            yield path, proc if os.path.exists(proc) else str(path)
        finally:
            os.close(fd)

    def finish(self, temp: Path) -> Path:
        """Gives the finished ``temp`` its final name without replacing anything; returns it."""
        return move_noreplace(temp, self.file)


def temp_name(transaction_id: str, sequence: int, extension: str) -> str:
    """The name a file has while it is written: unique per task and sequence, same extension,
    so a file left by a killed recorder is still recognised by players."""
    return f"{safe_value(transaction_id)}_{sequence}.recording{extension}"


#: renameat2's flag (linux/fs.h) and the "current directory" descriptor.
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_NO_RENAMEAT2 = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _renameat2(libc: ctypes.CDLL | None, src: Path, dst: Path) -> bool:
    """``rename(src, dst)`` unless ``dst`` exists (FileExistsError); False when unsupported."""
    function = getattr(libc, "renameat2", None)
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst),
                      _RENAME_NOREPLACE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_RENAMEAT2:
        return False
    raise OSError(code, os.strerror(code), str(dst))


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def rename_noreplace(src: Path, dst: Path) -> None:
    """Renames ``src`` to ``dst`` atomically, raising FileExistsError if ``dst`` exists.

    ``renameat2(RENAME_NOREPLACE)`` where the filesystem has it, else a hard link (which also
    never replaces) and the unlink of the old name.
    """
    if _renameat2(_LIBC, src, dst):
        return
    os.link(src, dst, follow_symlinks=False)
    os.unlink(src)


def unique_names(path: Path) -> Iterator[Path]:
    """``name.ext``, ``name_1.ext``, ``name_2.ext`` …: a template without a time or sequence
    macro must not make a new file overwrite an older one."""
    yield path
    n = 1
    while True:
        yield path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1


def is_unique_name(path: Path, name: str) -> bool:
    """Whether ``name`` is one of the names :func:`unique_names` gives ``path``."""
    if name == path.name:
        return True
    prefix, suffix = f"{path.stem}_", path.suffix
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return False
    n = name[len(prefix):len(name) - len(suffix)]
    return n.isascii() and n.isdigit() and not n.startswith("0")


def move_noreplace(src: Path, dst: Path) -> Path:
    """Moves ``src`` to ``dst`` or the first free name of :func:`unique_names`; returns it.

    Never replaces an existing file (or a symlink planted at the name), even when another
    recorder finishes a file of the same name at the same moment.
    """
    for candidate in unique_names(dst):
        try:
            rename_noreplace(src, candidate)
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise storage_error(exc, candidate) from exc
    raise AssertionError("unreachable: unique_names never ends")


def storage_error(exc: OSError, where: Path | str) -> StorageError:
    """The StorageError for ``exc``; a full storage is :class:`StorageFull`, which a recorder
    waits out instead of failing."""
    kind = StorageFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StorageError
    return kind(describe_os_error(exc, where))


def left_file(path: Path) -> os.stat_result | None:
    """The ``lstat`` of a file a killed recorder may have left at ``path``, or None when there is
    none or it is not a regular file: a symlink planted at a temporary name is not ours to finish
    (finishing it would publish whatever it points to)."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return found if stat.S_ISREG(found.st_mode) else None


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
