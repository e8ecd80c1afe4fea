"""startRecord: checks 1-7 with their exact texts, and what a success makes in Kubernetes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from recording_operator.model.naming import recording_name
from recording_operator.model.resource import ANNOTATION_CREATED_TIME, LABEL_APP, LABEL_VHOST

from .conftest import Api

pytestmark = pytest.mark.controlplane

OME_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
TRANSACTION_ID = re.compile(r"^[A-Za-z0-9]{16}$")


def expect(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {"statusCode": status, "message": message}


def start(api: Api, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return api.call("startRecord", body, **kwargs)


# -- refusals: nothing is made ---------------------------------------------------------------

S = {"name": "stream"}

REFUSALS: list[tuple[dict[str, Any], str]] = [
    # common check 4: wrong types name the field
    ({"id": 2, "stream": S}, "[HTTP] Invalid [id] parameter: must be a string (400)"),
    ({"id": "a", "stream": "stream"}, "[HTTP] Invalid [stream] parameter: must be an object (400)"),
    ({"id": "a", "stream": {"name": 1}},
     "[HTTP] Invalid [stream.name] parameter: must be a string (400)"),
    ({"id": "a", "stream": {"name": "s", "variantNames": "video"}},
     "[HTTP] Invalid [stream.variantNames] parameter: must be an array of strings (400)"),
    ({"id": "a", "stream": {"name": "s", "trackIds": ["0"]}},
     "[HTTP] Invalid [stream.trackIds] parameter: must be an array of integers (400)"),
    ({"id": "a", "stream": {"name": "s", "tracks": [0.5]}},
     "[HTTP] Invalid [stream.tracks] parameter: must be an array of integers (400)"),
    ({"id": "a", "stream": S, "interval": "60000"},
     "[HTTP] Invalid [interval] parameter: must be an integer (milliseconds) (400)"),
    ({"id": "a", "stream": S, "schedule": 10},
     "[HTTP] Invalid [schedule] parameter: must be a string (400)"),
    ({"id": "a", "stream": S, "segmentationRule": True},
     "[HTTP] Invalid [segmentationRule] parameter: must be a string (400)"),
    ({"id": "a", "stream": S, "filePath": 1},
     "[HTTP] Invalid [filePath] parameter: must be a string (400)"),
    ({"id": "a", "stream": S, "infoPath": ["x.xml"]},
     "[HTTP] Invalid [infoPath] parameter: must be a string (400)"),
    ({"id": "a", "stream": S, "metadata": {"k": "v"}},
     "[HTTP] Invalid [metadata] parameter: must be a string (400)"),
    # 1. required
    ({}, "[HTTP] There is no required parameter [ id stream.name] (400)"),
    ({"stream": S}, "[HTTP] There is no required parameter [ id] (400)"),
    ({"id": "a"}, "[HTTP] There is no required parameter [ stream.name] (400)"),
    ({"id": "a", "stream": {"variantNames": []}},
     "[HTTP] There is no required parameter [ stream.name] (400)"),
    # 2. interval and schedule
    ({"id": "a", "stream": S, "interval": 60000, "schedule": "0 */1 *"},
     "[HTTP] [Interval] and [Schedule] cannot be used at the same time (400)"),
    # 3. schedule
    *(
        ({"id": "a", "stream": S, "schedule": bad}, "[HTTP] Invalid [schedule] parameter (400)")
        for bad in ("0 */1 * *", "0 1-5 *", "0 0,30 *", "0 */0 *", "60 * *", "0 * 24", "05 * *",
                    "0  * *", "@hourly")
    ),
    # 4. segmentationRule
    ({"id": "a", "stream": S, "segmentationRule": "Continuity"},
     "[HTTP] Invalid [segmentationRule] parameter: must be continuity or discontinuity (400)"),
    # 6. paths
    ({"id": "a", "stream": S, "filePath": "../escape.ts"},
     "[HTTP] Invalid [filePath] parameter: must not contain '.' or '..' segments (400)"),
    ({"id": "a", "stream": S, "filePath": "a/../../escape.ts"},
     "[HTTP] Invalid [filePath] parameter: must not contain '.' or '..' segments (400)"),
    ({"id": "a", "stream": S, "filePath": "/../etc/cron.d/x.ts"},
     "[HTTP] Invalid [filePath] parameter: must not contain '.' or '..' segments (400)"),
    ({"id": "a", "stream": S, "filePath": "d/" + "x" * 253 + ".ts"},
     "[HTTP] Invalid [filePath] parameter: has a name longer than 255 bytes between two '/' "
     "(400)"),
    # control characters (they made the info XML unreadable) name the field
    ({"id": "a\x01", "stream": S},
     "[HTTP] Invalid [id] parameter: must not contain control characters (400)"),
    ({"id": "a", "stream": {"name": "s\x1b"}},
     "[HTTP] Invalid [stream.name] parameter: must not contain control characters (400)"),
    ({"id": "a", "stream": S, "filePath": "a\x7f.ts"},
     "[HTTP] Invalid [filePath] parameter: must not contain control characters (400)"),
    ({"id": "a", "stream": S, "infoPath": "a\n.xml"},
     "[HTTP] Invalid [infoPath] parameter: must not contain control characters (400)"),
    ({"id": "a", "stream": S, "metadata": "\x00"},
     "[HTTP] Invalid [metadata] parameter: must not contain control characters (tab and line "
     "breaks are allowed) (400)"),
    # an interval below a second, or negative
    *(
        ({"id": "a", "stream": S, "interval": short},
         "[HTTP] Invalid [interval] parameter: must be 0 (no split) or at least 1000 "
         "milliseconds (400)")
        for short in (-1, 500)
    ),
    ({"id": "a", "stream": S, "filePath": "${Id}.flv"},
     "[HTTP] Invalid [filePath] parameter: must end with .ts or .mp4 (400)"),
    ({"id": "a", "stream": S, "infoPath": "../../info.xml"},
     "[HTTP] Invalid [infoPath] parameter: must not contain '.' or '..' segments (400)"),
    ({"id": "a", "stream": S, "infoPath": "${Id}.txt"},
     "[HTTP] Invalid [infoPath] parameter: must end with .xml (400)"),
    # limits the CRD would enforce, refused here first
    ({"id": "i" * 254, "stream": S},
     "[HTTP] Invalid [id] parameter: must be at most 253 characters (400)"),
    ({"id": "a", "stream": S, "interval": 2**31},
     "[HTTP] Invalid [interval] parameter: must be at most 2147483647 (400)"),
    ({"id": "a", "stream": {"name": "s", "trackIds": [-1]}},
     "[HTTP] Invalid [stream.trackIds] parameter: items must be between 0 and 2147483647 (400)"),
]


@pytest.mark.parametrize(("body", "message"), REFUSALS)
def test_refused(shared_api: Api, body: dict[str, Any], message: str) -> None:
    expect(start(shared_api, body), 400, message)
    assert shared_api.recordings() == []


def test_5_a_variant_name_the_app_does_not_define(shared_api: Api) -> None:
    body = {"id": "a", "stream": {"name": "s", "variantNames": ["video_1080", "video_720"]}}
    expect(start(shared_api, body, app="app2"), 400,
           "[HTTP] Invalid [stream.variantNames] parameter: [video_720] is not a variant of "
           "[default/app2] (400)")
    expect(start(shared_api, {"id": "a", "stream": {"name": "s", "variantNames": ["x"]}}), 400,
           "[HTTP] Invalid [stream.variantNames] parameter: [x] is not a variant of "
           "[default/app] (400)")
    assert shared_api.recordings() == []


def test_checks_run_in_the_spec_order(shared_api: Api) -> None:
    everything_wrong = {"stream": {}, "interval": 5, "schedule": "bad", "segmentationRule": "x",
                        "filePath": "../x.ts"}
    expect(start(shared_api, everything_wrong), 400,
           "[HTTP] There is no required parameter [ id stream.name] (400)")
    expect(start(shared_api, {**everything_wrong, "id": "a", "stream": S}), 400,
           "[HTTP] [Interval] and [Schedule] cannot be used at the same time (400)")
    del everything_wrong["interval"]
    expect(start(shared_api, {**everything_wrong, "id": "a", "stream": S}), 400,
           "[HTTP] Invalid [schedule] parameter (400)")
    del everything_wrong["schedule"]
    expect(start(shared_api, {**everything_wrong, "id": "a", "stream": S}), 400,
           "[HTTP] Invalid [segmentationRule] parameter: must be continuity or discontinuity "
           "(400)")


# -- success ----------------------------------------------------------------------------------


def test_success_answers_the_new_task_and_makes_one_recording(api: Api) -> None:
    answer = start(api, {"id": "rec/1", "stream": {"name": "stream", "variantNames": []}})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["statusCode"], body["message"]) == (200, "OK")
    task = body["response"]
    created = task.pop("createdTime")
    assert OME_TIME.match(created), created
    assert task == {
        "id": "rec/1",
        "state": "ready",
        "isConfig": False,
        "vhost": "default",
        "app": "app",
        "stream": {"name": "stream", "trackIds": [], "variantNames": []},
        "segmentationRule": "discontinuity",
    }
    [recording] = api.recordings()
    meta = recording["metadata"]
    assert meta["name"] == recording_name("default", "app", "rec/1")
    assert meta["labels"] == {LABEL_VHOST: "default", LABEL_APP: "app"}
    assert meta["annotations"][ANNOTATION_CREATED_TIME] == created
    assert recording["spec"] == {
        "id": "rec/1", "vhost": "default", "app": "app",
        "stream": {"name": "stream", "trackIds": [], "variantNames": []},
        "segmentationRule": "discontinuity",
    }


def test_every_field_reaches_the_spec_and_the_task(api: Api) -> None:
    body = {
        "id": "full", "stream": {"name": "cam", "variantNames": ["video_1080", "audio_aac"],
                                  "tracks": [0, 1]},
        "schedule": "*/30 * *", "segmentationRule": "continuity",
        "filePath": "${VirtualHost}/${Id}_${Sequence}.mp4", "infoPath": "${Id}.xml",
        "metadata": "camera 1", "interval": 0,
    }
    task = start(api, body, app="app2").json()["response"]
    assert task["stream"] == {"name": "cam", "trackIds": [0, 1],
                              "variantNames": ["video_1080", "audio_aac"]}
    for key in ("schedule", "segmentationRule", "filePath", "infoPath", "metadata"):
        assert task[key] == body[key]
    assert "interval" not in task
    spec = api.recording("full")["spec"]
    assert spec["stream"]["trackIds"] == [0, 1]
    assert spec["filePath"] == body["filePath"]


def test_ome_absolute_paths_are_taken_as_the_storage_root(api: Api) -> None:
    # as the OvenMediaEngine Go SDK's StartRecording sends its documented example
    body = {"id": "sdk", "stream": {"name": "cam"},
            "filePath": "/path/to/save/recorded/file_${Sequence}.ts",
            "infoPath": "/path/to/save/recorded/info.xml", "metadata": "line 1\nline 2"}
    answer = start(api, body)
    assert answer.status_code == 200, answer.text
    task = answer.json()["response"]
    spec = api.recording("sdk")["spec"]
    for key in ("filePath", "infoPath", "metadata"):
        assert task[key] == spec[key] == body[key]


def test_7_a_duplicate_id_is_409(api: Api) -> None:
    api.start("dup")
    expect(start(api, {"id": "dup", "stream": {"name": "other"}}), 409,
           "[HTTP] Duplicate ID already exists (409)")
    assert len(api.recordings()) == 1


def test_7_ids_are_unique_per_vhost_and_app_only(api: Api) -> None:
    api.start("same")
    assert start(api, {"id": "same", "stream": S}, app="app2").status_code == 200
    assert start(api, {"id": "same", "stream": S}, vhost="live").status_code == 200
    assert len(api.recordings()) == 3


def test_7_a_kubectl_made_recording_with_that_id_is_a_duplicate(api: Api) -> None:
    # kubectl users choose their own names and may leave out labels, vhost and app
    api.create_as_kubectl("by-hand", {"id": "cam", "stream": {"name": "cam"}})
    expect(start(api, {"id": "cam", "stream": S}), 409, "[HTTP] Duplicate ID already exists (409)")
    assert [r["metadata"]["name"] for r in api.recordings()] == ["by-hand"]


def test_ids_that_differ_only_in_case_or_punctuation_are_distinct(api: Api) -> None:
    for record_id in ("Cam_1", "cam-1", "cam.1", "CAM 1"):
        assert start(api, {"id": record_id, "stream": S}).status_code == 200
    assert sorted(t["id"] for t in api.records()) == ["CAM 1", "Cam_1", "cam-1", "cam.1"]


def test_ids_with_selector_syntax_are_matched_exactly(api: Api) -> None:
    tricky = "a,spec.id=b\\c"
    api.start(tricky)
    expect(start(api, {"id": tricky, "stream": S}), 409, "[HTTP] Duplicate ID already exists (409)")
    assert [t["id"] for t in api.records({"id": tricky})] == [tricky]
    assert api.records({"id": "a"}) == []


def test_legacy_switch_answers_a_one_element_array(make_api: Any) -> None:
    api = make_api(legacyStartRecordArray=True)
    body = start(api, {"id": "old", "stream": S}).json()
    assert isinstance(body["response"], list)
    [task] = body["response"]
    assert task["id"] == "old"
    # only startRecord changes: errors, stopRecord and records are as usual
    expect(start(api, {"id": "old", "stream": S}), 409, "[HTTP] Duplicate ID already exists (409)")
    assert isinstance(api.call("stopRecord", {"id": "old"}).json()["response"], dict)
    assert api.records() == []


def test_legacy_switch_is_off_by_default(api: Api) -> None:
    assert isinstance(start(api, {"id": "new", "stream": S}).json()["response"], dict)
