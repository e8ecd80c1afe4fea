"""The task object a client sees for a Recording: fields, presence rules, timestamps."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recording_operator.model.resource import ANNOTATION_CREATED_TIME, State
from recording_operator.model.task import created_time, task_state, task_view

OME_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")

FIGURES = {
    "recordBytes": 1000,
    "recordTime": 2000,
    "totalRecordBytes": 3000,
    "totalRecordTime": 4000,
    "sequence": 2,
}


def recording(
    state: str | None = None,
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "r-1",
        "creationTimestamp": "2023-03-15T12:15:20Z",
        "annotations": {ANNOTATION_CREATED_TIME: "2023-03-15T12:15:20.113+00:00"},
    }
    if deleting:
        metadata["deletionTimestamp"] = "2023-03-15T12:20:00Z"
    full_status: dict[str, Any] = {
        **FIGURES,
        "startTime": "2023-03-15T12:15:21.500+00:00",
        "finishTime": "2023-03-15T12:19:00.000+00:00",
        "outputFilePath": "out/a.ts",
        "outputInfoPath": "out/a.xml",
        **(status or {}),
    }
    if state is not None:
        full_status["state"] = state
    return {
        "metadata": metadata,
        "spec": spec or {"id": "2", "vhost": "default", "app": "app", "stream": {"name": "s"}},
        "status": full_status if state is not None or status else {},
    }


def test_a_fresh_recording_is_ready_with_the_seed_shape() -> None:
    rec = recording(spec={
        "id": "2", "vhost": "default", "app": "app", "stream": {"name": "stream"},
        "interval": 60000, "segmentationRule": "discontinuity",
    })
    assert task_view(rec) == {
        "id": "2",
        "state": "ready",
        "isConfig": False,
        "vhost": "default",
        "app": "app",
        "stream": {"name": "stream", "trackIds": [], "variantNames": []},
        "interval": 60000,
        "segmentationRule": "discontinuity",
        "createdTime": "2023-03-15T12:15:20.113+00:00",
    }


def test_stream_always_has_both_lists_and_rule_defaults_to_discontinuity() -> None:
    task = task_view(recording(spec={"id": "x", "stream": {"name": "s", "trackIds": [1, 2]}}))
    assert task["stream"] == {"name": "s", "trackIds": [1, 2], "variantNames": []}
    assert task["segmentationRule"] == "discontinuity"
    # CRD defaults: vhost/app always known
    assert (task["vhost"], task["app"]) == ("default", "app")


def test_empty_strings_and_non_positive_interval_are_left_out() -> None:
    task = task_view(recording(spec={
        "id": "x", "stream": {"name": "s"}, "metadata": "", "schedule": "", "filePath": "",
        "interval": 0,
    }))
    for key in ("metadata", "schedule", "filePath", "infoPath", "interval"):
        assert key not in task


def test_client_templates_and_expanded_paths() -> None:
    task = task_view(recording("recording", spec={
        "id": "x", "stream": {"name": "s"}, "filePath": "${Id}.mp4", "infoPath": "${Id}.xml",
        "schedule": "0 */1 *", "metadata": "hello",
    }))
    assert task["filePath"] == "${Id}.mp4"
    assert task["infoPath"] == "${Id}.xml"
    assert task["outputFilePath"] == "out/a.ts"
    assert task["outputInfoPath"] == "out/a.xml"
    assert task["schedule"] == "0 */1 *"
    assert task["metadata"] == "hello"


@pytest.mark.parametrize("state", ["recording", "stopping", "stopped", "error"])
def test_figures_and_start_time_once_started(state: str) -> None:
    task = task_view(recording(state))
    assert task["state"] == state
    for key, value in FIGURES.items():
        assert task[key] == value
    assert task["startTime"] == "2023-03-15T12:15:21.500+00:00"
    assert ("finishTime" in task) == (state in ("stopped", "error"))


def test_ready_shows_no_figures_nor_times() -> None:
    task = task_view(recording("ready"))
    for key in (*FIGURES, "startTime", "finishTime"):
        assert key not in task


def test_zero_figures_are_left_out() -> None:
    zeros = dict.fromkeys(FIGURES, 0)
    task = task_view(recording("recording", status=zeros))
    for key in FIGURES:
        assert key not in task


def test_deletion_means_stopping_whatever_the_status_says() -> None:
    rec = recording("recording", deleting=True)
    assert task_state(rec) is State.STOPPING
    assert task_view(rec)["state"] == "stopping"
    assert "finishTime" not in task_view(rec)


def test_state_override_for_stop_record() -> None:
    assert task_view(recording("ready"), state=State.STOPPING)["state"] == "stopping"


def test_unknown_or_missing_state_is_ready() -> None:
    assert task_view(recording(status={"state": "bogus"}))["state"] == "ready"
    assert task_view({"spec": {"id": "x", "stream": {"name": "s"}}})["state"] == "ready"


def test_is_config_is_always_there_and_false() -> None:
    for state in (None, "recording", "error"):
        assert task_view(recording(state))["isConfig"] is False


def test_timestamps_are_rewritten_in_ome_format() -> None:
    rec = recording("stopped", status={
        "startTime": "2023-03-15T21:15:20.113456+09:00",
        "finishTime": "2023-03-15T12:19:00Z",
    })
    task = task_view(rec)
    assert task["startTime"] == "2023-03-15T21:15:20.113+09:00"
    assert task["finishTime"] == "2023-03-15T12:19:00.000+00:00"
    for key in ("createdTime", "startTime", "finishTime"):
        assert OME_TIME.match(task[key]), task[key]


def test_unreadable_timestamps_are_left_out() -> None:
    task = task_view(recording("stopped", status={"startTime": "yesterday"}))
    assert "startTime" not in task


def test_created_time_prefers_status_then_annotation_then_creation() -> None:
    rec = recording()
    assert created_time(rec) == "2023-03-15T12:15:20.113+00:00"
    rec["status"] = {"createdTime": "2023-03-15T12:15:22.001+00:00"}
    assert created_time(rec) == "2023-03-15T12:15:22.001+00:00"
    kubectl_made = {"metadata": {"creationTimestamp": "2023-03-15T12:15:20Z"}}
    assert created_time(kubectl_made) == "2023-03-15T12:15:20.000+00:00"
    assert OME_TIME.match(created_time({}))
