"""records' answer from memoised task JSON: the same bytes a fresh rendering would give, sorted
by id, and never a stale task once its Recording changed (the memo lives on the cached
object, so a new version is a new object)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from recording_operator.api.cache import trimmed
from recording_operator.api.errors import ok_body
from recording_operator.api.views import RenderedJSON, TaskViews
from recording_operator.model.task import task_view


def recording(record_id: str, version: int, state: str = "ready", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"n-{record_id}", "uid": f"uid-{record_id}",
                     "resourceVersion": str(version),
                     "annotations": {"recording-operator.dev/created-time":
                                     "2026-03-15T21:15:20.113+09:00"}},
        "spec": {"id": record_id, "vhost": "default", "app": "app",
                 "stream": {"name": "s"}, **spec},
        "status": {"state": state, "recordBytes": version},
    }


def fresh(recordings: list[dict[str, Any]]) -> bytes:
    tasks = sorted((task_view(r) for r in recordings), key=lambda task: str(task["id"]))
    return bytes(JSONResponse(ok_body(tasks)).body)


def test_the_body_is_what_rendering_the_sorted_tasks_gives() -> None:
    recordings = [recording("b", 3), recording("a", 5, metadata="ü \"quoted\" ✓"),
                  recording("c", 1, state="recording"), recording("a0", 2)]
    views = TaskViews()
    body = views.records_body(recordings)
    assert body == fresh(recordings)
    assert [t["id"] for t in json.loads(body)["response"]] == ["a", "a0", "b", "c"]
    cached: list[dict[str, Any]] = [trimmed(r) for r in recordings]
    assert views.records_body(cached) == body
    assert views.records_body(cached) == body  # from the memo: the same bytes
    assert views.records_body([]) == fresh([]) == b'{"statusCode":200,"message":"OK","response":[]}'


def test_a_cached_recording_keeps_its_rendering_and_a_new_version_is_rendered_again() -> None:
    views = TaskViews()
    first = trimmed(recording("a", 1, state="ready"))
    body = views.records_body([first])
    assert first.view is not None, "the rendering lives on the cached object"
    assert views.records_body([first]) == body
    newer = trimmed(recording("a", 2, state="recording"))
    assert json.loads(views.records_body([newer]))["response"][0]["state"] == "recording"


def test_plain_recordings_are_rendered_each_time() -> None:
    views = TaskViews()
    plain = recording("x", 1)
    assert views.records_body([plain]) == fresh([plain])
    plain["status"]["state"] = "recording"
    assert json.loads(views.records_body([plain]))["response"][0]["state"] == "recording"


def test_the_response_sends_the_rendered_bytes_as_json() -> None:
    response = RenderedJSON(b'{"a":1}')
    assert response.body == b'{"a":1}'
    assert response.media_type == "application/json"
    assert RenderedJSON({"a": 1}).body == b'{"a":1}'
