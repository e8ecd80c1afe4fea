"""How pods end: deletion (SIGTERM, grace, SIGKILL, then the Pod leaves the API), the runner
stopping, and a runner starting where an earlier one left pods behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletThread
from tests.waiting import wait_for

from .conftest import FAST, force_delete_pods
from .support import (
    WAIT_FOR_GATE,
    alive,
    condition,
    container,
    container_status,
    gate_env,
    get_pod,
    make_pod,
    pid_of,
    wait_gone,
    wait_phase,
)

pytestmark = pytest.mark.controlplane

TRAP_TERM = """
    import os, signal, sys, time
    def on_term(signum, frame):
        open(os.environ["MARKER"], "w").write("SIGTERM")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
""" + WAIT_FOR_GATE

IGNORE_TERM = """
    import os, signal, subprocess, sys
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A grandchild in the same process group, as stubborn as its parent.
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    open(os.environ["CHILD"], "w").write(str(child.pid))
""" + WAIT_FOR_GATE


def delete(plane: ControlPlane, namespace: str, name: str, grace: int) -> None:
    plane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}",
                  {"gracePeriodSeconds": grace})


def test_deletion_sends_sigterm_and_removes_the_pod(controlplane: ControlPlane, namespace: str,
                                                    kubelet: KubeletThread, tmp_path: Path,
                                                    data_dir: Path) -> None:
    marker = tmp_path / "marker"
    env = [*gate_env(tmp_path), {"name": "MARKER", "value": str(marker)}]
    make_pod(controlplane, namespace, "polite", [container(TRAP_TERM, env=env)],
             volumes=[{"name": "scratch", "emptyDir": {}}], terminationGracePeriodSeconds=30)
    pod = wait_phase(controlplane, namespace, "polite", "Running")
    uid = pod["metadata"]["uid"]
    wait_for(lambda: (tmp_path / "started").exists(), 10, "the handler to be installed")

    started = time.monotonic()
    delete(controlplane, namespace, "polite", grace=20)
    wait_gone(controlplane, namespace, "polite")
    assert time.monotonic() - started < 10, "the runner waited out the grace period"
    assert marker.read_text() == "SIGTERM"
    assert not (data_dir / "pods" / uid).exists(), "the pod's volumes outlived it"
    assert (data_dir / "pods" / f"{namespace}_polite_{uid}" / "main.log").exists()


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(
        controlplane: ControlPlane, namespace: str, kubelet: KubeletThread,
        tmp_path: Path) -> None:
    env = [*gate_env(tmp_path), {"name": "CHILD", "value": str(tmp_path / "child")}]
    make_pod(controlplane, namespace, "stubborn", [container(IGNORE_TERM, env=env)])
    pod = wait_phase(controlplane, namespace, "stubborn", "Running")
    wait_for(lambda: (tmp_path / "started").exists(), 10, "the process to start")
    pids = [pid_of(pod), int((tmp_path / "child").read_text())]
    assert all(alive(pid) for pid in pids)

    started = time.monotonic()
    delete(controlplane, namespace, "stubborn", grace=2)
    wait_gone(controlplane, namespace, "stubborn")
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 8, elapsed
    wait_for(lambda: not any(alive(pid) for pid in pids), 5, "the processes to be gone")


def test_stop_ends_every_process_and_marks_the_node_not_ready(
        controlplane: ControlPlane, namespace: str, kubelet_kubeconfig: Path,
        tmp_path: Path) -> None:
    node = f"stop-{namespace}"
    runner = KubeletThread(kubelet_kubeconfig, tmp_path / "data", node_name=node,
                           namespaces=[namespace], settings=FAST).start()
    try:
        polite_dir, stubborn_dir = tmp_path / "polite", tmp_path / "stubborn"
        polite_dir.mkdir()
        stubborn_dir.mkdir()
        make_pod(controlplane, namespace, "polite",
                 [container(TRAP_TERM, env=[*gate_env(polite_dir),
                                            {"name": "MARKER", "value": str(tmp_path / "m")}])],
                 restartPolicy="Never")
        make_pod(controlplane, namespace, "stubborn",
                 [container(IGNORE_TERM, env=[*gate_env(stubborn_dir),
                                              {"name": "CHILD",
                                               "value": str(tmp_path / "child")}])],
                 restartPolicy="Always", terminationGracePeriodSeconds=1)
        pods = [wait_phase(controlplane, namespace, name, "Running")
                for name in ("polite", "stubborn")]
        for directory in (polite_dir, stubborn_dir):
            wait_for((directory / "started").exists, 10, "both processes")
        pids = [pid_of(p) for p in pods] + [int((tmp_path / "child").read_text())]
        assert sorted(runner.pids) == sorted(pids[:2])
    finally:
        runner.stop(timeout=30)
    try:
        assert not [pid for pid in pids if alive(pid)]
        polite = get_pod(controlplane, namespace, "polite")
        stubborn = get_pod(controlplane, namespace, "stubborn")
        assert polite and stubborn
        assert polite["status"]["phase"] == "Succeeded"
        assert stubborn["status"]["phase"] == "Failed"
        assert stubborn["status"]["reason"] == "Terminated"
        killed = container_status(stubborn)["state"]["terminated"]
        assert (killed["exitCode"], killed.get("signal")) == (137, 9)
        status = controlplane.request("GET", f"/api/v1/nodes/{node}")["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"
    finally:
        force_delete_pods(controlplane, namespace)


def test_a_new_runner_adopts_nothing_stale(controlplane: ControlPlane, namespace: str,
                                           kubelet_kubeconfig: Path, tmp_path: Path) -> None:
    """Pods an earlier runner had running: their processes are gone; Never fails them,
    OnFailure runs them again."""
    node = f"adopt-{namespace}"
    for name, policy in (("never", "Never"), ("again", "OnFailure")):
        make_pod(controlplane, namespace, name, [container("pass")], nodeName=node,
                 restartPolicy=policy)
        controlplane.request(
            "PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            {"status": {"phase": "Running", "containerStatuses": [{
                "name": "main", "image": "local", "imageID": "", "ready": True,
                "restartCount": 0, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
            }]}}, content_type="application/merge-patch+json")
    with KubeletThread(kubelet_kubeconfig, tmp_path / "data", node_name=node,
                       namespaces=[namespace], settings=FAST):
        never = wait_phase(controlplane, namespace, "never", "Failed", "Succeeded")
        again = wait_phase(controlplane, namespace, "again", "Succeeded", "Failed")
    try:
        lost = container_status(never)["state"]["terminated"]
        assert (never["status"]["phase"], lost["reason"], lost["exitCode"]) == (
            "Failed", "ContainerStatusUnknown", 137)
        assert again["status"]["phase"] == "Succeeded"
        rerun = container_status(again)
        assert rerun["restartCount"] == 1
        assert rerun["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    finally:
        force_delete_pods(controlplane, namespace)


def test_a_force_deleted_pod_is_stopped_and_its_name_reused(
        controlplane: ControlPlane, namespace: str, kubelet: KubeletThread,
        tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    env = [*gate_env(first), {"name": "MARKER", "value": str(first / "marker")}]
    old = make_pod(controlplane, namespace, "reused", [container(TRAP_TERM, env=env)])
    wait_phase(controlplane, namespace, "reused", "Running")
    wait_for(lambda: (first / "started").exists(), 10, "the first process")

    delete(controlplane, namespace, "reused", grace=0)  # gone from the API at once
    make_pod(controlplane, namespace, "reused", [container("pass")], restartPolicy="Never")
    wait_for(lambda: (first / "marker").exists(), 10, "SIGTERM to the first pod's process")
    new = wait_phase(controlplane, namespace, "reused", "Succeeded", "Failed")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["status"]["phase"] == "Succeeded"


def test_the_node_is_registered_with_a_heartbeat(controlplane: ControlPlane,
                                                 kubelet: KubeletThread,
                                                 kubelet_kubeconfig: Path, node_name: str,
                                                 data_dir: Path) -> None:
    node = controlplane.request("GET", f"/api/v1/nodes/{node_name}")
    assert condition(node, "Ready") == "True"
    assert int(node["status"]["allocatable"]["cpu"]) >= 1
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == node_name
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    lease = controlplane.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node_name}")
    assert lease["spec"]["holderIdentity"] == node_name
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

    # A runner taking over an existing node (and its lease) marks it Ready again.
    kubelet.stop(timeout=30)
    node = controlplane.request("GET", f"/api/v1/nodes/{node_name}")
    assert condition(node, "Ready") == "False"
    with KubeletThread(kubelet_kubeconfig, data_dir, node_name=node_name, settings=FAST):
        node = controlplane.request("GET", f"/api/v1/nodes/{node_name}")
        assert condition(node, "Ready") == "True"
        renewed = controlplane.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node_name}")
        assert renewed["spec"]["renewTime"] >= lease["spec"]["renewTime"]
        assert renewed["metadata"]["resourceVersion"] != lease["metadata"]["resourceVersion"]
