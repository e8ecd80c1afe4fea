"""The issue's "done when": a recording in the embedded mode with --s3 ends with every file in the
bucket (read back and probed with ffprobe), the local files gone, and an extra receiver (as a
future catalogue would subscribe) told about each step with valid signatures."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recording_operator.local.controlplane import free_port
from recording_operator.local.publisher import Publisher, make_clip
from recording_operator.local.stack import EmbeddedStack, StackOptions
from recording_operator.recorder.infofile import read
from tests.waiting import wait_for

from .support import SECRET, Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.controlplane, pytest.mark.media]
TOKEN = "s3-e2e-token"


@pytest.fixture
def stack_s3(tmp_path: Path, receiver: Receiver) -> Iterator[EmbeddedStack]:
    options = StackOptions(port=free_port(), rtmp_port=free_port(), access_token=TOKEN,
                           demo=False, data_dir=tmp_path / "data", s3=True,
                           event_receiver=(receiver.url, SECRET),
                           operator_args=["--stop-poll=0.5"])
    stack = EmbeddedStack(options).start()
    try:
        yield stack
    finally:
        stack.stop()


def _ffprobe(path: Path) -> set[str]:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type",
                             "-of", "json", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return {s["codec_type"] for s in json.loads(result.stdout)["streams"]}


def test_a_recording_ends_with_every_file_in_the_bucket_and_none_left_locally(
        stack_s3: EmbeddedStack, receiver: Receiver, tmp_path: Path) -> None:
    stack = stack_s3
    assert stack.s3 is not None and stack.media is not None
    clip = make_clip(tmp_path / "clip.mp4", seconds=4, fps=25, gop_frames=25)
    stream = f"s3{secrets.token_hex(3)}"
    publisher = Publisher.clip(clip, stack.media.rtmp_url("app", stream)).start()
    api = httpx.Client(base_url=stack.api_url, timeout=10,
                       headers={"Authorization": "Basic czMtZTJlLXRva2Vu"})
    try:
        stack.media.wait_live("app", stream, timeout=15)

        def call(action: str, body: dict[str, object]) -> list[dict[str, object]]:
            answer = api.post(f"/vhosts/default/apps/app:{action}", json=body)
            assert answer.status_code == 200, answer.text
            response = answer.json()["response"]
            return response if isinstance(response, list) else [response]

        call("startRecord", {"id": "s3rec", "stream": {"name": stream}, "interval": 3000})
        wait_for(lambda: int(call("records", {"id": "s3rec"})[0].get("sequence", 0)) >= 2, 60,
                 "a third file under way")
        call("stopRecord", {"id": "s3rec"})
        wait_for(lambda: call("records", {"id": "s3rec"}) == [], 30, "the task gone at once")
    finally:
        publisher.stop()
        api.close()
    root = stack.recordings_dir
    info = next(p for p in root.glob("*.xml") if stream in p.name)
    entries = wait_for(lambda: (lambda e: e if e and e[-1].last_sequence else None)(read(info)),
                       30, "the last file's entry")
    client = stack.s3.client()

    def keys() -> set[str]:
        listing = client.list_objects_v2(Bucket="recordings").get("Contents", [])
        return {item["Key"] for item in listing}

    wanted = {f"default/app/{e.file_path}" for e in entries} | {f"default/app/{info.name}"}
    wait_for(lambda: wanted <= keys(), 60, "every file and the info XML in the bucket",
             lambda: repr(sorted(keys())))
    wait_for(lambda: not any((root / e.file_path).exists() for e in entries), 30,
             "the local copies removed")
    wait_for(lambda: len(receiver.of_type("file.uploaded")) == len(entries), 30,
             "an uploaded event per file at the extra receiver")
    sizes = {r.data["filePath"]: r.data["size"] for r in receiver.of_type("file.uploaded")}
    for e in entries:
        local = tmp_path / Path(e.file_path).name
        local.write_bytes(client.get_object(Bucket="recordings",
                                            Key=f"default/app/{e.file_path}")["Body"].read())
        assert local.stat().st_size == sizes[e.file_path] > 0
        assert _ffprobe(local) >= {"video"}, e.file_path
    wait_for(lambda: receiver.of_type("recording.stopped"), 10, "the stopped event")
    assert receiver.types()[0] == "recording.started"
    assert receiver.refused == 0
