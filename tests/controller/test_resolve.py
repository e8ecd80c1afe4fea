"""Resolving a Recording against the config: what the recorder gets, and what users are told
when the Recording cannot be recorded."""

from __future__ import annotations

import pytest

from recording_operator.controller.resolve import ResolveError, check, resolve
from recording_operator.model.config import parse_config
from recording_operator.model.recording import RecordingSpec
from recording_operator.model.resolved import TrackSelector

CONFIG = parse_config({
    "namespace": "media",
    "timezone": "Asia/Seoul",
    "vhosts": {
        "default": {"apps": {
            "app": {
                "source": "srt://ome.media:9999?streamid=default/{app}/{stream}",
                "variants": {
                    "video_hd": {"media": "video", "index": 0},
                    "audio_all": {"media": "audio"},
                    "raw": {"trackIds": [0, 2]},
                },
            },
            "live": {
                "source": "rtmp://mediamtx:1935/{vhost}/{app}/{stream}",
                "namespace": "live-ns",
                "filePath": "live/${Stream}_${Sequence}.mp4",
                "infoPath": "live/${Stream}.xml",
            },
        }},
    },
})


def spec(**fields: object) -> RecordingSpec:
    base: dict[str, object] = {"id": "rec-1", "stream": {"name": "stream"}}
    base.update(fields)
    return RecordingSpec.model_validate(base)


def resolved(s: RecordingSpec, namespace: str = "media", name: str = "rec-1-abc"):  # type: ignore[no-untyped-def]
    return resolve(s, CONFIG, namespace=namespace, name=name,
                   transaction_id="AbCdEfGh12345678", created_time="2026-01-01T00:00:00.000+00:00")


def test_the_apps_defaults_fill_what_the_request_left_out() -> None:
    r = resolved(spec())
    assert r.source_url == "srt://ome.media:9999?streamid=default/app/stream"
    assert r.file_path == CONFIG.app("default", "app").file_path  # type: ignore[union-attr]
    assert r.info_path.endswith(".xml")
    assert r.tracks == []  # every track
    assert r.timezone == "Asia/Seoul"
    assert r.transaction_id == "AbCdEfGh12345678"
    assert r.recording.namespace == "media" and r.recording.name == "rec-1-abc"
    assert r.interval_ms is None and r.schedule is None


def test_request_values_win_over_the_apps() -> None:
    r = resolved(spec(app="live", filePath="a/${Id}.ts", infoPath="a/${Id}.xml", interval=60000,
                      metadata="m", segmentationRule="continuity"), namespace="live-ns")
    assert r.source_url == "rtmp://mediamtx:1935/default/live/stream"
    assert (r.file_path, r.info_path, r.interval_ms, r.metadata) == (
        "a/${Id}.ts", "a/${Id}.xml", 60000, "m")
    assert r.segmentation_rule == "continuity"


def test_a_zero_interval_and_an_empty_schedule_mean_no_split() -> None:
    r = resolved(spec(interval=0, schedule=""))
    assert r.interval_ms is None and r.schedule is None
    assert resolved(spec(schedule="0 */1 *")).schedule == "0 */1 *"


def test_a_kubectl_user_may_override_the_source() -> None:
    r = resolved(spec(source={"url": "rtmp://elsewhere/x/y"}))
    assert r.source_url == "rtmp://elsewhere/x/y"


def test_the_stream_name_cannot_add_to_the_source_url() -> None:
    r = resolved(spec(stream={"name": "a&streamid=evil/../x"}))
    assert r.source_url == "srt://ome.media:9999?streamid=default/app/a%26streamid%3Devil%2F..%2Fx"


def test_variants_and_track_ids_select_tracks_in_order_without_duplicates() -> None:
    r = resolved(spec(stream={"name": "s", "variantNames": ["video_hd", "raw", "audio_all"],
                              "trackIds": [2, 5]}))
    assert r.tracks == [
        TrackSelector(media="video", index=0),
        TrackSelector(track_id=0),
        TrackSelector(track_id=2),
        TrackSelector(media="audio"),
        TrackSelector(track_id=5),
    ]
    assert '"trackId":0' in r.to_env()


@pytest.mark.parametrize(("fields", "namespace", "message"), [
    ({"vhost": "nope"}, "media", "Could not find the virtual host: [nope]"),
    ({"app": "nope"}, "media", "Could not find the application: [default/nope]"),
    ({"stream": {"name": "s", "variantNames": ["video_hd", "4k"]}}, "media",
     "unknown variant name(s) 4k; this app offers: audio_all, raw, video_hd"),
    ({"app": "live", "stream": {"name": "s", "variantNames": ["x"]}}, "live-ns",
     "unknown variant name(s) x; this app offers: none"),
    ({}, "other", "Recordings of default/app belong in namespace 'media', not 'other'"),
])
def test_refusals_say_what_is_wrong(
    fields: dict[str, object], namespace: str, message: str
) -> None:
    with pytest.raises(ResolveError) as caught:
        check(spec(**fields), CONFIG, namespace, "rec-1-abc")
    assert str(caught.value) == message


def test_a_name_too_long_for_the_pod_label_is_refused() -> None:
    with pytest.raises(ResolveError, match="at most 63"):
        check(spec(), CONFIG, "media", "x" * 64)
    check(spec(), CONFIG, "media", "x" * 63)
