"""Upload against a real S3-compatible store: every finished file arrives whole and verified,
the local copy goes only after that, the info XML follows, and receivers hear about each step
in order with valid signatures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recording_operator.delivery import metrics
from recording_operator.delivery.service import Receiver as ExtraReceiver
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


def test_files_go_up_verified_then_leave_the_volume(s3: S3Server, bucket: str, root: Path,
                                                    receiver: Receiver, tmp_path: Path) -> None:
    target = app_target(root, upload={"url": f"s3://{bucket}/live", "endpoint": s3.endpoint},
                        events=[{"url": receiver.url, "secret": receiver.secret}])
    before = metrics.UPLOADED_FILES.labels("default/app")._value.get()
    delivery = DeliveryThread([target], fast_settings(tmp_path / "state")).start()
    try:
        contents = {}
        for seq in (1, 2, 3):
            entry = finish_file(root, "tx1", seq, size=3000 + seq, last=seq == 3)
            contents[entry.file_path] = (root / entry.file_path).read_bytes()
        keys = {f"live/{rel}" for rel in contents}
        wait_for(lambda: keys | {"live/tx1_default_app_stream.xml"}
                 <= set(bucket_objects(s3, bucket)),
                 30, "the three files and the info XML in the bucket")
        wait_for(lambda: not any((root / rel).exists() for rel in contents), 10,
                 "the local copies removed")
        for rel, data in contents.items():
            obj = get_object(s3, bucket, f"live/{rel}")
            assert obj["bytes"] == data
            assert obj["ContentType"] == "video/mp2t"
            assert obj["Metadata"]["task-id"] == "rec"
            assert obj["Metadata"]["transaction-id"] == "tx1"
            assert obj["Metadata"]["sequence"] == rel.rsplit("_", 1)[1].removesuffix(".ts")
        info = get_object(s3, bucket, "live/tx1_default_app_stream.xml")
        assert info["bytes"] == (root / "tx1_default_app_stream.xml").read_bytes()
        assert info["ContentType"] == "application/xml"
        assert (root / "tx1_default_app_stream.xml").exists(), "the info XML stays local"

        wait_for(lambda: len(receiver.of_type("file.uploaded")) == 3, 20, "uploaded events")
        wait_for(lambda: receiver.of_type("recording.stopped"), 10, "the stopped event")
        types = receiver.types()
        assert types[0] == "recording.started"
        assert types.count("recording.started") == 1
        finished = [r.data["filePath"] for r in receiver.of_type("file.finished")]
        assert finished == list(contents)
        assert types.index("recording.stopped") > max(
            i for i, t in enumerate(types) if t == "file.finished")
        for event in receiver.of_type("file.uploaded"):
            uploaded = event.data
            assert uploaded["url"] == f"s3://{bucket}/live/{uploaded['filePath']}"
            assert uploaded["checksum"] == "sha256:" + hashlib.sha256(
                contents[uploaded["filePath"]]).hexdigest()
            assert uploaded["size"] == len(contents[uploaded["filePath"]])
            assert uploaded["etag"]
        assert receiver.refused == 0
        assert metrics.UPLOADED_FILES.labels("default/app")._value.get() == before + 3
    finally:
        delivery.stop()


def test_a_large_file_goes_in_verified_parts(s3: S3Server, bucket: str, root: Path,
                                            tmp_path: Path) -> None:
    target = app_target(root, upload={"url": f"s3://{bucket}", "endpoint": s3.endpoint,
                                      "deleteLocal": False})
    settings = fast_settings(tmp_path / "state", part_size=5 * 1024 * 1024)
    delivery = DeliveryThread([target], settings).start()
    try:
        entry = finish_file(root, "big", 1, size=12 * 1024 * 1024 + 17)
        data = (root / entry.file_path).read_bytes()
        wait_for(lambda: entry.file_path in bucket_objects(s3, bucket), 60, "the large file")
        obj = get_object(s3, bucket, entry.file_path)
        assert obj["bytes"] == data
        assert obj["ETag"].strip('"').endswith("-3"), "three parts"
        assert (root / entry.file_path).exists(), "deleteLocal: false keeps the local copy"
        assert not s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads")
    finally:
        delivery.stop()


def test_files_without_upload_stay_and_only_events_go(root: Path, receiver: Receiver,
                                                      tmp_path: Path) -> None:
    target = app_target(root, events=[{"url": receiver.url, "secret": receiver.secret}])
    delivery = DeliveryThread([target], fast_settings(tmp_path / "state")).start()
    try:
        entry = finish_file(root, "tx2", 1, last=True)
        wait_for(lambda: receiver.of_type("recording.stopped"), 20, "the events")
        assert receiver.types() == ["recording.started", "file.finished", "recording.stopped"]
        assert (root / entry.file_path).exists()
    finally:
        delivery.stop()


@pytest.mark.parametrize("problem", ["credentials", "bucket"])
def test_a_refusing_store_keeps_the_files_and_names_the_reason(
        s3: S3Server, bucket: str, root: Path, tmp_path: Path, problem: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    name = bucket
    if problem == "credentials":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        reason = "CredentialsRefused"
    else:
        name, reason = "no-such-bucket", "BucketMissing"
    target = app_target(root, upload={"url": f"s3://{name}", "endpoint": s3.endpoint})
    counter = metrics.UPLOAD_FAILURES.labels("default/app", reason)
    before = counter._value.get()
    delivery = DeliveryThread([target], fast_settings(tmp_path / "state")).start()
    try:
        entry = finish_file(root, "tx3", 1)
        wait_for(lambda: counter._value.get() >= before + 2, 20, f"{reason} counted, retried")
        assert (root / entry.file_path).exists(), "the file is kept"
        assert not bucket_objects(s3, bucket)
    finally:
        delivery.stop()


def test_an_extra_receiver_hears_about_apps_without_a_delivery_block(
        root: Path, receiver: Receiver, tmp_path: Path) -> None:
    """As a recordings catalogue would subscribe in the embedded mode."""
    settings = fast_settings(tmp_path / "state",
                             extra_receivers=(ExtraReceiver(receiver.url, receiver.secret),))
    delivery = DeliveryThread([app_target(root)], settings).start()
    try:
        entry = finish_file(root, "cat", 1, last=True)
        wait_for(lambda: receiver.of_type("recording.stopped"), 20, "the events")
        assert receiver.types() == ["recording.started", "file.finished", "recording.stopped"]
        assert receiver.of_type("file.finished")[0].data["filePath"] == entry.file_path
        assert (root / entry.file_path).exists(), "no upload configured: the file stays"
    finally:
        delivery.stop()
