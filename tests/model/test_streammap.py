"""StreamMap rules: OME's wildcard, its record_map.xml read unchanged, the config's keys."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from recording_operator.model.config import ConfigError, parse_config
from recording_operator.model.streammap import (
    RULE_ID_LENGTH,
    StreamMapError,
    StreamMapRule,
    load_record_map,
    matching,
    new_rule_id,
    parse_record_map,
)

#: The automatic-recording example of OvenMediaEngine's documentation (docs/recording.md),
#: byte for byte: comments, wrapped paths and all.
OME_EXAMPLE = Path(__file__).parent / "data" / "ome-record_map.xml"


def rule(**fields: Any) -> StreamMapRule:
    return StreamMapRule.model_validate({"streamName": "*", **fields})


@pytest.mark.parametrize(
    ("pattern", "stream", "expected"),
    [
        ("studio*", "studio", True),
        ("studio*", "studio-1", True),
        ("studio*", "my-studio", False),  # the whole name must match
        ("*cam", "frontcam", True),
        ("*cam", "camera", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXbYY", False),
        ("exact", "exact", True),
        ("exact", "exact2", False),
        ("s.t", "sxt", False),  # OME's only wildcard is *: a dot is a dot
        ("s?t", "sxt", False),
        ("*", "anything", True),
        ("${SourceStream}", "whatever", True),  # the input stream is the one recorded
        ("${SourceStream}_o", "whatever", False),  # a transcoded output: not recorded here
    ],
)
def test_stream_name_is_omes_wildcard_on_the_whole_name(
    pattern: str, stream: str, expected: bool
) -> None:
    assert rule(streamName=pattern).matches(stream) is expected


def test_ome_documentation_example_loads_unchanged() -> None:
    rules = load_record_map(OME_EXAMPLE)
    assert [r.stream_name for r in rules] == ["stream1*", "stream2*", "stream3*"]
    first, second, third = rules
    assert first.variant_names == ["h264_1080p", "aac_128k"]
    # OME's documentation wraps long values over indented lines: one value
    assert first.file_path == (
        "/path/to/${VirtualHost}/${Application}/${Stream}/"
        "${StartTime:YYYYMMDDhhmmss}_${EndTime:YYYYMMDDhhmmss}.mp4"
    )
    assert first.info_path == "/path/to/${VirtualHost}/${Application}/${Stream}/info.xml"
    assert first.metadata == (
        "access_key_id='000000000000000',secret_access_key='000000000000000'"
        ",endpoint='https://s3.aws.com'"
    )
    assert (second.interval, second.segmentation_rule) == (5000, "continuity")
    assert (third.schedule, third.segmentation_rule) == ("*/30 * *", "discontinuity")
    assert third.variant_names == ["aac_128k"]


def test_rule_spec_is_a_startrecord_spec() -> None:
    second = load_record_map(OME_EXAMPLE)[1]
    assert second.spec("default", "app", "stream2-a", "ABCDEFGHIJKLMNOP").to_json() == {
        "id": "ABCDEFGHIJKLMNOP",
        "vhost": "default",
        "app": "app",
        "stream": {"name": "stream2-a", "variantNames": ["h264_1080p", "aac_128k"],
                   "trackIds": []},
        "segmentationRule": "continuity",
        "interval": 5000,
        "filePath": "/path/to/${VirtualHost}/${Application}/${Stream}/"
                    "${EndTime:YYYYMMDDhhmmss}_${Sequence}.mp4",
        "infoPath": "/path/to/${VirtualHost}/${Application}/${Stream}/info.xml",
    }
    assert rule().spec("v", "a", "s", "X").to_json()["segmentationRule"] == "discontinuity"


def test_disabled_records_are_skipped() -> None:
    text = """<RecordInfo>
      <Record><Enable>false</Enable><StreamName>off*</StreamName></Record>
      <Record><Enable>true</Enable><StreamName>on*</StreamName></Record>
    </RecordInfo>"""
    assert [r.stream_name for r in parse_record_map(text)] == ["on*"]


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        ("<RecordInfo><Record><Enable>true</Enable></Record></RecordInfo>",
         "Record[1]: <StreamName> is required"),
        ("<RecordInfo><Record><StreamName>a</StreamName></Record></RecordInfo>",
         "Record[1]: <Enable> is required"),
        ("<RecordInfo><Record><Enable>yes</Enable><StreamName>a</StreamName></Record>"
         "</RecordInfo>", "Record[1].Enable: must be true or false"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<SegmentIntrval>5</SegmentIntrval></Record></RecordInfo>",
         "Record[1]: unknown element <SegmentIntrval>"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<SegmentInterval>5000</SegmentInterval><SegmentSchedule>0 */1 *</SegmentSchedule>"
         "</Record></RecordInfo>", "interval and schedule cannot be used at the same time"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<SegmentSchedule>every minute</SegmentSchedule></Record></RecordInfo>",
         "SegmentSchedule: 'every minute' is not 'second minute hour'"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<FilePath>a/../../etc/x.ts</FilePath></Record></RecordInfo>",
         "FilePath: 'a/../../etc/x.ts' must not contain '.' or '..' segments"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<FilePath>a.mkv</FilePath></Record></RecordInfo>", "FilePath: 'a.mkv' must end with"),
        ("<RecordInfo><Record><Enable>true</Enable><StreamName>a</StreamName>"
         "<SegmentRule>sometimes</SegmentRule></Record></RecordInfo>", "SegmentRule:"),
        ("<Records/>", "the root element must be <RecordInfo>, not <Records>"),
        ("<RecordInfo><Record>", "not well-formed XML"),
    ],
)
def test_a_bad_record_map_says_where(xml: str, problem: str) -> None:
    with pytest.raises(StreamMapError) as caught:
        parse_record_map(xml, "map.xml")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("map.xml: ")


def test_ids_are_omes_sixteen_letters_and_digits() -> None:
    ids = {new_rule_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == RULE_ID_LENGTH and set(i) <= set(string.ascii_letters + string.digits)
               for i in ids)


def test_a_rule_keeps_its_key_and_a_repeated_rule_makes_one_task() -> None:
    a, same, other = rule(streamName="x*"), rule(streamName="x*"), rule(streamName="x*",
                                                                          interval=1000)
    assert a.key == same.key != other.key
    assert matching([a, same, other], "xy") == [a, other]
    assert matching([a, other], "y") == []


def _config(app: dict[str, Any]) -> dict[str, Any]:
    return {"vhosts": {"default": {"apps": {"app": {"source": "rtmp://h/{app}/{stream}",
                                                    **app}}}}}


VARIANTS = {"h264_1080p": {"media": "video"}, "aac_128k": {"media": "audio"}}


def test_config_rules_and_file_rules_add_up(tmp_path: Path) -> None:
    config = parse_config(_config({
        "variants": VARIANTS,
        "streamMap": [{"streamName": "studio*", "interval": 60000,
                       "filePath": "${Stream}/${Sequence}.ts"}],
        "streamMapFile": str(OME_EXAMPLE),
    }))
    app = config.app("default", "app")
    assert app is not None
    assert [r.stream_name for r in app.rules] == ["studio*", "stream1*", "stream2*", "stream3*"]


@pytest.mark.parametrize(
    ("app", "problem"),
    [
        ({"streamMap": [{"streamName": "a*", "interval": 1000, "schedule": "0 */1 *"}]},
         "vhosts.default.apps.app.streamMap.0: interval and schedule cannot be used"),
        # the API and the CRD refuse intervals under a second: a rule must too
        ({"streamMap": [{"streamName": "a*", "interval": 999}]},
         "vhosts.default.apps.app.streamMap.0.interval: must be 0 (no split) or at least 1000"),
        ({"streamMap": [{"streamName": "a*", "filePth": "x.ts"}]},
         "vhosts.default.apps.app.streamMap.0.filePth: unknown key"),
        ({"streamMap": [{"streamName": ""}]}, "vhosts.default.apps.app.streamMap.0.streamName"),
        ({"streamMap": [{"streamName": "a*", "variantNames": ["h264_1080p"]}]},
         "streamMap: rule 'a*' names variant 'h264_1080p'"),
        ({"streamMapFile": "/nonexistent/record_map.xml"},
         "vhosts.default.apps.app: streamMapFile: cannot read /nonexistent/record_map.xml"),
        # the OME example names variants: the app must define them
        ({"streamMapFile": str(OME_EXAMPLE)}, "names variant 'h264_1080p'"),
    ],
)
def test_bad_rules_stop_the_start_naming_the_key(app: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_config(app), "config.yaml")
    assert problem in str(caught.value)
