"""The chart's image under a real kubelet and containerd: the kind suite's scenarios
(tests/deploy/scenarios.py) on the one-node cluster, and what only a real node shows: the
recordings' owner on the claim (fsGroup), a recorder killed by SIGKILL or stopped by the
container runtime, the operator pod deleted and the release upgraded mid-recording, and
``helm uninstall``. The module's tests share one cluster and run in order; uninstall is last."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx
import pytest

from tests.deploy import helm, scenarios
from tests.deploy.scenarios import APP, recording_with, stop_and_wait_gone, task
from tests.waiting import wait_for

from .conftest import NAMESPACE, RELEASE, NodeCluster, chart_values

pytestmark = [pytest.mark.e2e, pytest.mark.node, pytest.mark.timeout(900)]
RECORDER_UID = 10001


def start(api: httpx.Client, cluster: NodeCluster, record_id: str) -> dict[str, Any]:
    """startRecord with 2 s files; the task once it has finished its first file."""
    started = api.post(f"{APP}:startRecord", json={
        "id": record_id, "stream": {"name": cluster.stream}, "interval": 2000})
    assert started.status_code == 200, started.text
    return wait_for(recording_with(api, record_id, lambda t: t.get("sequence", 0) >= 1), 120,
                    f"{record_id} to record its first file", cluster.explain)


def codecs(cluster: NodeCluster, name: str) -> list[str]:
    return sorted(set(cluster.probe(name).split()))


def test_interval_recording_owned_by_the_recorder_and_playable(cluster: NodeCluster) -> None:
    scenarios.interval_recording(cluster, "node-interval")
    root = cluster.volume()
    media = sorted(n for n in cluster.files() if n.endswith(".ts"))
    assert media
    for name in media:
        stat = (root / name).stat()
        # The recorder's uid, and the claim's group from the pod's fsGroup.
        assert (stat.st_uid, stat.st_gid) == (RECORDER_UID, RECORDER_UID), name
    assert codecs(cluster, media[0]) == ["aac", "h264"]  # remuxed, not transcoded


def test_schedule_split(cluster: NodeCluster) -> None:
    scenarios.schedule_split(cluster, "node-schedule")


def test_kubectl_made_recording(cluster: NodeCluster) -> None:
    scenarios.kubectl_recording(cluster, "node-kubectl")


def test_refusals(cluster: NodeCluster) -> None:
    scenarios.refusals(cluster)


def _killed_recorder_resumes(cluster: NodeCluster, record_id: str, kill: Any) -> None:
    """Kills the running recorder with ``kill(pod)``; the operator replaces the pod, the
    recording goes on with the next sequence, and every file written so far plays."""
    with cluster.api() as api:
        before = start(api, cluster, record_id)
        pod = wait_for(cluster.running_recorder, 60, "the recorder pod to run", cluster.explain)
        kill(pod)
        old_uid = pod["metadata"]["uid"]
        wait_for(lambda: (p := cluster.running_recorder()) is not None
                 and p["metadata"]["uid"] != old_uid, 120,
                 "a new recorder pod to run", cluster.explain)
        wait_for(recording_with(api, record_id,
                                lambda t: t.get("sequence", 0) > before["sequence"] + 1),
                 120, "the recording to go on after the kill", cluster.explain)
        stop_and_wait_gone(cluster, api, record_id)
    for name in (n for n, size in cluster.files().items() if n.endswith(".ts") and size):
        assert "h264" in codecs(cluster, name), name


def test_recorder_sigkill(cluster: NodeCluster) -> None:
    """SIGKILL to the recorder's process on the node: no chance to finish its file."""
    def kill(pod: dict[str, Any]) -> None:
        os.kill(cluster.node.container_pid(pod["metadata"]["name"], NAMESPACE), signal.SIGKILL)

    _killed_recorder_resumes(cluster, "node-sigkill", kill)


def test_recorder_stopped_by_the_runtime(cluster: NodeCluster) -> None:
    """`crictl stop` on the node: the runtime's SIGTERM, then the container is gone."""
    def stop(pod: dict[str, Any]) -> None:
        cluster.node.crictl("stop", cluster.node.container_id(pod["metadata"]["name"],
                                                              NAMESPACE))

    _killed_recorder_resumes(cluster, "node-crictl", stop)


def test_operator_pod_deleted_mid_recording(cluster: NodeCluster) -> None:
    scenarios.operator_restart(cluster, "node-restart")


def test_helm_upgrade_during_a_recording(cluster: NodeCluster) -> None:
    """``helm upgrade`` that rolls the operator and the API while a recording runs: the
    recording goes on and still stops cleanly."""
    with cluster.api() as api:
        before = start(api, cluster, "node-upgrade")
        values = helm.deep_merge(chart_values(), {
            "operator": {"restartBackoff": 3},
            "api": {"podAnnotations": {"recording-operator.test/upgrade": "1"}}})
        upgraded = helm.upgrade(cluster.node.kubeconfig, NAMESPACE, RELEASE, values)
        assert upgraded.status == "deployed"
        cluster.rollout(NAMESPACE, f"{RELEASE}-operator")
        cluster.rollout(NAMESPACE, f"{RELEASE}-api")
    with cluster.api() as api:
        wait_for(recording_with(api, "node-upgrade",
                                lambda t: t.get("sequence", 0) > before["sequence"] + 1),
                 120, "the recording to go on after the upgrade", cluster.explain)
        stop_and_wait_gone(cluster, api, "node-upgrade")


def test_chart_pods_never_restarted(cluster: NodeCluster) -> None:
    pods = cluster.must("get", "pods", "-n", NAMESPACE, "-l",
                        f"app.kubernetes.io/instance={RELEASE}", "-o",
                        "jsonpath={range .items[*]}{.metadata.name} "
                        "{.status.containerStatuses[0].restartCount}{\"\\n\"}{end}")
    for line in pods.splitlines():
        name, restarts = line.split()
        assert restarts == "0", f"{name} restarted {restarts} times:\n{cluster.explain()}"


def test_helm_uninstall(cluster: NodeCluster) -> None:
    """Last: ``helm uninstall`` removes the release's workloads from the node; the recordings
    stay on their volume."""
    files = cluster.files()
    volume = cluster.volume()
    assert files
    with cluster.api() as api:
        assert task(api, "none") is None
    helm.uninstall(cluster.node.kubeconfig, NAMESPACE, RELEASE)

    def gone() -> bool:
        left = cluster.must("get", "pods,deployments,services", "-n", NAMESPACE, "-o", "name")
        return not left.strip()

    wait_for(gone, 120, "the release's pods to be gone", cluster.explain)
    running = cluster.node.crictl("pods", "-q", "--namespace", NAMESPACE, "--state",
                                  "ready").stdout.split()
    assert running == []
    for name, size in files.items():
        assert (volume / name).stat().st_size == size
