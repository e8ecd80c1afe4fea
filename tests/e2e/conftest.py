"""The embedded stack, started once for the end-to-end scenarios, and a client for its API.

The scenarios drive it only as a user would: REST calls, RTMP publishes, and the files on disk.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from recording_operator.local.publisher import Publisher, make_clip
from recording_operator.local.stack import EmbeddedStack, StackOptions
from recording_operator.ports import free_port

T = TypeVar("T")
TOKEN = "e2e-token"
FPS = 25



class Api:
    """The OME-compatible API of the stack, as a client sees it."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, auth=None, timeout=10,
                                   headers={"Authorization": "Basic ZTJlLXRva2Vu"})

    def call(self, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(f"/vhosts/default/apps/app:{action}", json=body or {})

    def start(self, **body: Any) -> dict[str, Any]:
        answer = self.call("startRecord", body)
        assert answer.status_code == 200, answer.text
        task: dict[str, Any] = answer.json()["response"]
        return task

    def stop(self, record_id: str) -> dict[str, Any]:
        answer = self.call("stopRecord", {"id": record_id})
        assert answer.status_code == 200, answer.text
        task: dict[str, Any] = answer.json()["response"]
        return task

    def task(self, record_id: str) -> dict[str, Any] | None:
        answer = self.call("records", {"id": record_id})
        assert answer.status_code == 200, answer.text
        tasks: list[dict[str, Any]] = answer.json()["response"]
        return tasks[0] if tasks else None


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    options = StackOptions(
        port=free_port(), rtmp_port=free_port(), access_token=TOKEN, demo=False,
        data_dir=tmp_path_factory.mktemp("embedded"),
        operator_args=["--restart-backoff=1", "--stop-poll=0.5", "--stop-timeout=20"],
    )
    with EmbeddedStack(options) as embedded:
        yield embedded


@pytest.fixture(scope="session")
def api(stack: EmbeddedStack) -> Iterator[Api]:
    client = Api(stack.api_url)
    yield client
    client.client.close()


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 (25 fps, a keyframe every second) + AAC, looped by the publishers."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=4, fps=FPS,
                     gop_frames=FPS)


@pytest.fixture
def stream() -> str:
    return f"e2e{secrets.token_hex(3)}"


@pytest.fixture
def publish(stack: EmbeddedStack, clip: Path) -> Iterator[Callable[[str], Publisher]]:
    started: list[Publisher] = []

    def start(name: str) -> Publisher:
        assert stack.media is not None
        publisher = Publisher.clip(clip, stack.media.rtmp_url("app", name)).start()
        started.append(publisher)
        stack.media.wait_live("app", name, timeout=15)
        return publisher

    yield start
    for publisher in started:
        publisher.stop()
