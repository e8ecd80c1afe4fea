"""Fixtures of the deployment tests: the chart's release namespaces on the local control plane."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, make_clip

from .kube import delete_namespace, wait_namespace_gone

SERVICE_MONITOR_CRD = {
    # A stand-in for the Prometheus Operator's CRD (not ours to ship): enough for the API
    # server to accept the chart's ServiceMonitor.
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                  "plural": "servicemonitors", "singular": "servicemonitor"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


@pytest.fixture
def new_namespace(controlplane: ControlPlane) -> Iterator[Callable[[str], str]]:
    """Makes namespaces (a random suffix unless ``exact``) and deletes them after the test."""
    made: list[str] = []

    def make(prefix: str = "rel", exact: bool = False) -> str:
        name = prefix if exact else f"{prefix}-{secrets.token_hex(3)}"
        if exact:  # an earlier test's namespace of that name may still be terminating
            delete_namespace(controlplane, name)
            wait_namespace_gone(controlplane, name)
        controlplane.create_namespace(name)
        made.append(name)
        return name

    yield make
    for name in made:
        delete_namespace(controlplane, name)


@pytest.fixture(scope="session")
def service_monitor_crd(controlplane: ControlPlane) -> None:
    controlplane.apply(SERVICE_MONITOR_CRD)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = controlplane.request(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
            "servicemonitors.monitoring.coreos.com")
        if any(c["type"] == "Established" and c["status"] == "True"
               for c in (crd.get("status") or {}).get("conditions") or []):
            return
        time.sleep(0.1)
    raise AssertionError("the ServiceMonitor CRD did not become Established")


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MediaServer, str]]:
    """nginx-rtmp with a looping H.264+AAC clip published as app/<stream>."""
    work = tmp_path_factory.mktemp("chart-media")
    clip = make_clip(work / "clip.mp4", seconds=4, fps=25, gop_frames=25)
    stream = f"chart{secrets.token_hex(3)}"
    with MediaServer.start(apps=["app"], workdir=work / "nginx") as server:
        publisher = Publisher.clip(clip, server.rtmp_url("app", stream)).start()
        try:
            server.wait_live("app", stream, timeout=20)
            yield server, stream
        finally:
            publisher.stop()
