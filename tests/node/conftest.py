"""The node suite's cluster: one real node (tests/node/cluster.py) with the media side of the
kind suite (tests/deploy/kind/media.yaml: nginx-rtmp and a publisher as pods) and the chart
installed by Helm with ``persistence.enabled``, as users install it. Skips, with the reason, on a
machine that cannot run a node (not root, no containerd)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy import helm
from tests.deploy.kind.support import Kind
from tests.waiting import wait_for

from .cluster import Node, unavailable

HERE = Path(__file__).parent
KIND = helm.ROOT / "tests" / "deploy" / "kind"
RELEASE = "recording-operator"
NAMESPACE = "recording-operator"
STREAM = "e2e"


def chart_values() -> dict[str, Any]:
    """The kind suite's values (image loaded into the node, claim from StorageClass standard)."""
    values: dict[str, Any] = yaml.safe_load((KIND / "values.yaml").read_text())
    return values


class NodeCluster(Kind):
    """The scenarios' :class:`~tests.deploy.scenarios.Cluster` on the real node: kubectl as in
    the kind suite; the API through its Service's ClusterIP (kube-proxy's rules route it from
    this machine too); the files read where the claim's volume lives on the node."""

    def __init__(self, node: Node) -> None:
        super().__init__(str(node.kubeconfig), NAMESPACE, STREAM)
        self.node = node

    def api(self) -> httpx.Client:
        ip = self.must("get", "svc", "-n", self.namespace, f"{RELEASE}-api", "-o",
                       "jsonpath={.spec.clusterIP}")
        self.api_url = f"http://{ip}:8081/v1"
        return super().api()

    def volume(self) -> Path:
        """The node directory of the recordings claim's PersistentVolume."""
        volume = self.must("get", "pvc", "-n", self.namespace, f"{RELEASE}-recordings", "-o",
                           "jsonpath={.spec.volumeName}")
        return Path(self.must("get", "pv", volume, "-o", "jsonpath={.spec.local.path}"))

    def files(self) -> dict[str, int]:
        root = self.volume()
        return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
                if p.is_file()}

    def probe(self, name: str) -> str:
        done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                               "-of", "csv=p=0", str(self.volume() / name)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"ffprobe {name}: {done.stderr}"
        return done.stdout

    def recorder_pods(self) -> list[dict[str, Any]]:
        out = self.must("get", "pods", "-n", self.namespace, "-l",
                        "app.kubernetes.io/component=recorder", "-o", "json")
        pods: list[dict[str, Any]] = yaml.safe_load(out)["items"]
        return pods

    def running_recorder(self) -> dict[str, Any] | None:
        running = [p for p in self.recorder_pods()
                   if p["status"].get("phase") == "Running"
                   and p["metadata"].get("deletionTimestamp") is None]
        return running[0] if len(running) == 1 else None

    def rollout(self, namespace: str, deployment: str, timeout: int = 240) -> None:
        done = self.kubectl("rollout", "status", "-n", namespace, f"deployment/{deployment}",
                            f"--timeout={timeout}s")
        assert done.returncode == 0, f"{deployment}: {done.stderr}\n{self.explain()}"

    def explain(self) -> str:
        text = super().explain()
        done = self.kubectl("get", "pods", "-A", "-o", "wide")
        parts = [f"{text}\n--- all pods\n{done.stdout}"]
        for pod in self.recorder_pods():  # why a recorder ended (the kubelet keeps its log)
            name = pod["metadata"]["name"]
            logs = self.kubectl("logs", "-n", self.namespace, "--tail=20", name)
            parts.append(f"--- {name}\n{logs.stdout}{logs.stderr}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    # SIGTERM (a CI timeout, `kill`) becomes an interrupt, so pytest still runs this teardown
    # and the node's processes, containers, mounts and bridge do not outlive the run.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    started = Node.start(Path(tmp_path_factory.mktemp("node")))
    try:
        yield started
    finally:
        started.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def cluster(node: Node) -> Iterator[NodeCluster]:
    """The media server and publisher running, the chart installed and its Deployments
    available."""
    cluster = NodeCluster(node)
    node.plane.create_namespace("media")
    applied = cluster.kubectl("apply", "-n", "media", "-f", str(KIND / "media.yaml"))
    assert applied.returncode == 0, applied.stderr
    node.plane.create_namespace(NAMESPACE)
    helm.install(node.kubeconfig, NAMESPACE, RELEASE, chart_values())
    cluster.rollout("media", "media")
    cluster.rollout("media", "publisher")
    cluster.rollout(NAMESPACE, f"{RELEASE}-operator")
    cluster.rollout(NAMESPACE, f"{RELEASE}-api")
    # Ready pods behind the Service (EndpointSlices, kube-proxy's rules): the API answers.
    wait_for(lambda: _answers(cluster), 60, "the API to answer through its Service",
             cluster.explain)
    yield cluster


def _answers(cluster: NodeCluster) -> bool:
    try:
        with cluster.api() as api:
            return api.post("/vhosts/default/apps/app:records", json={}).status_code == 200
    except httpx.HTTPError:
        return False


def token(cluster: NodeCluster) -> str:
    return base64.b64decode(cluster.must(
        "get", "secret", "-n", NAMESPACE, f"{RELEASE}-api-token", "-o",
        "jsonpath={.data.token}")).decode()


#: Seconds the limits test records the 720p30 stream (300 for the figures in
#: docs/benchmarks.md: `RECORDING_OPERATOR_NODE_LIMITS_SECONDS=300 make e2e-node`).
LIMITS_SECONDS = int(os.environ.get("RECORDING_OPERATOR_NODE_LIMITS_SECONDS", "45"))
