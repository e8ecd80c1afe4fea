"""Task views of Recordings, rendered once per Recording version.

records renders every task of an app on every call; a Recording only changes when its
resourceVersion does, so its view is kept until then (keyed by uid and resourceVersion, which
together name one immutable state of one object).
"""

from __future__ import annotations

from typing import Any

from ..model.task import task_view
from .store import Recording

#: Enough for every task of a large installation; past it the memo starts afresh.
MAX_VIEWS = 50_000


class TaskViews:
    def __init__(self, limit: int = MAX_VIEWS) -> None:
        self._views: dict[tuple[str, str], dict[str, Any]] = {}
        self._limit = limit

    def view(self, recording: Recording) -> dict[str, Any]:
        metadata = recording.get("metadata") or {}
        uid, version = metadata.get("uid"), metadata.get("resourceVersion")
        if not uid or not version:
            return task_view(recording)
        key = (str(uid), str(version))
        cached = self._views.get(key)
        if cached is None:
            if len(self._views) >= self._limit:
                self._views.clear()
            cached = self._views[key] = task_view(recording)
        return cached

    def sorted_views(self, recordings: list[Recording]) -> list[dict[str, Any]]:
        """The task list of records: sorted by id."""
        tasks = [self.view(recording) for recording in recordings]
        tasks.sort(key=lambda task: str(task["id"]))
        return tasks
