"""The issue's guarantees under faults: the store down, the delivery process SIGKILLed mid
upload, the receiver down, retention next to unconfirmed and open files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from recording_operator.delivery import metrics
from recording_operator.local.s3server import S3Server
from tests.waiting import wait_for

from .support import (
    DeliveryThread,
    Receiver,
    app_target,
    bucket_objects,
    fast_settings,
    finish_file,
    get_object,
)

pytestmark = pytest.mark.s3


@pytest.mark.parametrize("outage", [
    pytest.param(3.0, id="seconds"),
    pytest.param(60.0, id="a-minute", marks=pytest.mark.e2e),
])
def test_store_down_then_back_everything_arrives_oldest_first(
        s3: S3Server, bucket: str, root: Path, receiver: Receiver, tmp_path: Path,
        outage: float) -> None:
    target = app_target(root, upload={"url": f"s3://{bucket}", "endpoint": s3.endpoint},
                        events=[{"url": receiver.url, "secret": receiver.secret}])
    counter = metrics.UPLOAD_FAILURES.labels("default/app", "StoreUnreachable")
    before = counter._value.get()
    delivery = DeliveryThread([target], fast_settings(tmp_path / "state")).start()
    s3.stop()
    try:
        entries = [finish_file(root, "down", seq, last=seq == 4) for seq in (1, 2, 3, 4)]
        wait_for(lambda: counter._value.get() > before, 20, "a failed attempt")
        time.sleep(outage)  # the outage itself: the store stays down this long
        assert all((root / e.file_path).exists() for e in entries), "files wait locally"
    finally:
        s3.start()
    try:
        wait_for(lambda: {e.file_path for e in entries} <= set(bucket_objects(s3, bucket)), 30,
                 "every file after the store returned")
        uploaded = wait_for(lambda: (lambda u: u if len(u) == 4 else None)(
            receiver.of_type("file.uploaded")), 20, "four uploaded events")
        assert [u.data["sequence"] for u in uploaded] == [1, 2, 3, 4], "oldest first"
        wait_for(lambda: not any((root / e.file_path).exists() for e in entries), 10,
                 "local copies removed after confirmation")
    finally:
        delivery.stop()


def _deliver_process(config: Path, root: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "recording_operator.cli.main", "deliver",
               f"--config={config}", f"--app-root=default/app={root}", f"--state-dir={state}",
               "--no-kube", "--metrics-port=0", "--poll-interval=0.1",
               "--upload-max-delay=1", f"--part-size={5 * 1024 * 1024}"]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            env=os.environ.copy())


def test_sigkill_mid_upload_loses_nothing_and_makes_no_second_key(
        s3: S3Server, bucket: str, root: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://127.0.0.1/app/{stream}",
        "upload": {"url": f"s3://{bucket}/k", "endpoint": s3.endpoint}}}}}}))
    small = finish_file(root, "kill", 1)
    big = finish_file(root, "kill", 2, size=64 * 1024 * 1024, last=True)
    data = {e.file_path: (root / e.file_path).read_bytes() for e in (small, big)}
    client = s3.client()
    big_key = f"k/{big.file_path}"
    log = tmp_path / "deliver.log"
    process = _deliver_process(config, root, tmp_path / "state", log)
    try:
        wait_for(lambda: process.poll() is None and any(
            u["Key"] == big_key for u in client.list_multipart_uploads(Bucket=bucket).get(
                "Uploads", [])), 60, "the multipart upload of the large file under way",
            lambda: log.read_text(), interval=0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        objects = bucket_objects(s3, bucket)
        if big_key in objects:  # it completed just before the kill: then it is whole
            assert get_object(s3, bucket, big_key)["bytes"] == data[big.file_path]
        assert (root / big.file_path).exists(), "not deleted before confirmation"

        process = _deliver_process(config, root, tmp_path / "state", log)
        expected = {f"k/{rel}" for rel in data} | {"k/kill_default_app_stream.xml"}
        wait_for(lambda: set(bucket_objects(s3, bucket)) == expected, 60,
                 "both files and the info XML, nothing else", lambda: log.read_text())
        for rel, content in data.items():
            assert get_object(s3, bucket, f"k/{rel}")["bytes"] == content
        wait_for(lambda: not (root / big.file_path).exists(), 10, "the local copy removed")
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads"), \
            "the killed upload's parts are gone"
    finally:
        process.terminate()
        process.wait(20)


def test_receiver_down_then_back_every_event_arrives_signed_with_stable_ids(
        root: Path, receiver: Receiver, tmp_path: Path) -> None:
    target = app_target(root, events=[{"url": receiver.url, "secret": receiver.secret}])
    settings = fast_settings(tmp_path / "state")
    receiver.stop()
    counter = metrics.EVENT_FAILURES.labels("dev.recording-operator.recording.started")
    before = counter._value.get()
    delivery = DeliveryThread([target], settings).start()
    try:
        for seq in (1, 2, 3):
            finish_file(root, "hook", seq, last=seq == 3)
        wait_for(lambda: counter._value.get() >= before + 2, 20, "refused attempts, retried")
    finally:
        delivery.stop()
    # The process restarts while the receiver is still down: the outbox is durable.
    delivery = DeliveryThread([target], settings).start()
    try:
        receiver.start()
        wait_for(lambda: receiver.of_type("recording.stopped"), 30, "every event")
        assert receiver.types() == ["recording.started", "file.finished", "file.finished",
                                    "file.finished", "recording.stopped"]
        assert receiver.refused == 0
        assert len({r.id for r in receiver.received}) == 5
    finally:
        delivery.stop()
    # Found again by a fresh process with the same journal: nothing is made twice.
    delivery = DeliveryThread([target], settings).start()
    try:
        scans = metrics.SCANS._value.get()
        wait_for(lambda: metrics.SCANS._value.get() >= scans + 3, 10, "three scans")
        assert len(receiver.received) == 5
    finally:
        delivery.stop()


def test_retention_never_removes_an_unconfirmed_or_open_file(
        s3: S3Server, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    refused = app_target(root, upload={"url": "s3://missing-bucket", "endpoint": s3.endpoint},
                         retention={"maxAge": "1s", "maxBytes": 0})
    open_file = root / "tx_0.recording.ts"
    open_file.write_bytes(b"being written")
    delivery = DeliveryThread([refused], fast_settings(tmp_path / "state")).start()
    try:
        entries = [finish_file(root, "keep", seq, age=3600) for seq in (1, 2)]
        counter = metrics.UPLOAD_FAILURES.labels("default/app", "BucketMissing")
        start = counter._value.get()
        wait_for(lambda: counter._value.get() >= start + 2, 20, "uploads refused")
        sweeps = metrics.RETENTION_SWEEPS._value.get()
        wait_for(lambda: metrics.RETENTION_SWEEPS._value.get() >= sweeps + 3, 10,
                 "three retention sweeps")
        assert all((root / e.file_path).exists() for e in entries)
        assert open_file.exists()
    finally:
        delivery.stop()


def test_retention_removes_the_oldest_local_files_and_says_so(
        root: Path, receiver: Receiver, tmp_path: Path) -> None:
    target = app_target(root, events=[{"url": receiver.url, "secret": receiver.secret}],
                        retention={"maxBytes": "10Ki"})
    open_file = root / "tx_9.recording.ts"
    open_file.write_bytes(os.urandom(20_000))
    entries = [finish_file(root, "old", seq, size=4096, age=100 - seq) for seq in (1, 2, 3, 4)]
    delivery = DeliveryThread([target], fast_settings(tmp_path / "state")).start()
    try:
        wait_for(lambda: len(receiver.of_type("file.deleted")) == 2, 20, "two deletions")
        assert [e.data["sequence"] for e in receiver.of_type("file.deleted")] == [1, 2]
        assert [(root / e.file_path).exists() for e in entries] == [False, False, True, True]
        assert open_file.exists(), "the file being written is never a candidate"
        assert (root / "old_default_app_stream.xml").read_text().count("<file>") == 4
    finally:
        delivery.stop()


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A real 24 MiB filesystem (tmpfs), so that it can really be filled."""
    mount = tmp_path / "volume"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(volume: Path) -> Path:
    """Writes until the volume refuses (as a recorder's open file would)."""
    filler = volume / "tx_0.recording.ts"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_volume_still_delivers_and_frees_space(
        s3: S3Server, bucket: str, small_volume: Path, tmp_path: Path) -> None:
    root = small_volume / "recordings"
    root.mkdir()
    target = app_target(root, upload={"url": f"s3://{bucket}", "endpoint": s3.endpoint})
    counter = metrics.UPLOAD_FAILURES.labels("default/app", "StoreUnreachable")
    before = counter._value.get()
    # The journal on the volume itself, as in the chart (STORAGE_ROOT/.delivery).
    delivery = DeliveryThread([target], fast_settings(root / ".delivery")).start()
    s3.stop()
    try:
        entries = [finish_file(root, "full", seq, size=2 * 1024 * 1024) for seq in (1, 2, 3)]
        wait_for(lambda: counter._value.get() > before, 20, "a refused attempt (files queued)")
        _fill(small_volume)
        assert os.statvfs(small_volume).f_bavail * os.statvfs(small_volume).f_frsize < 65536
    finally:
        s3.start()
    try:
        wait_for(lambda: {e.file_path for e in entries} <= set(bucket_objects(s3, bucket)), 30,
                 "every file in the store although the volume is full")
        wait_for(lambda: not any((root / e.file_path).exists() for e in entries), 20,
                 "the local copies removed: the volume has room again")
        for e in entries:
            assert len(get_object(s3, bucket, e.file_path)["bytes"]) == 2 * 1024 * 1024
        stat = os.statvfs(small_volume)
        assert stat.f_bavail * stat.f_frsize >= 4 * 1024 * 1024
    finally:
        delivery.stop()
