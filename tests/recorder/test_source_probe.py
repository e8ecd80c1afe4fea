"""How the recorder opens a live stream: it probes until it knows every track, and does not
look for video in a stream whose metadata says it has none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from recording_operator.recorder.errors import SourceUnavailable
from recording_operator.recorder.source import open_source
from tests.waiting import wait_for

pytestmark = pytest.mark.media


def _tracks(url: str) -> list[tuple[str, str, bool]]:
    """(kind, codec, parameters known) of each track the recorder would see, opened as the
    recorder opens a stream it was just told about (retrying while it is not playable yet)."""
    found: list[tuple[str, str, bool]] = []

    def opened() -> bool:
        try:
            source = open_source(url)
        except SourceUnavailable:
            return False
        with source:
            found.extend(sorted(
                (s.type, s.codec_context.name,
                 bool(s.codec_context.width if s.type == "video"
                      else s.codec_context.sample_rate))
                for s in source.streams))
        return True

    wait_for(opened, 20, f"{url} to open")
    return found


@pytest.mark.timeout(60)
def test_a_stream_opened_as_it_is_published_has_both_tracks(
    media_server: MediaServer, publish: Callable[..., Publisher], stream_name: str,
) -> None:
    publish(stream_name, wait=False)
    assert _tracks(media_server.rtmp_url("app", stream_name)) == [
        ("audio", "aac", True), ("video", "h264", True)]


@pytest.mark.timeout(60)
def test_an_audio_only_stream_is_not_probed_again_for_video(
    media_server: MediaServer, publish: Callable[..., Publisher], stream_name: str,
    audio_clip: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # nginx-rtmp's metadata of an audio-only stream has displayWidth 0: that is no video, and
    # probing for a long GOP would hold the recording back by 10 s
    publish(stream_name, audio_clip)
    caplog.set_level("INFO", logger="recording_operator.recorder.source")
    assert _tracks(media_server.rtmp_url("app", stream_name)) == [("audio", "aac", True)]
    assert "probing longer" not in caplog.text
