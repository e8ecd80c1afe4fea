"""The recorder's status reports, against the real local control plane, under the recorder's
own ServiceAccount with exactly the chart's ``recorder`` rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from recording_operator.model.resource import GROUP, PLURAL, VERSION
from tests.waiting import wait_for

from .checks import assert_plays
from .harness import Recorder, job

pytestmark = [pytest.mark.media, pytest.mark.controlplane]

OPERATOR_STATUS = {
    "state": "ready",
    "transactionId": "OPERATOR0000FIXD",
    "createdTime": "2026-01-01T00:00:00.000+00:00",
}


def _path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


class Rec:
    """A Recording object created by the admin, and the recorder that reports to it."""

    def __init__(self, plane: ControlPlane, namespace: str, name: str) -> None:
        self.plane, self.namespace, self.name = plane, namespace, name

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.plane.request(
            "GET", _path(self.namespace, self.name) + "/status").get("status") or {}
        return status

    def recorder(self) -> dict[str, Any]:
        recorder: dict[str, Any] = self.status().get("recorder") or {}
        return recorder

    def wait(self, predicate: Callable[[dict[str, Any]], Any], what: str,
             timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (s := self.status()) and predicate(s) and s, timeout, what)


@pytest.fixture
def recording(controlplane: ControlPlane, namespace: str, stream_name: str) -> Rec:
    name = f"rec-{stream_name}"
    controlplane.request("POST", _path(namespace), {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"id": f"id-{stream_name}", "vhost": "default", "app": "app",
                 "stream": {"name": stream_name}},
    })
    # What the operator owns, set before the pod exists; the recorder must leave it alone.
    controlplane.request("PATCH", _path(namespace, name) + "/status",
                         {"status": OPERATOR_STATUS},
                         content_type="application/merge-patch+json")
    return Rec(controlplane, namespace, name)


@pytest.fixture
def recorder_env(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]]
) -> dict[str, str]:
    kubeconfig = controlplane.service_account_kubeconfig(namespace, "recorder",
                                                         rbac_rules["recorder"])
    return {"KUBECONFIG": str(kubeconfig)}


def _spec(recording: Rec, stream: str, url: str, **fields: Any) -> dict[str, Any]:
    return job(stream, url, recording={"namespace": recording.namespace, "name": recording.name},
               transactionId=OPERATOR_STATUS["transactionId"], **fields)


def _operator_fields_untouched(status: dict[str, Any]) -> None:
    assert {k: status.get(k) for k in OPERATOR_STATUS} == OPERATOR_STATUS


@pytest.mark.timeout(90)
def test_reports_every_transition_and_the_final_file(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str, recording: Rec, recorder_env: dict[str, str],
) -> None:
    spec = _spec(recording, stream_name, media_server.rtmp_url("app", stream_name),
                 intervalMs=2000)
    with Recorder(spec, tmp_path / "rec", report=True, env=recorder_env,
                  args=("--report-interval", "1")) as recorder:
        recording.wait(lambda s: s.get("recorder", {}).get("state") == "ready"
                       and "waiting for the stream" in s["recorder"].get("message", ""),
                       "state ready, with the reason, while the stream is absent")
        publish(stream_name)
        status = recording.wait(lambda s: s.get("recorder", {}).get("state") == "recording",
                                "state recording")
        assert status["sequence"] == 0
        assert status["outputFilePath"].endswith(".recording.ts")
        assert status["startTime"] and "finishTime" not in status
        recording.wait(lambda s: s.get("recordBytes", 0) > 0, "progress while recording")
        recording.wait(lambda s: len(s.get("files", [])) >= 2, "two finished files")
        assert recorder.stop() == 0, recorder.log()

    status = recording.status()
    _operator_fields_untouched(status)
    assert status["recorder"]["state"] == "stopped"
    assert status["recorder"]["finished"] is True
    files = recorder.finished_files()
    reported = status["files"]
    assert [f["filePath"] for f in reported] == [p.name for p in files][-len(reported):]
    assert [f["sequence"] for f in reported] == list(range(len(files)))[-len(reported):]
    assert reported[-1]["lastSequence"] is True
    assert not any(f["lastSequence"] for f in reported[:-1])
    assert status["sequence"] == len(files) - 1
    assert status["outputFilePath"] == files[-1].name
    assert status["totalRecordBytes"] == sum(p.stat().st_size for p in files)
    assert status["recordBytes"] == files[-1].stat().st_size
    assert status["finishTime"] >= status["startTime"]


@pytest.mark.timeout(90)
def test_restart_after_a_crash_continues_sequence_and_totals(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str, recording: Rec, recorder_env: dict[str, str],
) -> None:
    publish(stream_name)
    spec = _spec(recording, stream_name, media_server.rtmp_url("app", stream_name),
                 filePath="${Sequence}.mp4")
    storage = tmp_path / "rec"
    with Recorder(spec, storage, report=True, env=recorder_env,
                  args=("--report-interval", "1")) as first:
        recording.wait(lambda s: s.get("recordTime", 0) > 1500, "progress reported")
        first.kill()
    crashed = recording.status()
    assert crashed["recorder"]["state"] == "recording"  # what a dead recorder leaves
    orphan = storage / crashed["outputFilePath"]
    assert orphan.exists()

    with Recorder(spec, storage, report=True, env=recorder_env,
                  args=("--report-interval", "1")) as second:
        status = recording.wait(
            lambda s: s.get("recorder", {}).get("state") == "recording" and s["sequence"] == 1,
            "recording again, next sequence")
        assert status["files"][0]["filePath"] == "0.mp4"
        assert status["files"][0]["lastSequence"] is False
        time.sleep(1.5)
        assert second.stop() == 0

    status = recording.status()
    files = [storage / "0.mp4", storage / "1.mp4"]
    assert [f["filePath"] for f in status["files"]] == ["0.mp4", "1.mp4"]
    assert not orphan.exists()
    for path in files:
        assert_plays(path)
    assert status["totalRecordBytes"] == sum(p.stat().st_size for p in files)
    assert status["totalRecordTime"] == sum(f["recordTime"] for f in status["files"])
    _operator_fields_untouched(status)


@pytest.mark.timeout(60)
def test_unusable_storage_is_reported_as_an_error(
    tmp_path: Path, media_server: MediaServer, stream_name: str, recording: Rec,
    recorder_env: dict[str, str],
) -> None:
    spec = _spec(recording, stream_name, media_server.rtmp_url("app", stream_name))
    recorder = Recorder(spec, tmp_path / "rec", report=True, env=recorder_env,
                        args=("--storage-root", str(tmp_path / "missing"))).start()
    assert recorder.wait(30) == 1
    reported = recording.recorder()
    assert reported["state"] == "error"
    assert "does not exist" in reported["message"]
