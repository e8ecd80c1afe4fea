"""Delivery as a Recording's owner sees it, on the real local control plane and under the
delivery ServiceAccount's own rights (the chart's rules): the reason of a refusing store on the
Recording (status.delivery condition, a Warning Event, the Delivery column), the upload once
the Secret is fixed, and the Recording's own transitions as events (started, failed)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recording_operator.delivery.recordings import Recordings
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.delivery import delivery_rules
from recording_operator.local.s3server import S3Server
from recording_operator.model.config import parse_config
from recording_operator.model.naming import recording_name
from recording_operator.model.resource import GROUP, PLURAL, VERSION
from tests.waiting import wait_for

from .support import (
    DeliveryThread,
    Receiver,
    app_target,
    bucket_objects,
    fast_settings,
    finish_file,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.s3]


def _secret(controlplane: ControlPlane, namespace: str, name: str, data: dict[str, str]) -> None:
    controlplane.apply({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": name, "namespace": namespace},
                        "data": {k: base64.b64encode(v.encode()).decode()
                                 for k, v in data.items()}})


def _recording(controlplane: ControlPlane, namespace: str) -> dict[str, Any]:
    return controlplane.request(
        "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/"
        f"{recording_name('default', 'app', 'rec')}")


def _set_status(controlplane: ControlPlane, namespace: str, status: dict[str, Any]) -> None:
    controlplane.request(
        "PATCH", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/"
        f"{recording_name('default', 'app', 'rec')}/status", {"status": status},
        content_type="application/merge-patch+json")


def _events(controlplane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = controlplane.request(
        "GET", f"/api/v1/namespaces/{namespace}/events")["items"]
    return [e for e in items if e["involvedObject"]["kind"] == "Recording"]


def test_the_recording_shows_the_reason_then_the_upload_and_its_transitions_are_events(
        controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, Any], s3: S3Server,
        bucket: str, root: Path, receiver: Receiver, tmp_path: Path) -> None:
    _secret(controlplane, namespace, "s3-creds",
            {"accessKeyId": s3.access_key, "secretAccessKey": "wrong"})
    _secret(controlplane, namespace, "hook", {"secret": receiver.secret})
    app = {"upload": {"url": f"s3://{bucket}", "endpoint": s3.endpoint,
                      "secretName": "s3-creds"},
           "events": [{"url": receiver.url, "secretName": "hook"}]}
    target = app_target(root, **app)
    target = type(target)(target.vhost, target.app, namespace, target.root, target.config)
    config = parse_config({"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://x/{stream}", **app}}}}})
    kubeconfig = controlplane.service_account_kubeconfig(
        namespace, "delivery", delivery_rules(rbac_rules["delivery"], config))
    name = recording_name("default", "app", "rec")
    controlplane.apply({"apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {"id": "rec", "stream": {"name": "stream"}}})
    _set_status(controlplane, namespace, {"state": "recording", "transactionId": "tx1",
                                          "startTime": "2026-01-01T00:00:00.000+00:00"})

    async def recordings() -> Recordings:
        return await Recordings.open(KubeTarget(kubeconfig=str(kubeconfig)))

    delivery = DeliveryThread([target], fast_settings(tmp_path / "state"), recordings).start()
    try:
        wait_for(lambda: receiver.of_type("recording.started"), 20, "started, from the status")
        entry = finish_file(root, "tx1", 1, record_id="rec")

        def delivery_status() -> dict[str, Any]:
            return dict((_recording(controlplane, namespace).get("status") or {}).get(
                "delivery") or {})

        status = wait_for(lambda: (lambda d: d if "CredentialsRefused" in d.get("summary", "")
                                   else None)(delivery_status()), 30,
                          "the reason on the Recording", lambda: repr(delivery_status()))
        condition = status["conditions"][0]
        assert (condition["type"], condition["status"], condition["reason"]) == (
            "Uploaded", "False", "CredentialsRefused")
        assert status["files"] == [{"filePath": entry.file_path, "sequence": 1,
                                    "reason": status["files"][0]["reason"], "state": "failed"}]
        wait_for(lambda: any(e["reason"] == "UploadFailed" and e["type"] == "Warning"
                             for e in _events(controlplane, namespace)), 20,
                 "a Warning Event UploadFailed")
        assert (root / entry.file_path).exists()
        table = subprocess.run(
            [str(Path(sys.executable).parent / "kubectl"), "get", "rec", "-n", namespace,
             f"--kubeconfig={controlplane.admin_kubeconfig}"],
            capture_output=True, text=True, check=True).stdout
        assert "DELIVERY" in table and "0/1 uploaded, CredentialsRefused" in table, table

        _secret(controlplane, namespace, "s3-creds",
                {"accessKeyId": s3.access_key, "secretAccessKey": s3.secret_key})
        wait_for(lambda: entry.file_path in bucket_objects(s3, bucket), 60,
                 "the upload once the Secret is fixed")
        status = wait_for(lambda: (lambda d: d if d.get("summary") == "1/1 uploaded" else None)(
            delivery_status()), 20, "1/1 uploaded", lambda: repr(delivery_status()))
        assert status["conditions"][0]["status"] == "True"
        assert status["files"][0]["url"] == f"s3://{bucket}/{entry.file_path}"
        wait_for(lambda: {"FileFinished", "FileUploaded", "RecordingStarted"} <= {
            e["reason"] for e in _events(controlplane, namespace)}, 20, "Events per step")

        _set_status(controlplane, namespace, {"state": "error", "message": "the source is gone"})
        failed = wait_for(lambda: receiver.of_type("recording.failed"), 20, "failed")
        assert failed[0].data["reason"] == "the source is gone"
        assert receiver.types()[:2] == ["recording.started", "file.finished"]
        assert receiver.refused == 0
        status = _recording(controlplane, namespace)["status"]
        assert status["state"] == "error" and status["transactionId"] == "tx1", \
            "delivery writes only status.delivery"
    finally:
        delivery.stop()
