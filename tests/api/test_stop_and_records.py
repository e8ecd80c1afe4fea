"""stopRecord and records: exact texts, the stopping answer, removal, listing order, the id
filter, tasks made with kubectl, and which fields a task shows in each state."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from recording_operator.model.task import created_time
from tests.waiting import wait_for

from .conftest import Api

pytestmark = pytest.mark.controlplane

OME_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
HOLD = "test.recording-operator.dev/hold"


def expect(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {"statusCode": status, "message": message}


def hold(api: Api, record_id: str) -> str:
    """Adds a finalizer, as the operator does, so deletion leaves the Recording 'stopping'."""
    name: str = api.recording(record_id)["metadata"]["name"]
    api.patch(name, {"metadata": {"finalizers": [HOLD]}})
    return name


def release(api: Api, name: str) -> None:
    api.patch(name, {"metadata": {"finalizers": None}})


# -- stopRecord -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"id": ""}, {"id": None}, {"stream": {"name": "s"}}])
def test_stop_without_an_id(shared_api: Api, body: dict[str, Any]) -> None:
    expect(shared_api.call("stopRecord", body), 400,
           "[HTTP] There is no required parameter [ id] (400)")


def test_stop_with_a_non_string_id(shared_api: Api) -> None:
    expect(shared_api.call("stopRecord", {"id": 7}), 400,
           "[HTTP] Invalid [id] parameter: must be a string (400)")


def test_stop_an_unknown_id(shared_api: Api) -> None:
    expect(shared_api.call("stopRecord", {"id": "ghost"}), 404,
           "[HTTP] There is no record information related to the ID [ghost] (404)")


def test_stop_answers_the_task_as_it_was_with_state_stopping(api: Api) -> None:
    started = api.start("s1", interval=60000, metadata="m")
    name = api.recording("s1")["metadata"]["name"]
    api.patch_status(name, {"state": "recording", "startTime": "2023-03-15T12:00:00.000+00:00",
                            "recordBytes": 10, "sequence": 1})
    answer = api.call("stopRecord", {"id": "s1"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["statusCode"], body["message"]) == (200, "OK")
    task = body["response"]
    assert task["state"] == "stopping"
    assert task["createdTime"] == started["createdTime"]
    assert task["recordBytes"] == 10
    assert task["sequence"] == 1
    assert task["startTime"] == "2023-03-15T12:00:00.000+00:00"
    assert {k: v for k, v in task.items() if k not in ("state", "recordBytes", "sequence",
                                                         "startTime")} == \
        {k: v for k, v in started.items() if k != "state"}
    # no operator holds it here, so it is gone at once, and the id can be used again
    assert api.gone(name)
    assert api.records() == []
    assert api.call("startRecord", {"id": "s1", "stream": {"name": "x"}}).status_code == 200


def test_while_stopping_the_task_is_listed_as_stopping_then_removed(api: Api) -> None:
    api.start("s2")
    name = hold(api, "s2")
    api.patch_status(name, {"state": "recording"})
    assert api.call("stopRecord", {"id": "s2"}).json()["response"]["state"] == "stopping"
    [task] = api.records()
    assert task["state"] == "stopping"
    assert [t["state"] for t in api.records({"id": "s2"})] == ["stopping"]
    # its id stays taken while it is stopping
    expect(api.call("startRecord", {"id": "s2", "stream": {"name": "x"}}), 409,
           "[HTTP] Duplicate ID already exists (409)")
    # stopping again is harmless
    assert api.call("stopRecord", {"id": "s2"}).json()["response"]["state"] == "stopping"
    release(api, name)
    wait_for(lambda: api.records() == [], 10, "the stopped task to leave the list")
    assert api.call("startRecord", {"id": "s2", "stream": {"name": "x"}}).status_code == 200


def test_stop_in_another_app_does_not_touch_this_one(api: Api) -> None:
    api.start("same")
    expect(api.call("stopRecord", {"id": "same"}, app="app2"), 404,
           "[HTTP] There is no record information related to the ID [same] (404)")
    assert [t["id"] for t in api.records()] == ["same"]


def test_stop_a_kubectl_made_recording(api: Api) -> None:
    api.create_as_kubectl("mine", {"id": "k1", "stream": {"name": "cam"}})
    task = api.call("stopRecord", {"id": "k1"}).json()["response"]
    assert (task["id"], task["state"]) == ("k1", "stopping")
    assert api.gone("mine")


# -- records ----------------------------------------------------------------------------------


def test_records_of_an_empty_app_is_an_empty_array(shared_api: Api) -> None:
    for answer in (shared_api.call("records"), shared_api.call("records", {}),
                   shared_api.call("records", method="GET")):
        assert answer.json() == {"statusCode": 200, "message": "OK", "response": []}


def test_records_are_sorted_by_id(api: Api) -> None:
    for record_id in ("b", "10", "a", "2", "B", "1"):
        api.start(record_id)
    assert [t["id"] for t in api.records()] == ["1", "10", "2", "B", "a", "b"]
    assert [t["id"] for t in api.records(method="GET")] == ["1", "10", "2", "B", "a", "b"]


def test_the_id_filter_is_exact_and_never_404(api: Api) -> None:
    for record_id in ("cam", "cam2", "Cam"):
        api.start(record_id)
    assert [t["id"] for t in api.records({"id": "cam"})] == ["cam"]
    assert api.records({"id": "ca"}) == []
    assert api.records({"id": "nobody"}) == []
    assert len(api.records({"id": ""})) == 3  # an empty id filters nothing


def test_records_only_lists_this_vhost_and_app(api: Api) -> None:
    api.start("one")
    api.call("startRecord", {"id": "two", "stream": {"name": "s"}}, app="app2")
    api.call("startRecord", {"id": "three", "stream": {"name": "s"}}, vhost="live")
    assert [t["id"] for t in api.records()] == ["one"]
    assert [t["id"] for t in api.records(app="app2")] == ["two"]
    assert [t["id"] for t in api.records(vhost="live")] == ["three"]


def test_records_finds_kubectl_made_recordings_without_labels(api: Api) -> None:
    api.create_as_kubectl("hand-1", {"id": "k1", "stream": {"name": "cam"}})
    api.create_as_kubectl("hand-2", {"id": "k2", "vhost": "default", "app": "app2",
                                     "stream": {"name": "cam"}, "schedule": "0 */1 *"})
    [task] = api.records_when(lambda tasks: len(tasks) == 1)
    assert task["id"] == "k1"
    assert (task["vhost"], task["app"]) == ("default", "app")  # the CRD's defaults
    assert OME_TIME.match(task["createdTime"])
    [task] = api.records_when(lambda tasks: len(tasks) == 1, app="app2")
    assert (task["id"], task["schedule"]) == ("k2", "0 */1 *")


# -- the task object in each state -----------------------------------------------------------

FIGURES = {"recordBytes": 2048, "recordTime": 3000, "totalRecordBytes": 4096,
           "totalRecordTime": 6000, "sequence": 1}
STATUS = {
    **FIGURES,
    "outputFilePath": "default/app/cam_1.ts",
    "outputInfoPath": "default/app/cam.xml",
    "startTime": "2023-03-15T21:15:20.113+09:00",
    "finishTime": "2023-03-15T21:25:20.5+09:00",
    "transactionId": "AbCdEfGh12345678",
    "createdTime": "2023-03-15T21:15:19.001+09:00",
}
ALWAYS = {"id", "state", "isConfig", "vhost", "app", "stream", "segmentationRule", "createdTime",
          "outputFilePath", "outputInfoPath", "interval"}


@pytest.mark.parametrize(
    ("state", "extra"),
    [
        ("ready", set()),
        ("recording", {*FIGURES, "startTime"}),
        ("stopped", {*FIGURES, "startTime", "finishTime"}),
        ("error", {*FIGURES, "startTime", "finishTime"}),
    ],
)
def test_fields_present_per_state(api: Api, state: str, extra: set[str]) -> None:
    api.start("t", "cam", interval=60000)
    name = api.recording("t")["metadata"]["name"]
    api.patch_status(name, {**STATUS, "state": state})
    [task] = api.records_when(lambda tasks: tasks[0]["state"] == state)
    assert task["state"] == state
    assert set(task) == ALWAYS | extra
    assert task["isConfig"] is False
    assert task["stream"] == {"name": "cam", "trackIds": [], "variantNames": []}
    assert task["createdTime"] == "2023-03-15T21:15:19.001+09:00"
    for key in extra & set(FIGURES):
        assert task[key] == FIGURES[key]
    if "startTime" in extra:
        assert task["startTime"] == "2023-03-15T21:15:20.113+09:00"
    if "finishTime" in extra:
        assert task["finishTime"] == "2023-03-15T21:25:20.500+09:00"
    assert "transactionId" not in task


def test_stopping_shows_figures_and_start_but_no_finish(api: Api) -> None:
    api.start("t", "cam")
    name = hold(api, "t")
    api.patch_status(name, {**STATUS, "state": "recording"})
    api.records_when(lambda tasks: tasks[0]["state"] == "recording")
    api.call("stopRecord", {"id": "t"})
    [task] = api.records()
    assert task["state"] == "stopping"
    assert {*FIGURES, "startTime"} <= set(task)
    assert "finishTime" not in task
    release(api, name)


def test_zero_figures_are_left_out(api: Api) -> None:
    api.start("t")
    name = api.recording("t")["metadata"]["name"]
    api.patch_status(name, {"state": "recording", "recordBytes": 0, "recordTime": 0,
                            "totalRecordBytes": 0, "totalRecordTime": 0, "sequence": 0,
                            "startTime": "2023-03-15T12:00:00.000+00:00"})
    [task] = api.records_when(lambda tasks: tasks[0]["state"] == "recording")
    assert not set(FIGURES) & set(task)
    assert task["startTime"] == "2023-03-15T12:00:00.000+00:00"


def test_created_time_does_not_change_once_the_operator_sets_it(api: Api) -> None:
    created = api.start("t")["createdTime"]
    assert api.records()[0]["createdTime"] == created
    annotation = api.recording("t")["metadata"]["annotations"]
    # what the operator writes, through model.task.created_time, keeps the same value
    operator_value = created_time({"metadata": {"annotations": annotation}})
    api.patch_status(api.recording("t")["metadata"]["name"], {"createdTime": operator_value})
    assert api.records()[0]["createdTime"] == created


def test_timestamps_use_milliseconds_and_an_offset(api: Api) -> None:
    api.start("t")
    name = api.recording("t")["metadata"]["name"]
    api.patch_status(name, {"state": "stopped", "startTime": "2023-03-15T12:15:20Z",
                            "finishTime": "2023-03-15T12:16:20.123456+00:00"})
    [task] = api.records_when(lambda tasks: tasks[0]["state"] == "stopped")
    assert task["startTime"] == "2023-03-15T12:15:20.000+00:00"
    assert task["finishTime"] == "2023-03-15T12:16:20.123+00:00"
    assert OME_TIME.match(task["createdTime"])
    assert task["createdTime"].endswith("+00:00")
