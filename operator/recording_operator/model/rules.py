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

#: Id length cap: long enough for UUIDs and slugs, short enough for labels, names, paths.
MAX_ID_LENGTH = 253


def is_valid_schedule(schedule: str) -> bool:
    return bool(_SCHEDULE.match(schedule))


def path_problem(template: str, extensions: tuple[str, ...]) -> str | None:
    """Why a filePath/infoPath template is refused, or None when it is fine.

    Checked on the template itself: macros expand to values that cannot contain ``/`` or
    ``..`` (the recorder sanitises them), so a template that stays inside the storage root
    stays inside once expanded.
    """
    if not template:
        return "is empty"
    if "\x00" in template or "\\" in template:
        return "contains a forbidden character"
    if template.startswith("/"):
        return "must be relative to the storage root"
    parts = template.split("/")
    if any(part in ("..", ".") for part in parts):
        return "must not contain '.' or '..' segments"
    normalised = posixpath.normpath(template)
    if normalised.startswith("..") or normalised.startswith("/"):
        return "escapes the storage root"
    if not template.lower().endswith(extensions):
        return "must end with " + " or ".join(extensions)
    return None
