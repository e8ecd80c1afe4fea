"""records' answer, assembled from task views rendered once per Recording version.

records renders every task of an app on every call; a cached Recording (``api.cache``) is one
immutable version of one object (the cache replaces it when a newer one arrives), so its task's
JSON is kept on it and an answer is the sorted fragments joined. The memo is thereby bounded by
the objects themselves: one rendering per Recording in the cache, dropped with it. Serialising
the task dicts anew took most of a records call at thousands of tasks (measured: 8.5 of 13 ms
at 5,000 tasks); joining bytes takes a fraction of a millisecond. Recordings read directly from
the API server (no cache) are rendered on each call.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from fastapi.responses import JSONResponse

from ..model.task import task_view
from .cache import CachedRecording
from .errors import ok_body
from .store import Recording


def render(content: Any) -> bytes:
    """JSON exactly as Starlette's JSONResponse renders it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


_BEFORE, _AFTER = render(ok_body([])).split(b"[]")
_HEAD, _TAIL = _BEFORE + b"[", b"]" + _AFTER


class RenderedJSON(JSONResponse):
    """A JSON response whose body was rendered already (bytes go out as they are)."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


class TaskViews:
    def _task(self, recording: Recording) -> tuple[str, bytes]:
        """(sort key, JSON) of a Recording's task; kept on a cached Recording until the cache
        replaces it with a newer version (so one rendering per object, gone with it)."""
        if isinstance(recording, CachedRecording):
            if recording.view is None:
                task = task_view(recording)
                recording.view = (str(task["id"]), render(task))
            return recording.view
        task = task_view(recording)
        return str(task["id"]), render(task)

    def records_body(self, recordings: list[Recording]) -> bytes:
        """The records answer (OME envelope, tasks sorted by id), as JSON bytes."""
        tasks = [self._task(recording) for recording in recordings]
        tasks.sort(key=itemgetter(0))
        return _HEAD + b",".join(fragment for _, fragment in tasks) + _TAIL
