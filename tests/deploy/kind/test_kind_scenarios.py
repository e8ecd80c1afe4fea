"""The end-to-end scenarios on a real cluster (kind): the image built from the Dockerfile, the
chart installed by Helm, an nginx-rtmp server and a publisher in the cluster, the API reached
through `kubectl port-forward`, files read from the chart's claim by an inspector pod.

Run by tools/e2e-kind.sh (`make e2e-kind`), which makes the cluster and sets the environment
below; elsewhere every test here skips."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recording_operator.ports import free_port
from tests.deploy import scenarios
from tests.waiting import wait_for

ENV_KUBECONFIG = "RECORDING_OPERATOR_KIND_KUBECONFIG"
pytestmark = [
    pytest.mark.kind,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not os.environ.get(ENV_KUBECONFIG),
        reason="needs the kind cluster made by tools/e2e-kind.sh (run `make e2e-kind`)"),
]
RELEASE = "recording-operator"


def _kubectl_binary() -> str:
    own = Path(sys.executable).parent / "kubectl"
    return str(own) if own.exists() else "kubectl"


class Kind:
    """A :class:`scenarios.Cluster` on the e2e-kind cluster."""

    def __init__(self, kubeconfig: str, namespace: str, stream: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.stream = stream
        self.api_url = ""

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_kubectl_binary(), f"--kubeconfig={self.kubeconfig}", *args],
                              input=stdin, capture_output=True, text=True, timeout=180)

    def must(self, *args: str) -> str:
        done = self.kubectl(*args)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def token(self) -> str:
        encoded = self.must("get", "secret", "-n", self.namespace, f"{RELEASE}-api-token",
                            "-o", "jsonpath={.data.token}")
        return base64.b64decode(encoded).decode()

    def api(self) -> httpx.Client:
        auth = base64.b64encode(self.token().encode()).decode()
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Basic {auth}"},
                            timeout=10)

    def files(self) -> dict[str, int]:
        out = self.must("exec", "-n", self.namespace, "inspector", "--",
                        "find", "/recordings", "-type", "f", "-printf", "%P %s\\n")
        return {name: int(size) for name, size in
                (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())}

    def probe(self, name: str) -> str:
        """ffprobe's view of a recorded file: its streams' codec names."""
        return self.must("exec", "-n", self.namespace, "inspector", "--", "ffprobe", "-v",
                         "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                         f"/recordings/{name}")

    def restart_operator(self) -> None:
        selector = "app.kubernetes.io/component=operator"
        old = self.must("get", "pods", "-n", self.namespace, "-l", selector, "-o",
                        "jsonpath={.items[*].metadata.name}").split()
        self.must("delete", "pod", "-n", self.namespace, "--wait=true", "-l", selector)

        def replaced() -> bool:
            out = self.must("get", "pods", "-n", self.namespace, "-l", selector, "-o",
                            "jsonpath={range .items[*]}{.metadata.name} "
                            "{.status.containerStatuses[0].ready}{\"\\n\"}{end}")
            pods = [line.split() for line in out.splitlines() if line.strip()]
            return len(pods) == 1 and pods[0][0] not in old and pods[0][1:] == ["true"]

        wait_for(replaced, 180, "the new operator pod to be ready", self.explain)

    def explain(self) -> str:
        parts = []
        for component in ("operator", "api"):
            done = self.kubectl("logs", "-n", self.namespace, "--tail=60",
                                f"deployment/{RELEASE}-{component}")
            parts.append(f"--- {component}\n{done.stdout}{done.stderr}")
        done = self.kubectl("get", "rec,pods", "-n", self.namespace, "-o", "wide")
        parts.append(f"--- objects\n{done.stdout}{done.stderr}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def kind() -> Iterator[Kind]:
    cluster = Kind(os.environ[ENV_KUBECONFIG],
                   os.environ.get("RECORDING_OPERATOR_KIND_NAMESPACE", "recording-operator"),
                   os.environ.get("RECORDING_OPERATOR_KIND_STREAM", "e2e"))
    port = free_port()
    forward = subprocess.Popen(
        [_kubectl_binary(), f"--kubeconfig={cluster.kubeconfig}", "port-forward", "-n",
         cluster.namespace, f"svc/{RELEASE}-api", f"{port}:8081", "--address=127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert forward.poll() is None, f"port-forward ended: {forward.communicate()[1]}"
            assert time.monotonic() < deadline, "port-forward did not open in 60 s"
            time.sleep(0.5)
        cluster.api_url = f"http://127.0.0.1:{port}/v1"
        yield cluster
    finally:
        forward.terminate()
        forward.wait(10)


def test_interval_recording(kind: Kind) -> None:
    scenarios.interval_recording(kind, "kind-interval")
    media = [n for n in kind.files() if n.endswith(".ts")]
    assert media
    codecs = sorted(kind.probe(sorted(media)[0]).split())
    assert codecs == ["aac", "h264"], codecs  # remuxed, not transcoded


def test_schedule_split(kind: Kind) -> None:
    scenarios.schedule_split(kind, "kind-schedule")


def test_kubectl_made_recording(kind: Kind) -> None:
    scenarios.kubectl_recording(kind, "kind-kubectl")


def test_operator_restart(kind: Kind) -> None:
    scenarios.operator_restart(kind, "kind-restart")


def test_refusals(kind: Kind) -> None:
    scenarios.refusals(kind)


def test_chart_pods_never_restarted(kind: Kind) -> None:
    """The operator and the API ran through every scenario under the chart's ServiceAccounts
    without a restart (a refused call or a failing probe would show here)."""
    pods = kind.must("get", "pods", "-n", kind.namespace, "-l",
                     f"app.kubernetes.io/instance={RELEASE}", "-o",
                     "jsonpath={range .items[*]}{.metadata.name} "
                     "{.status.containerStatuses[0].restartCount}{\"\\n\"}{end}")
    for line in pods.splitlines():
        name, restarts = line.split()
        assert restarts == "0", f"{name} restarted {restarts} times:\n{kind.explain()}"
    logs = kind.kubectl("logs", "-n", kind.namespace, f"deployment/{RELEASE}-operator")
    assert "forbidden" not in logs.stdout.lower(), logs.stdout[-3000:]
