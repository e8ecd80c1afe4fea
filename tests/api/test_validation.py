"""The startRecord/stopRecord/records body checks, in the spec's order, with exact texts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.api.errors import ApiError
from recording_operator.api.validation import (
    MAX_LIST_ITEMS,
    MAX_METADATA_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PATH_LENGTH,
    app_config,
    records_filter,
    start_record_spec,
    stop_record_id,
)
from recording_operator.model.config import AppConfig, parse_config
from recording_operator.model.rules import MAX_ID_LENGTH

CONFIG = parse_config({
    "vhosts": {
        "default": {
            "apps": {
                "app": {
                    "source": "rtmp://127.0.0.1/{app}/{stream}",
                    "variants": {"video_1080": {"media": "video", "index": 0}},
                }
            }
        }
    }
})
APP: AppConfig = CONFIG.vhosts["default"].apps["app"]


def start(body: dict[str, Any]) -> dict[str, Any]:
    return start_record_spec(body, "default", "app", APP).to_json()


def refused(body: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as caught:
        start(body)
    return caught.value.message


def test_minimal_body_becomes_a_full_spec() -> None:
    assert start({"id": "a", "stream": {"name": "s"}}) == {
        "id": "a",
        "vhost": "default",
        "app": "app",
        "stream": {"name": "s", "variantNames": [], "trackIds": []},
        "segmentationRule": "discontinuity",
    }


def test_every_field_is_carried() -> None:
    spec = start({
        "id": "a", "stream": {"name": "s", "variantNames": ["video_1080"], "trackIds": [0, 1]},
        "interval": 60000, "segmentationRule": "continuity", "filePath": "x/${Id}.mp4",
        "infoPath": "x/${Id}.xml", "metadata": "m", "unknown": {"ignored": True},
    })
    assert spec == {
        "id": "a", "vhost": "default", "app": "app",
        "stream": {"name": "s", "variantNames": ["video_1080"], "trackIds": [0, 1]},
        "interval": 60000, "segmentationRule": "continuity", "filePath": "x/${Id}.mp4",
        "infoPath": "x/${Id}.xml", "metadata": "m",
    }


def test_tracks_is_an_alias_when_track_ids_is_absent_or_empty() -> None:
    assert start({"id": "a", "stream": {"name": "s", "tracks": [3]}})["stream"]["trackIds"] == [3]
    both = {"id": "a", "stream": {"name": "s", "trackIds": [], "tracks": [4]}}
    assert start(both)["stream"]["trackIds"] == [4]
    preferred = {"id": "a", "stream": {"name": "s", "trackIds": [1], "tracks": [4]}}
    assert start(preferred)["stream"]["trackIds"] == [1]


def test_a_zero_interval_means_no_split_and_empty_strings_are_absent() -> None:
    spec = start({"id": "a", "stream": {"name": "s"}, "interval": 0, "schedule": "",
                  "metadata": "", "filePath": ""})
    assert not {"interval", "schedule", "metadata", "filePath"} & spec.keys()


@pytest.mark.parametrize("interval", [-5, -1, 1, 999])
def test_a_negative_or_sub_second_interval_is_refused(interval: int) -> None:
    assert refused({"id": "a", "stream": {"name": "s"}, "interval": interval}) == (
        "[HTTP] Invalid [interval] parameter: must be 0 (no split) or at least 1000 "
        "milliseconds (400)")
    assert start({"id": "a", "stream": {"name": "s"}, "interval": 1000})["interval"] == 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "a\x00b", "stream": {"name": "s"}}, "id"),
        ({"id": "a\nb", "stream": {"name": "s"}}, "id"),
        ({"id": "a", "stream": {"name": "s\x1b[31m"}}, "stream.name"),
        ({"id": "a", "stream": {"name": "s\x7f"}}, "stream.name"),
        ({"id": "a", "stream": {"name": "s\ud800"}}, "stream.name"),
        ({"id": "a", "stream": {"name": "s"}, "filePath": "a\tb.ts"}, "filePath"),
        ({"id": "a", "stream": {"name": "s"}, "infoPath": "i\x01.xml"}, "infoPath"),
        ({"id": "a", "stream": {"name": "s"}, "metadata": "bell\x07"}, "metadata"),
        ({"id": "a", "stream": {"name": "s"}, "metadata": "del\x7f"}, "metadata"),
    ],
)
def test_control_characters_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    message = refused(body)
    assert message.startswith(f"[HTTP] Invalid [{field}] parameter: must not contain control "
                              "characters"), message


def test_metadata_may_hold_tabs_and_line_breaks() -> None:
    text = "line one\r\n\tline two"
    assert start({"id": "a", "stream": {"name": "s"}, "metadata": text})["metadata"] == text


def test_a_leading_slash_is_the_storage_root() -> None:
    # the OvenMediaEngine Go SDK's documented example
    path = "/path/to/save/recorded/file_${Sequence}.ts"
    spec = start({"id": "a", "stream": {"name": "s"}, "filePath": path, "infoPath": "/i.xml"})
    assert (spec["filePath"], spec["infoPath"]) == (path, "/i.xml")


def test_names_between_slashes_are_capped_at_255_bytes() -> None:
    longest = "\u00e9" * 124 + "abcd.ts"  # 2 bytes each in UTF-8: 248 + 7
    assert len(longest.encode()) == 255
    assert start({"id": "a", "stream": {"name": "s"}, "filePath": f"d/{longest}"})
    assert refused({"id": "a", "stream": {"name": "s"}, "filePath": f"d/x{longest}"}) == (
        "[HTTP] Invalid [filePath] parameter: has a name longer than 255 bytes between two '/' "
        "(400)")


def test_null_is_absent() -> None:
    assert start({"id": "a", "stream": {"name": "s", "variantNames": None}, "interval": None})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "[HTTP] There is no required parameter [ id stream.name] (400)"),
        ({"stream": {"name": "s"}}, "[HTTP] There is no required parameter [ id] (400)"),
        ({"id": "a"}, "[HTTP] There is no required parameter [ stream.name] (400)"),
        ({"id": "a", "stream": {}}, "[HTTP] There is no required parameter [ stream.name] (400)"),
        ({"id": "", "stream": {"name": ""}},
         "[HTTP] There is no required parameter [ id stream.name] (400)"),
    ],
)
def test_check_1_required(body: dict[str, Any], message: str) -> None:
    assert refused(body) == message


def test_check_2_interval_and_schedule() -> None:
    assert refused({"id": "a", "stream": {"name": "s"}, "interval": 1000, "schedule": "0 */1 *"}) \
        == "[HTTP] [Interval] and [Schedule] cannot be used at the same time (400)"


@pytest.mark.parametrize(
    "schedule",
    ["* * * *", "* *", "0  */1 *", " 0 */1 *", "60 * *", "* 60 *", "* * 24", "00 * *",
     "*/0 * *", "1,2 * *", "1-5 * *", "*/60 * *", "* * */24", "a * *", "0 */1 * ", "*/01 * *"],
)
def test_check_3_schedule_refused(schedule: str) -> None:
    body = {"id": "a", "stream": {"name": "s"}, "schedule": schedule}
    assert refused(body) == "[HTTP] Invalid [schedule] parameter (400)"


@pytest.mark.parametrize(
    "schedule", ["0 */1 *", "*/30 * *", "10 */1 *", "* * *", "59 59 23", "*/59 */59 */23", "0 0 0"]
)
def test_check_3_schedule_accepted(schedule: str) -> None:
    assert start({"id": "a", "stream": {"name": "s"}, "schedule": schedule})["schedule"] == schedule


def test_check_4_segmentation_rule() -> None:
    assert refused({"id": "a", "stream": {"name": "s"}, "segmentationRule": "sometimes"}) == (
        "[HTTP] Invalid [segmentationRule] parameter: must be continuity or discontinuity (400)"
    )


def test_check_5_variant_names() -> None:
    body = {"id": "a", "stream": {"name": "s", "variantNames": ["video_1080", "audio_x"]}}
    assert refused(body) == (
        "[HTTP] Invalid [stream.variantNames] parameter: [audio_x] is not a variant of "
        "[default/app] (400)"
    )


@pytest.mark.parametrize(
    ("field", "path", "problem"),
    [
        ("filePath", "../x.ts", "must not contain '.' or '..' segments"),
        ("filePath", "a/../../x.ts", "must not contain '.' or '..' segments"),
        ("filePath", "/../x.ts", "must not contain '.' or '..' segments"),
        ("filePath", "a\\..\\x.ts", "contains a forbidden character"),
        ("filePath", "x.mkv", "must end with .ts or .mp4"),
        ("infoPath", "../x.xml", "must not contain '.' or '..' segments"),
        ("infoPath", "x.json", "must end with .xml"),
    ],
)
def test_check_6_paths(field: str, path: str, problem: str) -> None:
    body = {"id": "a", "stream": {"name": "s"}, field: path}
    assert refused(body) == f"[HTTP] Invalid [{field}] parameter: {problem} (400)"


@pytest.mark.parametrize(
    ("body", "field", "why"),
    [
        ({"id": 2, "stream": {"name": "s"}}, "id", "must be a string"),
        ({"id": "a", "stream": "s"}, "stream", "must be an object"),
        ({"id": "a", "stream": ["s"]}, "stream", "must be an object"),
        ({"id": "a", "stream": {"name": 1}}, "stream.name", "must be a string"),
        ({"id": "a", "stream": {"name": "s", "variantNames": "v"}}, "stream.variantNames",
         "must be an array of strings"),
        ({"id": "a", "stream": {"name": "s", "variantNames": [1]}}, "stream.variantNames",
         "must be an array of strings"),
        ({"id": "a", "stream": {"name": "s", "trackIds": ["1"]}}, "stream.trackIds",
         "must be an array of integers"),
        ({"id": "a", "stream": {"name": "s", "trackIds": [True]}}, "stream.trackIds",
         "must be an array of integers"),
        ({"id": "a", "stream": {"name": "s", "tracks": 1}}, "stream.tracks",
         "must be an array of integers"),
        ({"id": "a", "stream": {"name": "s"}, "interval": "60000"}, "interval",
         "must be an integer (milliseconds)"),
        ({"id": "a", "stream": {"name": "s"}, "interval": 1.5}, "interval",
         "must be an integer (milliseconds)"),
        ({"id": "a", "stream": {"name": "s"}, "interval": True}, "interval",
         "must be an integer (milliseconds)"),
        ({"id": "a", "stream": {"name": "s"}, "schedule": 5}, "schedule", "must be a string"),
        ({"id": "a", "stream": {"name": "s"}, "segmentationRule": 1}, "segmentationRule",
         "must be a string"),
        ({"id": "a", "stream": {"name": "s"}, "filePath": []}, "filePath", "must be a string"),
        ({"id": "a", "stream": {"name": "s"}, "infoPath": {}}, "infoPath", "must be a string"),
        ({"id": "a", "stream": {"name": "s"}, "metadata": {"k": "v"}}, "metadata",
         "must be a string"),
    ],
)
def test_check_4_types_name_the_field(body: dict[str, Any], field: str, why: str) -> None:
    assert refused(body) == f"[HTTP] Invalid [{field}] parameter: {why} (400)"


def test_type_errors_come_before_the_required_check() -> None:
    assert refused({"stream": "s"}) == "[HTTP] Invalid [stream] parameter: must be an object (400)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "a" * (MAX_ID_LENGTH + 1), "stream": {"name": "s"}},
         f"[HTTP] Invalid [id] parameter: must be at most {MAX_ID_LENGTH} characters (400)"),
        ({"id": "a", "stream": {"name": "s" * (MAX_NAME_LENGTH + 1)}},
         f"[HTTP] Invalid [stream.name] parameter: must be at most {MAX_NAME_LENGTH} "
         "characters (400)"),
        ({"id": "a", "stream": {"name": "s", "trackIds": [0] * (MAX_LIST_ITEMS + 1)}},
         f"[HTTP] Invalid [stream.trackIds] parameter: must have at most {MAX_LIST_ITEMS} "
         "items (400)"),
        ({"id": "a", "stream": {"name": "s", "trackIds": [-1]}},
         "[HTTP] Invalid [stream.trackIds] parameter: items must be between 0 and "
         "2147483647 (400)"),
        ({"id": "a", "stream": {"name": "s"}, "interval": 2**31},
         "[HTTP] Invalid [interval] parameter: must be at most 2147483647 (400)"),
        ({"id": "a", "stream": {"name": "s"}, "metadata": "m" * (MAX_METADATA_LENGTH + 1)},
         f"[HTTP] Invalid [metadata] parameter: must be at most {MAX_METADATA_LENGTH} "
         "characters (400)"),
        ({"id": "a", "stream": {"name": "s"}, "filePath": "a" * MAX_PATH_LENGTH + ".ts"},
         f"[HTTP] Invalid [filePath] parameter: must be at most {MAX_PATH_LENGTH} "
         "characters (400)"),
    ],
)
def test_what_the_crd_would_refuse_is_a_400(body: dict[str, Any], message: str) -> None:
    assert refused(body) == message


def test_api_limits_match_the_crd() -> None:
    crd = yaml.safe_load((Path(__file__).parents[2] / "crds" / "recording.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]
    stream = props["stream"]["properties"]
    assert props["id"]["maxLength"] == MAX_ID_LENGTH
    assert stream["name"]["maxLength"] == MAX_NAME_LENGTH
    assert stream["variantNames"]["maxItems"] == MAX_LIST_ITEMS
    assert stream["variantNames"]["items"]["maxLength"] == MAX_NAME_LENGTH
    assert stream["trackIds"]["maxItems"] == MAX_LIST_ITEMS
    assert props["filePath"]["maxLength"] == props["infoPath"]["maxLength"] == MAX_PATH_LENGTH
    assert props["metadata"]["maxLength"] == MAX_METADATA_LENGTH


def test_vhost_then_app_404() -> None:
    with pytest.raises(ApiError) as caught:
        app_config(CONFIG, "nope", "app")
    assert caught.value.message == "[HTTP] Could not find the virtual host: [nope] (404)"
    with pytest.raises(ApiError) as caught:
        app_config(CONFIG, "default", "app1")
    assert caught.value.message == "[HTTP] Could not find the application: [default/app1] (404)"


def test_stop_record_id() -> None:
    assert stop_record_id({"id": "a"}) == "a"
    for body in ({}, {"id": ""}, {"id": None}):
        with pytest.raises(ApiError) as caught:
            stop_record_id(body)
        assert caught.value.message == "[HTTP] There is no required parameter [ id] (400)"
    with pytest.raises(ApiError) as caught:
        stop_record_id({"id": 3})
    assert caught.value.message == "[HTTP] Invalid [id] parameter: must be a string (400)"


def test_records_filter() -> None:
    assert records_filter({}) is None
    assert records_filter({"id": ""}) is None
    assert records_filter({"id": "x"}) == "x"
    with pytest.raises(ApiError):
        records_filter({"id": ["x"]})


def test_message_form() -> None:
    assert re.fullmatch(r"\[HTTP\] .+ \(\d{3}\)", refused({}))
