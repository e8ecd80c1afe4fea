"""records' answer from memoised task JSON: the same bytes a fresh rendering would give, sorted
by id, and never a stale task once its Recording changed."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

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
    assert views.records_body(recordings) == body  # from the memo: the same bytes
    assert views.records_body([]) == fresh([]) == b'{"statusCode":200,"message":"OK","response":[]}'


def test_a_new_version_of_a_recording_is_rendered_again() -> None:
    views = TaskViews()
    views.records_body([recording("a", 1, state="ready")])
    body = views.records_body([recording("a", 2, state="recording")])
    assert json.loads(body)["response"][0]["state"] == "recording"


def test_recordings_without_a_version_are_rendered_each_time_and_the_memo_is_bounded() -> None:
    unversioned = recording("x", 1)
    del unversioned["metadata"]["resourceVersion"]
    views = TaskViews(limit=2)
    assert views.records_body([unversioned]) == fresh([unversioned])
    many = [recording(f"t{n}", n) for n in range(5)]
    assert views.records_body(many) == fresh(many)
    assert len(views._rendered) <= 2


def test_the_response_sends_the_rendered_bytes_as_json() -> None:
    response = RenderedJSON(b'{"a":1}')
    assert response.body == b'{"a":1}'
    assert response.media_type == "application/json"
    assert RenderedJSON({"a": 1}).body == b'{"a":1}'
