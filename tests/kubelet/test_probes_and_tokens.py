"""Readiness and liveness probes, and token refresh."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletThread
from recording_operator.ports import free_port
from tests.waiting import wait_for

from .conftest import FAST, force_delete_pods
from .support import (
    Obj,
    condition,
    container,
    container_status,
    get_pod,
    make_pod,
    wait_phase,
)

pytestmark = pytest.mark.controlplane


SERVE_LATER = """
    import http.server, os, time
    while not os.path.exists(os.environ["GATE"]):
        time.sleep(0.02)
    http.server.ThreadingHTTPServer(
        ("127.0.0.1", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler
    ).serve_forever()
"""


def test_readiness_follows_an_http_probe(controlplane: ControlPlane, namespace: str,
                                         kubelet: KubeletThread, tmp_path: Path) -> None:
    port = free_port()
    probe = {"httpGet": {"path": "/", "port": "web"}, "periodSeconds": 1}
    make_pod(controlplane, namespace, "web", [container(
        SERVE_LATER, ports=[{"name": "web", "containerPort": port}], readinessProbe=probe,
        env=[{"name": "GATE", "value": str(tmp_path / "gate")},
             {"name": "PORT", "value": str(port)}])])
    running = wait_phase(controlplane, namespace, "web", "Running")
    assert container_status(running)["ready"] is False
    assert condition(running, "Ready") == "False"

    (tmp_path / "gate").touch()
    wait_for(lambda: (p := get_pod(controlplane, namespace, "web"))
             and condition(p, "Ready") == "True", 10, "the pod to turn Ready")


def test_a_failing_liveness_probe_restarts_the_container(
        controlplane: ControlPlane, namespace: str, kubelet: KubeletThread) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}
    make_pod(controlplane, namespace, "dead",
             [container("import time; time.sleep(60)", livenessProbe=probe)],
             terminationGracePeriodSeconds=1)

    def restarted() -> Obj | None:
        pod = get_pod(controlplane, namespace, "dead")
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
        return pod if statuses and statuses[0]["restartCount"] >= 1 else None

    pod = wait_for(restarted, 15, "a restart after the liveness probe failed")
    last = container_status(pod)["lastState"]["terminated"]
    assert "liveness" in last["message"]


def test_tokens_are_refreshed_before_they_expire(controlplane: ControlPlane, namespace: str,
                                                 kubelet_kubeconfig: Path,
                                                 tmp_path: Path) -> None:
    # 0.05% of the 3607 s lifetime asked for: a refresh about every 2 s.
    settings = replace(FAST, token_refresh_fraction=0.0005)
    data = tmp_path / "data"
    with KubeletThread(kubelet_kubeconfig, data, node_name=f"tok-{namespace}",
                       namespaces=[namespace], settings=settings):
        make_pod(controlplane, namespace, "long", [container("import time; time.sleep(60)")])
        pod = wait_phase(controlplane, namespace, "long", "Running")
        token = data / "pods" / pod["metadata"]["uid"] / "serviceaccount" / "token"
        kubeconfig = token.parent / "kubeconfig"
        wait_for(token.exists, 10, "the token file")
        first = token.read_text()
        wait_for(lambda: token.read_text() != first, 10, "a new token")
        wait_for(lambda: token.read_text() in kubeconfig.read_text(), 5,
                 "the kubeconfig to hold the new token")
    force_delete_pods(controlplane, namespace)
