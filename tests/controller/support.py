"""Test helpers for the operator against the local control plane.

The tests play the parts a cluster would: the recorder (patching ``status.recorder`` and the
progress fields) and the kubelet/scheduler (binding pods, setting their phase) — there is no
kubelet here. The operator itself is the real ``recording-operator run`` in a subprocess,
logged in with a ServiceAccount token bound to the chart's ``operator`` rules.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.model.naming import pod_name, recording_name
from recording_operator.ports import free_port
from tests.waiting import wait_for

BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
RECORDINGS = "/apis/recording-operator.dev/v1alpha1/namespaces/{ns}/recordings"
RECORDER_SA = "recorder"
IMAGE = "registry.test/recording-operator:test"
T = TypeVar("T")
SPEC = {"id": "lecture-1", "stream": {"name": "stream1"}}
API_CREATED_TIME = "2026-03-15T21:15:20.113+09:00"


class Kube:
    """Admin access to one namespace, in the words of the tests."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane = plane
        self.ns = namespace

    # -- Recordings ------------------------------------------------------------------------

    def create_recording(self, name: str, spec: dict[str, Any],
                         labels: dict[str, str] | None = None,
                         annotations: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"apiVersion": "recording-operator.dev/v1alpha1", "kind": "Recording",
                "metadata": {"name": name, "labels": labels or {},
                             "annotations": annotations or {}},
                "spec": spec}
        return self.plane.request("POST", RECORDINGS.format(ns=self.ns), body)

    def recording(self, name: str) -> dict[str, Any] | None:
        try:
            return self.plane.request("GET", f"{RECORDINGS.format(ns=self.ns)}/{name}")
        except AdminError as exc:
            if exc.status == 404:
                return None
            raise

    def status(self, name: str) -> dict[str, Any]:
        rec = self.recording(name)
        assert rec is not None, f"Recording {name} is gone"
        status: dict[str, Any] = rec.get("status") or {}
        return status

    def report(self, name: str, status: dict[str, Any]) -> None:
        """What the recorder does: a merge patch of its own fields on the status subresource."""
        self.plane.request("PATCH", f"{RECORDINGS.format(ns=self.ns)}/{name}/status",
                           {"status": status}, content_type="application/merge-patch+json")

    def delete_recording(self, name: str) -> None:
        self.plane.request("DELETE", f"{RECORDINGS.format(ns=self.ns)}/{name}")

    def drop_finalizers(self, name: str) -> None:
        self.plane.request("PATCH", f"{RECORDINGS.format(ns=self.ns)}/{name}",
                           {"metadata": {"finalizers": None}},
                           content_type="application/merge-patch+json")

    # -- pods (the kubelet's and the scheduler's part) ------------------------------------

    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.plane.request(
            "GET", f"/api/v1/namespaces/{self.ns}/pods")["items"]
        return items

    def pod(self, recording: str) -> dict[str, Any] | None:
        try:
            return self.plane.request(
                "GET", f"/api/v1/namespaces/{self.ns}/pods/{pod_name(recording)}")
        except AdminError as exc:
            if exc.status == 404:
                return None
            raise

    def set_phase(self, recording: str, phase: str, exit_code: int | None = None) -> None:
        status: dict[str, Any] = {"phase": phase}
        if exit_code is not None:
            status["containerStatuses"] = [{
                "name": "recorder", "image": IMAGE, "imageID": "", "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                         "message": "source refused"}}}]
        self.patch_pod_status(recording, status)

    def patch_pod_status(self, recording: str, status: dict[str, Any]) -> None:
        """What the kubelet (or the scheduler) says about the pod."""
        path = f"/api/v1/namespaces/{self.ns}/pods/{pod_name(recording)}/status"
        self.plane.request("PATCH", path, {"status": status},
                           content_type="application/merge-patch+json")

    def bind(self, recording: str, node: str = "node-1") -> None:
        """What the scheduler does; a bound pod is deleted gracefully (it lingers, terminating)."""
        name = pod_name(recording)
        self.plane.request("POST", f"/api/v1/namespaces/{self.ns}/pods/{name}/binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    def force_delete_pods(self) -> None:
        for pod in self.pods():
            try:
                self.plane.request(
                    "DELETE", f"/api/v1/namespaces/{self.ns}/pods/{pod['metadata']['name']}",
                    {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
            except AdminError as exc:
                if exc.status != 404:
                    raise

    # -- Events ------------------------------------------------------------------------

    def events(self, recording: str) -> list[dict[str, Any]]:
        items = self.plane.request("GET", f"/api/v1/namespaces/{self.ns}/events")["items"]
        return [e for e in items if e["involvedObject"].get("name") == recording
                and e["involvedObject"].get("kind") == "Recording"]

    def event_reasons(self, recording: str) -> list[str]:
        return [e["reason"] for e in self.events(recording)]


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0]["env"]}


def write_config(path: Path, namespace: str, **app: Any) -> Path:
    config = {
        "namespace": namespace,
        "recorder": {
            "image": IMAGE,
            "serviceAccountName": RECORDER_SA,
            "terminationGracePeriodSeconds": 5,
            "runAsUser": 10001,
        },
        "vhosts": {"default": {"apps": {
            "app": {"source": "rtmp://127.0.0.1:1935/{app}/{stream}",
                    "variants": {"video": {"media": "video", "index": 0}}, **app},
        }}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


class Operator:
    """``recording-operator run`` as a subprocess; its log is kept for failed tests."""

    def __init__(self, args: list[str], log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.liveness_port = 0
        self.metrics_port = 0

    @property
    def log(self) -> Path:
        return self.log_dir / f"operator-{self.runs}.log"

    def start(self) -> None:
        assert self.process is None
        self.runs += 1
        self.liveness_port, self.metrics_port = free_port(), free_port()
        command = [
            str(BIN / "recording-operator"), "run", *self.args,
            "--bind-address", "127.0.0.1",
            "--liveness-port", str(self.liveness_port),
            "--metrics-port", str(self.metrics_port),
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            env={**os.environ, "KUBECONFIG": ""})
        wait_for(self.healthy, 30, "the operator's liveness endpoint")

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the operator exited with {self.process.returncode}:\n"
                                 f"{self.log.read_text()}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2
            ) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as resp:
            text: str = resp.read().decode()
        return text

    def metric(self, name: str) -> float:
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise AssertionError(f"no metric {name}")

    def stop(self) -> int:
        """SIGTERM, as Kubernetes stops the operator's pod; returns the exit code."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def logged(self, text: str, run: int | None = None) -> bool:
        path = self.log_dir / f"operator-{run or self.runs}.log"
        return text in path.read_text()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def handled(self, what: str, name: str) -> bool:
        """kopf's log says it processed ``what`` ("Resuming", "Creation") for Recording ``name``."""
        return any(
            line.get("message", "").startswith(f"{what} is processed")
            and (line.get("object") or {}).get("name") == name
            for line in self.log_lines()
        )

    def all_logs(self) -> str:
        return "\n".join(
            f"--- run {i}\n" + (self.log_dir / f"operator-{i}.log").read_text()
            for i in range(1, self.runs + 1)
        )


StartOperator = Callable[..., Operator]


def api_made(kube: Kube, record_id: str = "lecture-1", **spec: Any) -> str:
    """A Recording as the API makes it: derived name, vhost/app labels, creation time."""
    name = recording_name("default", "app", record_id)
    kube.create_recording(
        name, {**SPEC, "id": record_id, **spec},
        labels={"recording-operator.dev/vhost": "default", "recording-operator.dev/app": "app"},
        annotations={"recording-operator.dev/created-time": API_CREATED_TIME})
    return name


def pod_of(kube: Kube, name: str, timeout: float = 20) -> dict[str, Any]:
    return wait_for(lambda: kube.pod(name), timeout, f"the recorder pod of {name}")


def state_is(kube: Kube, name: str, state: str, timeout: float = 20) -> dict[str, Any]:
    """The status once its state is ``state``."""

    def reached() -> dict[str, Any] | None:
        status = kube.status(name)
        return status if status.get("state") == state else None

    return wait_for(reached, timeout,
                    f"{name} to reach state {state} (now {kube.status(name).get('state')})")


def event_seen(kube: Kube, name: str, reason: str, timeout: float = 20) -> dict[str, Any]:
    return wait_for(
        lambda: next((e for e in kube.events(name) if e["reason"] == reason), None),
        timeout, f"Event {reason} on {name} (have {kube.event_reasons(name)})")


def recorder_pods(kube: Kube, name: str) -> list[dict[str, Any]]:
    return [p for p in kube.pods()
            if p["metadata"]["labels"].get("recording-operator.dev/recording") == name]
