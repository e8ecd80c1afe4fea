"""A pod's life on the local node: bound, Running, then Succeeded or Failed with its exit code;
restarts as its restartPolicy says."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletThread
from tests.waiting import wait_for

from .conftest import FAST, force_delete_pods
from .support import (
    WAIT_FOR_GATE,
    Obj,
    condition,
    container,
    container_status,
    gate_env,
    get_pod,
    make_pod,
    pod_where,
    wait_phase,
)

pytestmark = pytest.mark.controlplane


def test_a_pod_is_bound_runs_and_succeeds(controlplane: ControlPlane, namespace: str,
                                          kubelet: KubeletThread, node_name: str,
                                          tmp_path: Path, data_dir: Path) -> None:
    code = WAIT_FOR_GATE + "    print('hello from', os.environ['HOSTNAME'])\n"
    make_pod(controlplane, namespace, "hello", [container(code, env=gate_env(tmp_path))],
             restartPolicy="Never")

    running = wait_phase(controlplane, namespace, "hello", "Running")
    assert running["spec"]["nodeName"] == node_name
    wait_for(lambda: (tmp_path / "started").exists(), 10, "the process to start")
    running = wait_for(pod_where(controlplane, namespace, "hello",
                                 lambda p: condition(p, "Ready") == "True"), 10, "Ready")
    status = running["status"]
    assert status["podIP"] == status["hostIP"] == "127.0.0.1"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True", "Initialized": "True", "PodReadyToStartContainers": "True",
        "ContainersReady": "True", "Ready": "True"}
    main = container_status(running)
    assert main["ready"] is True and main["restartCount"] == 0
    assert "startedAt" in main["state"]["running"]

    (tmp_path / "gate").touch()
    done = wait_phase(controlplane, namespace, "hello", "Succeeded", "Failed")
    assert done["status"]["phase"] == "Succeeded"
    terminated = container_status(done)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert condition(done, "Ready") == "False"
    uid = done["metadata"]["uid"]
    log = data_dir / "pods" / f"{namespace}_hello_{uid}" / "main.log"
    assert log.read_text().strip() == "hello from hello"


def test_a_failing_pod_reports_its_exit_code(controlplane: ControlPlane, namespace: str,
                                             kubelet: KubeletThread) -> None:
    make_pod(controlplane, namespace, "three", [container("import sys; sys.exit(3)")],
             restartPolicy="Never")
    pod = wait_phase(controlplane, namespace, "three", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Failed"
    main = container_status(pod)
    assert main["state"]["terminated"]["exitCode"] == 3
    assert main["state"]["terminated"]["reason"] == "Error"
    assert main["restartCount"] == 0


def test_a_missing_command_fails_to_start(controlplane: ControlPlane, namespace: str,
                                          kubelet: KubeletThread) -> None:
    make_pod(controlplane, namespace, "nocmd",
             [{"name": "main", "image": "x", "command": ["/nonexistent/binary"]}],
             restartPolicy="Never")
    pod = wait_phase(controlplane, namespace, "nocmd", "Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "/nonexistent/binary" in terminated["message"]


def test_on_failure_restarts_until_success(controlplane: ControlPlane, namespace: str,
                                           kubelet: KubeletThread, tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    code = f"""
        import sys
        from pathlib import Path
        runs = Path({str(counter)!r})
        n = int(runs.read_text()) + 1 if runs.exists() else 1
        runs.write_text(str(n))
        sys.exit(0 if n == 3 else 7)
    """
    make_pod(controlplane, namespace, "flaky", [container(code)], restartPolicy="OnFailure")
    pod = wait_phase(controlplane, namespace, "flaky", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Succeeded"
    main = container_status(pod)
    assert main["restartCount"] == 2
    assert main["lastState"]["terminated"]["exitCode"] == 7
    assert main["state"]["terminated"]["exitCode"] == 0
    assert counter.read_text() == "3"


def test_always_restarts_even_after_success(controlplane: ControlPlane, namespace: str,
                                            kubelet: KubeletThread) -> None:
    make_pod(controlplane, namespace, "loop", [container("pass")], restartPolicy="Always")

    def restarted_twice() -> Obj | None:
        pod = get_pod(controlplane, namespace, "loop")
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
        return pod if statuses and statuses[0]["restartCount"] >= 2 else None

    pod = wait_for(restarted_twice, 10, "two restarts")
    assert pod["status"]["phase"] == "Running"
    assert container_status(pod)["lastState"]["terminated"]["reason"] == "Completed"


def test_pods_for_other_nodes_or_schedulers_are_left_alone(
        controlplane: ControlPlane, namespace: str, kubelet: KubeletThread) -> None:
    make_pod(controlplane, namespace, "elsewhere", [container("pass")],
             nodeName="some-other-node", restartPolicy="Never")
    make_pod(controlplane, namespace, "custom", [container("pass")],
             schedulerName="another-scheduler", restartPolicy="Never")
    # Created last: once it is done, the runner has seen the two before it.
    make_pod(controlplane, namespace, "mine", [container("pass")], restartPolicy="Never")
    wait_phase(controlplane, namespace, "mine", "Succeeded")

    elsewhere = get_pod(controlplane, namespace, "elsewhere")
    custom = get_pod(controlplane, namespace, "custom")
    assert elsewhere and custom
    assert elsewhere["status"]["phase"] == "Pending"
    assert "containerStatuses" not in elsewhere["status"]
    assert custom["status"]["phase"] == "Pending"
    assert "nodeName" not in custom["spec"]


def test_init_containers_run_first_in_order(controlplane: ControlPlane, namespace: str,
                                            kubelet: KubeletThread) -> None:
    write = "import sys; open('/shared/order', 'a').write(sys.argv[1])"
    read = "assert open('/shared/order').read() == 'ab', open('/shared/order').read()"
    mount = [{"name": "work", "mountPath": "/shared"}]
    make_pod(
        controlplane, namespace, "init",
        [container(read, volumeMounts=mount)],
        initContainers=[
            {**container(write, name="first", volumeMounts=mount), "args": ["a"]},
            {**container(write, name="second", volumeMounts=mount), "args": ["b"]},
        ],
        volumes=[{"name": "work", "emptyDir": {}}],
        restartPolicy="Never",
    )
    pod = wait_phase(controlplane, namespace, "init", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    inits = pod["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]


def test_the_watch_resumes_without_missing_pods(controlplane: ControlPlane, namespace: str,
                                                kubelet_kubeconfig: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Each watch request ends after a second here; pods made in between are still run."""
    caplog.set_level(logging.DEBUG, logger="recording_operator.local.kubelet.runner")
    settings = replace(FAST, watch_timeout_seconds=1)

    def resumptions() -> int:
        return sum("pod watch" in r.getMessage() and "from resourceVersion" in r.getMessage()
                   for r in caplog.records)

    def resumed_since(before: int) -> Callable[[], bool]:
        return lambda: resumptions() > before

    with KubeletThread(kubelet_kubeconfig, tmp_path / "data", node_name=f"w-{namespace}",
                       namespaces=[namespace], settings=settings):
        for round_ in range(3):
            wait_for(resumed_since(resumptions()), 10, "the watch to resume")
            make_pod(controlplane, namespace, f"p{round_}", [container("pass")],
                     restartPolicy="Never")
        for round_ in range(3):
            wait_phase(controlplane, namespace, f"p{round_}", "Succeeded")
    force_delete_pods(controlplane, namespace)
