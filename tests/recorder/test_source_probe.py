"""How the recorder opens a live stream: after a publish notification it probes briefly, and
still finds every track the stream has (else it would record a stream without its audio or
video for the whole task)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from recording_operator.recorder.errors import SourceUnavailable
from recording_operator.recorder.source import SourceOptions, open_source
from tests.waiting import wait_for

pytestmark = pytest.mark.media


def _tracks(url: str, opts: SourceOptions) -> list[tuple[str, str, bool]]:
    """(kind, codec, parameters known) of each track the recorder would see, opened as the
    recorder opens a stream it was just told about (retrying while it is not playable yet)."""
    found: list[tuple[str, str, bool]] = []

    def opened() -> bool:
        try:
            source = open_source(url, opts, just_published=True)
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
    assert _tracks(media_server.rtmp_url("app", stream_name), SourceOptions()) == [
        ("audio", "aac", True), ("video", "h264", True)]


@pytest.mark.timeout(60)
def test_a_short_probe_that_sees_too_little_probes_again_and_finds_both_tracks(
    media_server: MediaServer, publish: Callable[..., Publisher], stream_name: str,
) -> None:
    # joined mid-GOP, the server holds video back until a keyframe: 1 µs sees at most audio
    publish(stream_name)
    opts = SourceOptions(published_analyze_us=1)
    assert _tracks(media_server.rtmp_url("app", stream_name), opts) == [
        ("audio", "aac", True), ("video", "h264", True)]


@pytest.mark.timeout(60)
def test_a_just_published_audio_only_stream_opens_with_its_audio(
    media_server: MediaServer, publish: Callable[..., Publisher], stream_name: str,
    audio_clip: Path,
) -> None:
    publish(stream_name, audio_clip)
    assert _tracks(media_server.rtmp_url("app", stream_name), SourceOptions()) == [
        ("audio", "aac", True)]
