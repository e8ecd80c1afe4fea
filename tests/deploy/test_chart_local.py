"""The chart's own Deployments run on the local virtual kubelet: the operator and the API start
from the rendered command, config volume, token Secret and ServiceAccount tokens (the chart's
RBAC, nothing more), and one real recording goes end to end through the installed API:
startRecord → Recording → recorder pod (made by the chart-run operator, under the chart's
recorder account) → files on the chart's claim → stopRecord.

Where this differs from a cluster: the kubelet runs the commands as local processes on the host
network (so the ports come from free ones), the claim is a directory, and images, security
contexts and resources are not enforced (the render tests check those)."""

from __future__ import annotations

import base64
import contextlib
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.local.kubelet import KubeletSettings, KubeletThread
from recording_operator.local.mediaserver import MediaServer
from recording_operator.ports import free_port
from tests.waiting import wait_for

from . import scenarios
from .helm import Release, install, uninstall
from .kube import delete_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.controlplane, pytest.mark.media,
              pytest.mark.timeout(240)]
KUBECTL = str(Path(sys.executable).parent / "kubectl")


class Installed:
    """The release, the kubelet running its pods, and the ports its processes listen on; a
    :class:`scenarios.Cluster`."""

    def __init__(self, plane: ControlPlane, release: Release, kubelet_data: Path,
                 ports: dict[str, int], stream: str) -> None:
        self.plane = plane
        self.release = release
        self.kubelet_data = kubelet_data
        self.ports = ports
        self.stream = stream
        self.namespace = release.namespace

    def api(self) -> httpx.Client:
        auth = base64.b64encode(self.token().encode()).decode()
        return httpx.Client(base_url=f"http://127.0.0.1:{self.ports['api']}/v1",
                            headers={"Authorization": f"Basic {auth}"}, timeout=10)

    def files(self) -> dict[str, int]:
        root = self.claim_dir()
        return {str(p.relative_to(root)): p.stat().st_size
                for p in root.rglob("*") if p.is_file()} if root.is_dir() else {}

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, f"--kubeconfig={self.plane.admin_kubeconfig}", *args],
                              input=stdin, capture_output=True, text=True, timeout=60)

    def operator_pods(self) -> list[str]:
        pods = self.plane.request(
            "GET", f"/api/v1/namespaces/{self.namespace}/pods?labelSelector="
            "app.kubernetes.io%2Fcomponent%3Doperator")["items"]
        return [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]

    def restart_operator(self) -> None:
        """(The operator-restart scenario runs on kind; the embedded e2e tests cover it here.)"""
        [old] = self.operator_pods()
        self.plane.request("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{old}")
        wait_for(lambda: (pods := self.operator_pods()) and old not in pods
                 and self.available("operator"), 60, "a new operator pod", self.explain)

    def logs(self) -> dict[str, str]:
        """Every container log the kubelet kept, by ``<pod>/<container>``."""
        out = {}
        for log in sorted((self.kubelet_data / "pods").glob(f"{self.namespace}_*/*.log")):
            pod = log.parent.name.split("_")[1]
            out[f"{pod}/{log.stem}"] = log.read_text(errors="replace")
        return out

    def explain(self) -> str:
        return "\n".join(f"--- {name}\n{text[-3000:]}" for name, text in self.logs().items())

    def available(self, component: str) -> bool:
        name = f"{self.release.fullname}-{component}"
        deployment = self.plane.request(
            "GET", f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{name}")
        status = deployment.get("status") or {}
        return bool(status.get("availableReplicas", 0) >= deployment["spec"]["replicas"]
                    and status.get("updatedReplicas", 0) >= deployment["spec"]["replicas"])

    def token(self) -> str:
        """As NOTES.txt tells: the Secret's ``token``, base64-decoded."""
        secret = self.release.one("Secret")["metadata"]["name"]
        data = self.plane.request(
            "GET", f"/api/v1/namespaces/{self.namespace}/secrets/{secret}")["data"]
        return base64.b64decode(data["token"]).decode()

    def claim_dir(self) -> Path:
        claim: str = self.release.one("PersistentVolumeClaim")["metadata"]["name"]
        return self.kubelet_data / "pvc" / self.namespace / claim


@pytest.fixture(scope="module")
def installed(controlplane: ControlPlane, rbac_rules: dict[str, list[dict[str, Any]]],
              media: tuple[MediaServer, str],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    server, stream = media
    namespace = f"chart-e2e-{secrets.token_hex(3)}"
    controlplane.create_namespace(namespace)
    ports = {"api": free_port(), "liveness": free_port(), "metrics": free_port()}
    values = {
        # On the host network of the local kubelet every replica would want the same port.
        "api": {"replicaCount": 1, "port": ports["api"],
                "readinessProbe": {"initialDelaySeconds": 0, "periodSeconds": 1}},
        "operator": {"livenessPort": ports["liveness"], "metrics": {"port": ports["metrics"]},
                     "logFormat": "plain", "restartBackoff": 1, "stopTimeout": 20,
                     "livenessProbe": {"initialDelaySeconds": 5, "periodSeconds": 5}},
        "persistence": {"enabled": True},
        "recorder": {"terminationGracePeriodSeconds": 10},
        "config": {"vhosts": {"default": {"apps": {"app": {
            "source": server.source_template()}}}}},
    }
    release = install(controlplane.admin_kubeconfig, namespace, "rec", values)
    kubelet_kubeconfig = controlplane.service_account_kubeconfig(
        "kube-system", f"kubelet-{namespace}", rbac_rules["kubelet"], cluster_wide=True)
    data = tmp_path_factory.mktemp("chart-kubelet")
    kubelet = KubeletThread(
        kubelet_kubeconfig, data, node_name=f"node-{namespace}", namespaces=[namespace],
        settings=KubeletSettings(base_env={"PYTHONUNBUFFERED": "1"}, backoff_initial=1.0,
                                 stop_grace=10.0)).start()
    state = Installed(controlplane, release, data, ports, stream)
    try:
        for component in ("operator", "api"):
            wait_for(lambda c=component: state.available(c), 90,  # type: ignore[misc]
                     f"the chart's {component} Deployment to be available", state.explain)
        yield state
    finally:
        uninstall(controlplane.admin_kubeconfig, namespace, "rec")
        kubelet.stop(timeout=60)
        pods = controlplane.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
        for pod in pods:
            with contextlib.suppress(AdminError):
                controlplane.request(
                    "DELETE", f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
                    {"gracePeriodSeconds": 0})
        delete_namespace(controlplane, namespace)


def test_chart_pods_serve_their_probe_and_metrics_endpoints(installed: Installed) -> None:
    with urllib.request.urlopen(
            f"http://127.0.0.1:{installed.ports['liveness']}/healthz", timeout=5) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(
            f"http://127.0.0.1:{installed.ports['metrics']}/metrics", timeout=5) as answer:
        assert b"# TYPE" in answer.read()
    with urllib.request.urlopen(
            f"http://127.0.0.1:{installed.ports['api']}/healthz", timeout=5) as answer:
        assert answer.status == 200
    pods = installed.plane.request(
        "GET", f"/api/v1/namespaces/{installed.namespace}/pods")["items"]
    accounts = {p["metadata"]["labels"].get("app.kubernetes.io/component"):
                p["spec"]["serviceAccountName"] for p in pods}
    assert accounts == {"operator": "rec-recording-operator-operator",
                        "api": "rec-recording-operator-api"}


def test_interval_recording_through_the_installed_api(installed: Installed) -> None:
    scenarios.interval_recording(installed, "chart-interval")
    logs = installed.logs()
    assert any(name.endswith("/recorder") for name in logs), f"no recorder ran: {sorted(logs)}"


def test_kubectl_made_recording(installed: Installed) -> None:
    scenarios.kubectl_recording(installed, "chart-kubectl")


def test_refusals(installed: Installed) -> None:
    scenarios.refusals(installed)


def test_no_component_met_a_forbidden_call(installed: Installed) -> None:
    """Runs last in this module: every container log so far is free of RBAC refusals (a
    refused call that a component survived would otherwise go unnoticed)."""
    logs = installed.logs()
    assert {name.rsplit("/", 1)[1] for name in logs} >= {"operator", "api", "recorder"}
    for name, text in logs.items():
        # (Kubernetes clients word a 403 as "Forbidden"; a bare 403 would also match the
        # milliseconds of a log timestamp.)
        assert "forbidden" not in text.lower(), (
            f"{name} met a call its RBAC does not allow:\n{text[-3000:]}")
