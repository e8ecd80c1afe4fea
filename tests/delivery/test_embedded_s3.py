"""The issue's "done when": a recording in the embedded mode with --s3 ends with every file in the
bucket (read back and probed with ffprobe), the local files gone, and an extra receiver (as a
future catalogue would subscribe) told about each step with valid signatures."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.local.publisher import Publisher, make_clip
from recording_operator.local.stack import EmbeddedStack, StackOptions
from recording_operator.ports import free_port
from recording_operator.recorder.infofile import InfoEntry, read
from tests.e2e.support import recorder_pids
from tests.waiting import wait_for

from .support import SECRET, Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.controlplane, pytest.mark.media, pytest.mark.s3]
TOKEN = "s3-e2e-token"


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def stack_s3(tmp_path_factory: pytest.TempPathFactory, hook: Receiver,
             ) -> Iterator[EmbeddedStack]:
    options = StackOptions(port=free_port(), rtmp_port=free_port(), access_token=TOKEN,
                           demo=False, data_dir=tmp_path_factory.mktemp("s3e2e") / "data",
                           s3=True, event_receiver=(hook.url, SECRET),
                           operator_args=["--stop-poll=0.5", "--restart-backoff=1"])
    with EmbeddedStack(options) as stack:
        yield stack


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=4, fps=25,
                     gop_frames=25)


class Api:
    def __init__(self, stack: EmbeddedStack) -> None:
        self.client = httpx.Client(base_url=stack.api_url, timeout=10,
                                   headers={"Authorization": "Basic czMtZTJlLXRva2Vu"})

    def call(self, action: str, body: dict[str, object]) -> list[dict[str, object]]:
        answer = self.client.post(f"/vhosts/default/apps/app:{action}", json=body)
        assert answer.status_code == 200, answer.text
        response = answer.json()["response"]
        return response if isinstance(response, list) else [response]

    def up(self) -> bool:
        """The API answers (a restarted one takes a moment to listen again)."""
        try:
            self.client.post("/vhosts/default/apps/app:records", json={})
        except httpx.TransportError:
            return False
        return True

    def sequence(self, record_id: str) -> int:
        tasks = self.call("records", {"id": record_id})
        return int(str(tasks[0].get("sequence", 0))) if tasks else -1


def _keys(client: object, prefix: str) -> set[str]:
    listing = client.list_objects_v2(Bucket="recordings").get(  # type: ignore[attr-defined]
        "Contents", [])
    return {item["Key"] for item in listing if prefix in item["Key"]}


def _ffprobe(path: Path) -> set[str]:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type",
                             "-of", "json", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return {s["codec_type"] for s in json.loads(result.stdout)["streams"]}


def _all_uploaded(stack: EmbeddedStack, stream: str, timeout: float, what: str,
                  ) -> tuple[list[InfoEntry], Any]:
    """Waits for the stream's last file's entry, then for the bucket to hold its files and its
    info XML and nothing else (``what``), and for the local copies to be gone; the entries and
    a client of the store."""
    assert stack.s3 is not None
    root = stack.recordings_dir
    info = next(p for p in root.glob("*.xml") if stream in p.name)
    entries = wait_for(lambda: (lambda e: e if e and e[-1].last_sequence else None)(read(info)),
                       30, "the last file's entry")
    client = stack.s3.client()
    wanted = {f"default/app/{e.file_path}" for e in entries} | {f"default/app/{info.name}"}
    wait_for(lambda: wanted == _keys(client, stream), timeout, what,
             lambda: repr(sorted(_keys(client, stream))))
    wait_for(lambda: not any((root / e.file_path).exists() for e in entries), 30,
             "the local copies removed")
    return entries, client


def test_a_recording_ends_with_every_file_in_the_bucket_and_none_left_locally(
        stack_s3: EmbeddedStack, hook: Receiver, clip: Path, tmp_path: Path) -> None:
    stack = stack_s3
    assert stack.s3 is not None and stack.media is not None
    stream = f"s3{secrets.token_hex(3)}"
    publisher = Publisher.clip(clip, stack.media.rtmp_url("app", stream)).start()
    api = Api(stack)
    try:
        stack.media.wait_live("app", stream, timeout=15)
        api.call("startRecord", {"id": "s3rec", "stream": {"name": stream}, "interval": 3000})
        wait_for(lambda: api.sequence("s3rec") >= 2, 60, "a third file under way")
        api.call("stopRecord", {"id": "s3rec"})
        wait_for(lambda: api.call("records", {"id": "s3rec"}) == [], 30, "the task gone")
    finally:
        publisher.stop()
        api.client.close()
    entries, client = _all_uploaded(stack, stream, 60,
                                    "every file and the info XML in the bucket, nothing else")
    wait_for(lambda: len([r for r in hook.of_type("file.uploaded")
                          if r.data["id"] == "s3rec"]) == len(entries), 30,
             "an uploaded event per file at the extra receiver")
    sizes = {r.data["filePath"]: r.data["size"] for r in hook.of_type("file.uploaded")}
    for e in entries:
        local = tmp_path / Path(e.file_path).name
        local.write_bytes(client.get_object(Bucket="recordings",
                                            Key=f"default/app/{e.file_path}")["Body"].read())
        assert local.stat().st_size == sizes[e.file_path] > 0
        assert _ffprobe(local) >= {"video"}, e.file_path
    wait_for(lambda: [r for r in hook.of_type("recording.stopped") if r.data["id"] == "s3rec"],
             10, "the stopped event")
    mine = [r for r in hook.received if r.data.get("id") == "s3rec"]
    assert mine[0].type.endswith("recording.started")
    assert hook.refused == 0


def test_sigkill_of_every_component_and_the_store_down_at_the_end_lose_no_file(
        stack_s3: EmbeddedStack, hook: Receiver, clip: Path) -> None:
    """Delivery, API, operator and the recorder SIGKILLed while files finish and go up; the
    store down when the recording stops: stopRecord still answers at once, and once the store
    is back every finished file is in the bucket under its one key."""
    stack = stack_s3
    assert stack.s3 is not None and stack.media is not None
    stream = f"kill{secrets.token_hex(3)}"
    publisher = Publisher.clip(clip, stack.media.rtmp_url("app", stream)).start()
    api = Api(stack)
    rid = f"killed-{stream}"
    try:
        stack.media.wait_live("app", stream, timeout=15)
        api.call("startRecord", {"id": rid, "stream": {"name": stream}, "interval": 2000})
        wait_for(lambda: api.sequence(rid) >= 1, 60, "a first file finished")
        for name in ("delivery", "api", "operator"):
            stack.restart(name, kill=True)
        wait_for(api.up, 30, "the API back after its restart")
        [victim] = wait_for(lambda: recorder_pids(stack, rid), 20, "the recorder process")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: [p for p in recorder_pids(stack, rid) if p != victim], 60,
                 "a replacement recorder")
        before = api.sequence(rid)
        wait_for(lambda: api.sequence(rid) >= before + 2, 60, "two more files")
        stack.restart("delivery", kill=True)
        stack.s3.stop()
        try:
            api.call("stopRecord", {"id": rid})
            wait_for(lambda: api.call("records", {"id": rid}) == [], 30,
                     "the task gone although the store is down")
        finally:
            stack.s3.start()
    finally:
        publisher.stop()
        api.client.close()
    _, client = _all_uploaded(stack, stream, 90,
                              "every finished file in the bucket once, nothing else")
    assert not client.list_multipart_uploads(Bucket="recordings").get("Uploads")
    assert hook.refused == 0
