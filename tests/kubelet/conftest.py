"""The local kubelet against the real local control plane, under its own ServiceAccount bound
to the chart's ``kubelet`` rules: a call those rules do not allow fails the test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.local.kubelet import KubeletSettings, KubeletThread

pytestmark = pytest.mark.controlplane

#: Short waits so restarts and retries show within a test's few seconds.
FAST = KubeletSettings(backoff_initial=0.1, backoff_max=0.4, config_retry_initial=0.1,
                       config_retry_max=0.5, stop_grace=5.0)


@pytest.fixture(scope="session")
def kubelet_kubeconfig(controlplane: ControlPlane,
                       rbac_rules: dict[str, list[dict[str, Any]]]) -> Path:
    return controlplane.service_account_kubeconfig(
        "kube-system", "local-kubelet", rbac_rules["kubelet"], cluster_wide=True)


@pytest.fixture
def node_name(namespace: str) -> str:
    return f"node-{namespace}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def kubelet(controlplane: ControlPlane, kubelet_kubeconfig: Path, namespace: str,
            node_name: str, data_dir: Path) -> Iterator[KubeletThread]:
    """A runner serving only this test's namespace, on its own node."""
    with serving(controlplane, kubelet_kubeconfig, namespace, node_name, data_dir) as runner:
        yield runner


@contextlib.contextmanager
def serving(controlplane: ControlPlane, kubeconfig: Path, namespace: str, node_name: str,
            data_dir: Path, settings: KubeletSettings = FAST) -> Iterator[KubeletThread]:
    """A runner serving only ``namespace``, on its own node; then stopped, and the namespace's
    pods force-deleted."""
    runner = KubeletThread(kubeconfig, data_dir, node_name=node_name, namespaces=[namespace],
                           settings=settings).start()
    try:
        yield runner
    finally:
        runner.stop(timeout=30)
        force_delete_pods(controlplane, namespace)


def force_delete_pods(plane: ControlPlane, namespace: str) -> None:
    """Pods left on a node nobody serves would hold their namespace in Terminating."""
    pods = plane.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    for pod in pods:
        with contextlib.suppress(AdminError):
            plane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/"
                          f"{pod['metadata']['name']}", {"gracePeriodSeconds": 0})
