"""Fixtures of the deployment tests: the chart's release namespaces on the local control plane."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, make_clip

from .kube import add_prometheus_operator_crd, delete_namespace, wait_namespace_gone


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
    add_prometheus_operator_crd(controlplane, "ServiceMonitor")


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
