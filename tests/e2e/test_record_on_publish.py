"""Record on publish, end to end: a publish notification → a StreamMap rule's Recording →
operator → recorder → files; the unpublish → the last file finished with ``lastSequence`` true
and the task gone. nginx-rtmp notifies for real (the embedded server's on_publish); OME, SRS and
the plain dialect are driven with their exact payloads for a real RTMP publish of an app the
embedded server does not report. An OME ``record_map.xml`` from OME's documentation is loaded
unchanged and records."""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from recording_operator.local.publisher import Publisher
from recording_operator.local.stack import EmbeddedStack, StackOptions
from recording_operator.model.rules import path_problem
from recording_operator.ports import free_port
from tests.api.support import ome_webhook, plain, srs_hook
from tests.recorder.checks import read_info
from tests.waiting import wait_for

from .support import plays

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "rop-token"
OME_EXAMPLE = Path(__file__).parent.parent / "model" / "data" / "ome-record_map.xml"
#: OME's documented paths are absolute (joined to its RootPath): readable once a leading "/"
#: means the storage root (issue 14, item 7).
OME_PATHS_ACCEPTED = path_problem("/path/to/x.ts", (".ts",)) is None
RULE = {"filePath": "${Stream}/${Sequence}.ts", "infoPath": "${Stream}/info.xml"}


