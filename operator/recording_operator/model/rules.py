"""The input rules a recording task must satisfy, shared by the API and the CRD's schema.

The CRD file repeats the schedule pattern as a regex; a test keeps the two in step.
"""

from __future__ import annotations

import posixpath
import re

# A schedule is three single-space-separated fields: second minute hour. Each field is `*`,
# `N` or `*/N` (N decimal without leading zeros); no lists, no ranges.
_N60 = r"(?:[0-9]|[1-5][0-9])"
_N24 = r"(?:[0-9]|1[0-9]|2[0-3])"
_STEP60 = r"(?:[1-9]|[1-5][0-9])"
_STEP24 = r"(?:[1-9]|1[0-9]|2[0-3])"
SCHEDULE_PATTERN = (
    rf"^(?:\*|{_N60}|\*/{_STEP60}) (?:\*|{_N60}|\*/{_STEP60}) (?:\*|{_N24}|\*/{_STEP24})$"
)
_SCHEDULE = re.compile(SCHEDULE_PATTERN)

FILE_EXTENSIONS = (".ts", ".mp4")
INFO_EXTENSIONS = (".xml",)

#: Shorter files than this are a client's mistake (or a way to flood the storage with files);
#: 0 means no split. The CRD says the same in a CEL rule.
MIN_INTERVAL = 1000

#: Id length cap: long enough for UUIDs and slugs, short enough for labels, names, paths.
MAX_ID_LENGTH = 253
#: The longest file or directory name the usual filesystems take (NAME_MAX), in UTF-8 bytes.
MAX_SEGMENT_BYTES = 255

#: C0 controls, DEL and lone surrogates: nothing a name or path needs, and most cannot be held
#: by the info XML. The CRD's rules match the same with ``CONTROL_CHARACTERS`` (a test keeps
#: them in step).
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
#: Free text (``metadata``) may hold tabs and line breaks, which XML keeps.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
CONTROL_CHARACTERS = r"[\x00-\x1F\x7F]"
TEXT_CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"


def control_problem(value: str, *, text: bool = False) -> str | None:
    """Why ``value`` is refused for the characters it holds, or None."""
    if (_CONTROL_IN_TEXT if text else _CONTROL).search(value):
        allowed = " (tab and line breaks are allowed)" if text else ""
        return f"must not contain control characters{allowed}"
    return None


def is_valid_schedule(schedule: str) -> bool:
    return bool(_SCHEDULE.match(schedule))


def path_problem(template: str, extensions: tuple[str, ...]) -> str | None:
    """Why a filePath/infoPath template is refused, or None when it is fine.

    Checked on the template itself: macros expand to values that cannot contain ``/`` or
    ``..`` (the recorder sanitises them), so a template that stays inside the storage root
    stays inside once expanded. A leading ``/`` is the storage root (OvenMediaEngine joins
    every path to its RootPath, and its own examples send ``/path/to/...``).
    """
    if not template:
        return "is empty"
    control = control_problem(template)
    if control:
        return control
    if "\\" in template:
        return "contains a forbidden character"
    relative = template.lstrip("/")
    parts = relative.split("/")
    if any(part in ("..", ".") for part in parts):
        return "must not contain '.' or '..' segments"
    if any(len(part.encode("utf-8")) > MAX_SEGMENT_BYTES for part in parts):
        return f"has a name longer than {MAX_SEGMENT_BYTES} bytes between two '/'"
    normalised = posixpath.normpath(relative)
    if normalised.startswith("..") or normalised.startswith("/"):
        return "escapes the storage root"
    if not template.lower().endswith(extensions):
        return "must end with " + " or ".join(extensions)
    return None


def checked_path(template: str, field_name: str | None) -> str:
    """A config's ``file_path`` or ``info_path`` template (by ``field_name``), unchanged when
    :func:`path_problem` finds nothing wrong with it; ValueError saying what is otherwise."""
    extensions = FILE_EXTENSIONS if field_name == "file_path" else INFO_EXTENSIONS
    problem = path_problem(template, extensions)
    if problem:
        raise ValueError(f"{template!r} {problem}")
    return template
