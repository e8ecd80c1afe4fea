"""The end-to-end scenarios on a real cluster (kind): the image built from the Dockerfile, the
chart installed by Helm, an nginx-rtmp server and a publisher in the cluster, the API reached
through `kubectl port-forward`, files read from the chart's claim by an inspector pod.

Run by tools/e2e-kind.sh (`make e2e-kind`), which makes the cluster and sets the environment
below; elsewhere every test here skips."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from recording_operator.ports import free_port
from tests.deploy import scenarios

from .support import RELEASE, Kind, kubectl_binary

ENV_KUBECONFIG = "RECORDING_OPERATOR_KIND_KUBECONFIG"
pytestmark = [
    pytest.mark.kind,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not os.environ.get(ENV_KUBECONFIG),
        reason="needs the kind cluster made by tools/e2e-kind.sh (run `make e2e-kind`)"),
]


@pytest.fixture(scope="module")
def kind() -> Iterator[Kind]:
    cluster = Kind(os.environ[ENV_KUBECONFIG],
                   os.environ.get("RECORDING_OPERATOR_KIND_NAMESPACE", "recording-operator"),
                   os.environ.get("RECORDING_OPERATOR_KIND_STREAM", "e2e"))
    port = free_port()
    forward = subprocess.Popen(
        [kubectl_binary(), f"--kubeconfig={cluster.kubeconfig}", "port-forward", "-n",
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