class Client:
    def __init__(self, stack: EmbeddedStack) -> None:
        auth = base64.b64encode(TOKEN.encode()).decode()
        self.http = httpx.Client(base_url=stack.api_url, timeout=10,
                                 headers={"Authorization": f"Basic {auth}"})

    def tasks(self, app: str, stream: str) -> list[dict[str, Any]]:
        answer = self.http.post(f"/vhosts/default/apps/{app}:records", json={})
        assert answer.status_code == 200, answer.text
        return [t for t in answer.json()["response"] if t["stream"]["name"] == stream]

    def notify(self, path: str, body: bytes) -> httpx.Response:
        answer = self.http.post(path, content=body,
                                headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return answer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    rtmp = free_port()
    source = f"rtmp://127.0.0.1:{rtmp}/{{app}}/{{stream}}"
    apps: dict[str, Any] = {
        # the embedded nginx-rtmp reports this app's publishes (on_publish)
        "app": {"source": source, "streamMap": [{"streamName": "auto*", **RULE}]},
        # this one it does not: the other dialects' payloads are sent by the test
        "quiet": {"source": source, "streamMap": [{"streamName": "*", **RULE}]},
    }
    if OME_PATHS_ACCEPTED:
        apps["ome"] = {"source": source, "streamMapFile": str(OME_EXAMPLE),
                       "variants": {"h264_1080p": {"media": "video"},
                                    "aac_128k": {"media": "audio"}}}
    data_dir = tmp_path_factory.mktemp("record-on-publish")
    config = data_dir / "config.yaml"
    config.write_text(yaml.safe_dump({"vhosts": {"default": {"apps": apps}}}))
    options = StackOptions(
        port=free_port(), rtmp_port=rtmp, access_token=TOKEN, demo=False, config=config,
        data_dir=data_dir / "stack", notify_apps=frozenset({"app"}),
        operator_args=["--restart-backoff=1", "--stop-poll=0.5", "--stop-timeout=20"],
    )
    with EmbeddedStack(options) as embedded:
        yield embedded


@pytest.fixture(scope="module")
def client(stack: EmbeddedStack) -> Iterator[Client]:
    made = Client(stack)
    yield made
    made.http.close()


@pytest.fixture
def publishers() -> Iterator[list[Publisher]]:
    started: list[Publisher] = []
    yield started
    for publisher in started:
        publisher.stop()


def _publish(stack: EmbeddedStack, clip: Path, app: str, stream: str,
             started: list[Publisher]) -> Publisher:
    assert stack.media is not None
    publisher = Publisher.clip(clip, stack.media.rtmp_url(app, stream)).start()
    started.append(publisher)
    stack.media.wait_live(app, stream, timeout=15)
    return publisher


def _has_bytes(directory: Path) -> bool:
    for path in directory.rglob("*.ts"):
        with contextlib.suppress(FileNotFoundError):  # renamed meanwhile: the next look sees it
            if path.stat().st_size > 0:
                return True
    return False


def _recording_rule_task(client: Client, app: str, stream: str) -> dict[str, Any]:
    def recording() -> dict[str, Any] | None:
        tasks = client.tasks(app, stream)
        return tasks[0] if len(tasks) == 1 and tasks[0]["state"] == "recording" else None

    task = wait_for(recording, 60, f"the rule task of {app}/{stream} recording")
    assert task["isConfig"] is True
    assert len(task["id"]) == 16 and task["id"].isalnum()
    return task


def _ended(client: Client, app: str, stream: str, info: Path) -> list[dict[str, Any]]:
    """Waits for the task to leave the list; the info file's entries."""
    wait_for(lambda: client.tasks(app, stream) == [], 60, f"the task of {app}/{stream} gone")
    entries = read_info(info)
    assert entries and entries[-1]["lastSequence"] == "true", entries
    assert all(e["lastSequence"] == "false" for e in entries[:-1])
    return entries


def test_nginx_rtmp_publish_starts_a_rule_task_and_its_end_finishes_it(
    stack: EmbeddedStack, client: Client, clip: Path, publishers: list[Publisher]
) -> None:
    stream = f"auto{secrets.token_hex(3)}"
    publisher = _publish(stack, clip, "app", stream, publishers)
    task = _recording_rule_task(client, "app", stream)
    directory = stack.recordings_dir / "default" / "app" / stream
    wait_for(lambda: _has_bytes(directory), 30, "the first bytes on disk")
    publisher.stop()  # nginx-rtmp posts on_publish_done
    entries = _ended(client, "app", stream, directory / "info.xml")
    assert {e["id"] for e in entries} == {task["id"]}
    for entry in entries:
        plays(stack.recordings_dir / "default" / "app" / entry["filePath"])
    # a stream no rule matches is published without a task
    other = f"manual{secrets.token_hex(3)}"
    _publish(stack, clip, "app", other, publishers)
    again = f"auto{secrets.token_hex(3)}"
    _publish(stack, clip, "app", again, publishers)
    _recording_rule_task(client, "app", again)  # notified after the other one
    assert client.tasks("app", other) == []


#: Per dialect: the notification path, then the publish and the unpublish body for a stream.
Body = Callable[[str], bytes]
DIALECTS: dict[str, tuple[str, Body, Body]] = {
    "ovenmediaengine": ("/notify/ovenmediaengine",
                        lambda s: ome_webhook("opening", "quiet", s),
                        lambda s: ome_webhook("closing", "quiet", s)),
    "srs": ("/notify/srs", lambda s: srs_hook("on_publish", "quiet", s),
            lambda s: srs_hook("on_unpublish", "quiet", s)),
    "plain": ("/notify", lambda s: plain("publish", "quiet", s),
              lambda s: plain("unpublish", "quiet", s)),
}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_other_dialects_exact_payloads_record(
    stack: EmbeddedStack, client: Client, clip: Path, publishers: list[Publisher],
    dialect: str
) -> None:
    path, publish, unpublish = DIALECTS[dialect]
    stream = f"{dialect[:4]}{secrets.token_hex(3)}"
    publisher = _publish(stack, clip, "quiet", stream, publishers)
    client.notify(path, publish(stream))
    client.notify(path, publish(stream))  # a repeated notification changes nothing
    _recording_rule_task(client, "quiet", stream)
    directory = stack.recordings_dir / "default" / "quiet" / stream
    wait_for(lambda: _has_bytes(directory), 30, "the first bytes on disk")
    publisher.stop()
    client.notify(path, unpublish(stream))
    entries = _ended(client, "quiet", stream, directory / "info.xml")
    for entry in entries:
        plays(stack.recordings_dir / "default" / "quiet" / entry["filePath"])


@pytest.mark.skipif(not OME_PATHS_ACCEPTED,
                    reason="OME's absolute paths need item 7 (a leading '/' is the storage root)")
def test_omes_documented_record_map_records_unchanged(
    stack: EmbeddedStack, client: Client, clip: Path, publishers: list[Publisher]
) -> None:
    # the example's second rule: stream2*, 5 s splits, continuity, .mp4
    stream = f"stream2-{secrets.token_hex(3)}"
    publisher = _publish(stack, clip, "ome", stream, publishers)
    client.notify("/notify/ovenmediaengine", ome_webhook("opening", "ome", stream))
    task = _recording_rule_task(client, "ome", stream)
    assert (task["interval"], task["segmentationRule"]) == (5000, "continuity")
    assert task["stream"]["variantNames"] == ["h264_1080p", "aac_128k"]
    base = stack.recordings_dir / "default" / "ome"
    directory = base / "path" / "to" / "default" / "ome" / stream
    wait_for(lambda: len([p for p in directory.glob("*.mp4") if ".recording." not in p.name])
             >= 2, 60, "a 5 s split")
    publisher.stop()
    client.notify("/notify/ovenmediaengine", ome_webhook("closing", "ome", stream))
    entries = _ended(client, "ome", stream, directory / "info.xml")
    assert len(entries) >= 2  # split every 5 s; the last one last
    for entry in entries:
        assert entry["filePath"].endswith(".mp4")
        plays(base / entry["filePath"].lstrip("/"))


def test_a_publish_wakes_a_reserved_task_at_once(
    stack: EmbeddedStack, client: Client, clip: Path, publishers: list[Publisher]
) -> None:
    """A reservation made with startRecord: nginx-rtmp's on_publish reaches its waiting recorder
    through the API (its log says so), instead of its next poll of the source."""
    stream = f"resv{secrets.token_hex(3)}"
    answer = client.http.post("/vhosts/default/apps/app:startRecord", json={
        "id": stream, "stream": {"name": stream}, "filePath": "${Stream}/${Sequence}.ts",
        "infoPath": "${Stream}/info.xml"})
    assert answer.status_code == 200, answer.text
    pods = stack.data_dir / "kubelet" / "pods"

    def recorder_log() -> str:
        logs = list(pods.glob(f"*{stream}*/*.log")) if pods.is_dir() else []
        return "".join(p.read_text(errors="replace") for p in logs)

    wait_for(lambda: "listening for publish notifications" in recorder_log(), 60,
             "the reserved task's recorder listening")
    _publish(stack, clip, "app", stream, publishers)
    wait_for(lambda: "reports the stream published" in recorder_log(), 30, "the wake")
    directory = stack.recordings_dir / "default" / "app" / stream
    wait_for(lambda: _has_bytes(directory), 30, "the first bytes on disk")
    assert client.tasks("app", stream)[0]["isConfig"] is False
