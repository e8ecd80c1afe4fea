"""Real media for the recorder tests: a generated clip, nginx-rtmp, and ffmpeg publishers."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, make_clip

from .harness import FPS


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of H.264 (25 fps, keyframe every second, 2 B-frames) + AAC."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=4, fps=FPS,
                     gop_frames=FPS)


@pytest.fixture(scope="session")
def audio_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "audio.mp4", seconds=4, video=False)


@pytest.fixture(scope="session")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    server = MediaServer.start(workdir=tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture
def stream_name() -> str:
    return f"s{secrets.token_hex(3)}"


@pytest.fixture
def publishers() -> Iterator[list[Publisher]]:
    made: list[Publisher] = []
    yield made
    for publisher in made:
        publisher.stop()


@pytest.fixture
def publish(
    media_server: MediaServer, clip: Path, publishers: list[Publisher]
) -> Callable[..., Publisher]:
    """Starts looping the clip to rtmp://…/app/<stream> and waits until it is live."""

    def start(stream: str, source: Path | None = None, wait: bool = True) -> Publisher:
        publisher = Publisher.clip(source or clip, media_server.rtmp_url("app", stream))
        publishers.append(publisher)
        publisher.start()
        if wait:
            media_server.wait_live("app", stream)
        return publisher

    return start
