"""Volumes land in directories on the host, and the paths a container is given point there."""

from __future__ import annotations

from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletThread
from tests.waiting import wait_for

from .support import container, container_status, get_pod, make_pod, wait_phase

pytestmark = pytest.mark.controlplane

WRITE_EVERYWHERE = """
    import os, sys
    from pathlib import Path
    Path(os.environ["RESULTS"], "from-env.txt").write_text("env")
    Path(sys.argv[1]).write_text("arg")
    Path("relative.txt").write_text("cwd")  # the working dir is /scratch/work
    Path(os.environ["CLAIM"], "kept.txt").write_text("claim")
    print(Path(sys.argv[2]).read_text(), end="")  # a ConfigMap file
    print(os.environ["UNRELATED"])
"""


def test_mount_paths_are_rewritten_into_the_volumes(controlplane: ControlPlane, namespace: str,
                                                    kubelet: KubeletThread, tmp_path: Path,
                                                    data_dir: Path) -> None:
    host = tmp_path / "host-results"
    controlplane.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "conf", "namespace": namespace},
                        "data": {"app.yaml": "answer: 42\n"}})
    main = container(
        WRITE_EVERYWHERE,
        args=["/scratch/work/from-arg.txt", "/etc/app/app.yaml"],
        workingDir="/scratch/work",
        env=[{"name": "RESULTS", "value": "/results"},
             {"name": "CLAIM", "value": "/recordings"},
             {"name": "UNRELATED", "value": "/resultsx and /var/results stay"}],
        volumeMounts=[{"name": "results", "mountPath": "/results"},
                      {"name": "scratch", "mountPath": "/scratch/work", "subPath": "work"},
                      {"name": "claim", "mountPath": "/recordings", "subPath": "app"},
                      {"name": "conf", "mountPath": "/etc/app", "readOnly": True}],
    )
    make_pod(controlplane, namespace, "writer", [main], restartPolicy="Never", volumes=[
        {"name": "results", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "storage"}},
        {"name": "conf", "configMap": {"name": "conf"}},
    ])

    pod = wait_phase(controlplane, namespace, "writer", "Succeeded", "Failed")
    uid = pod["metadata"]["uid"]
    log = (data_dir / "pods" / f"{namespace}_writer_{uid}" / "main.log").read_text()
    assert pod["status"]["phase"] == "Succeeded", log
    assert (host / "from-env.txt").read_text() == "env"
    scratch = data_dir / "pods" / uid / "volumes" / "scratch" / "work"
    assert (scratch / "from-arg.txt").read_text() == "arg"
    assert (scratch / "relative.txt").read_text() == "cwd"
    claim = data_dir / "pvc" / namespace / "storage" / "app"
    assert (claim / "kept.txt").read_text() == "claim"
    assert log.splitlines() == ["answer: 42", "/resultsx and /var/results stay"]


def test_a_volume_that_cannot_be_mapped_is_reported(controlplane: ControlPlane,
                                                    namespace: str,
                                                    kubelet: KubeletThread) -> None:
    make_pod(controlplane, namespace, "nfs", [container("pass")], restartPolicy="Never",
             volumes=[{"name": "remote", "nfs": {"server": "127.0.0.1", "path": "/x"}}])
    def explained() -> str | None:
        pod = get_pod(controlplane, namespace, "nfs")
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
        message: str | None = statuses[0]["state"].get("waiting", {}).get("message") if (
            statuses) else None
        return message

    message = wait_for(explained, 10, "a waiting message")
    assert "nfs" in message and "cannot be mapped" in message
    pod = get_pod(controlplane, namespace, "nfs")
    assert pod is not None and pod["status"]["phase"] == "Pending"
    assert container_status(pod)["state"]["waiting"]["reason"] == "ContainerCreating"
