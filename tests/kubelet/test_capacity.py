"""The node holds what the machine holds: pods are bound only while their requests fit, the
rest wait Pending with the scheduler's reason, and start as room frees."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletSettings, KubeletThread
from recording_operator.local.kubelet.capacity import (
    EVICTION_RESERVE,
    Admission,
    Resources,
    pod_requests,
    quantity,
)
from tests.kubelet.conftest import FAST, serving
from tests.kubelet.support import container, get_pod, make_pod, wait_gone, wait_phase
from tests.waiting import wait_for

SLEEP = "import time; time.sleep(600)"


def requesting(cpu: str, memory: str = "10Mi") -> dict[str, Any]:
    return container(SLEEP, resources={"requests": {"cpu": cpu, "memory": memory}})


def test_quantities() -> None:
    assert quantity("100m") * 1000 == 100
    assert quantity("1.5") == pytest.approx(1.5)
    assert quantity("128Mi") == 128 * 2**20
    assert quantity("1G") == 10**9
    assert quantity("1e3") == 1000
    with pytest.raises(ValueError, match="quantity"):
        quantity("12 apples")


def test_requests_are_counted_as_the_scheduler_counts_them() -> None:
    pod = {"spec": {
        "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
                       {"resources": {"limits": {"cpu": "200m"}}}],  # limits only: requests them
        "initContainers": [{"resources": {"requests": {"memory": "1Gi"}}}]}}
    assert pod_requests(pod) == Resources(cpu=300, memory=2**30)


def test_admission_names_every_shortage() -> None:
    admission = Admission({"cpu": "1", "memory": "1Gi", "pods": "1"})
    first = {"metadata": {"uid": "a"}, "spec": {"containers": [
        {"resources": {"requests": {"cpu": "800m", "memory": "600Mi"}}}]}}
    assert admission.why_not(first) is None
    admission.hold(first)
    second = {"metadata": {"uid": "b"}, "spec": first["spec"]}
    assert admission.why_not(second) == (
        "0/1 nodes are available: 1 Too many pods, 1 Insufficient cpu, 1 Insufficient memory.")
    assert admission.release("a")
    assert admission.why_not(second) is None


@pytest.fixture
def small_node(controlplane: ControlPlane, kubelet_kubeconfig: Path, namespace: str,
               node_name: str, data_dir: Path) -> Iterator[KubeletThread]:
    """A runner whose node has 1 CPU, 1 GiB and room for 3 pods."""
    settings = KubeletSettings(**{**FAST.__dict__,
                                  "capacity": {"cpu": "1", "memory": "1124Mi", "pods": "3"}})
    with serving(controlplane, kubelet_kubeconfig, namespace, node_name, data_dir,
                 settings) as runner:
        yield runner


@pytest.mark.controlplane
def test_the_node_advertises_the_machine(controlplane: ControlPlane, kubelet: KubeletThread,
                                         node_name: str) -> None:
    node = controlplane.request("GET", f"/api/v1/nodes/{node_name}")
    allocatable = node["status"]["allocatable"]
    assert allocatable["pods"] == "110"
    assert quantity(allocatable["cpu"]) == len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as meminfo:
        total = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    assert quantity(allocatable["memory"]) == total * 1024 - EVICTION_RESERVE


@pytest.mark.controlplane
def test_pods_beyond_the_cpu_wait_pending_and_start_when_room_frees(
        controlplane: ControlPlane, namespace: str, small_node: KubeletThread) -> None:
    for name in ("a", "b"):
        make_pod(controlplane, namespace, name, [requesting("400m")])
        wait_phase(controlplane, namespace, name, "Running")
    make_pod(controlplane, namespace, "c", [requesting("400m")])

    def told() -> dict[str, Any] | None:
        pod = get_pod(controlplane, namespace, "c")
        conditions = {c["type"]: c for c in (pod or {}).get("status", {}).get("conditions", [])}
        return conditions.get("PodScheduled")

    condition = wait_for(told, 10, "pod c told why it waits")
    assert condition["status"] == "False"
    assert condition["reason"] == "Unschedulable"
    assert "Insufficient cpu" in condition["message"]
    pod = get_pod(controlplane, namespace, "c")
    assert pod is not None and pod["status"]["phase"] == "Pending"
    assert not pod["spec"].get("nodeName")
    events = controlplane.request(
        "GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name=c")
    assert any(e["reason"] == "FailedScheduling" and "Insufficient cpu" in e["message"]
               for e in events["items"])

    controlplane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/a")
    wait_gone(controlplane, namespace, "a", timeout=20)
    wait_phase(controlplane, namespace, "c", "Running", timeout=15)


@pytest.mark.controlplane
def test_the_pod_limit_holds_too(controlplane: ControlPlane, namespace: str,
                                 small_node: KubeletThread) -> None:
    for name in ("p1", "p2", "p3", "p4"):
        make_pod(controlplane, namespace, name, [requesting("10m")])
    for name in ("p1", "p2", "p3"):
        wait_phase(controlplane, namespace, name, "Running")

    def reason() -> str | None:
        pod = get_pod(controlplane, namespace, "p4") or {}
        for condition in pod.get("status", {}).get("conditions", []):
            if condition["type"] == "PodScheduled" and condition["status"] == "False":
                return str(condition["message"])
        return None

    assert "Too many pods" in wait_for(reason, 10, "p4 told it waits")
    controlplane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/p2")
    wait_phase(controlplane, namespace, "p4", "Running", timeout=20)
