"""A pod's processes die with the runner, even when the runner is killed with SIGKILL and has
no chance to stop them (``PR_SET_PDEATHSIG``): a killed ``dev`` leaves no recorder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from tests.kubelet.conftest import force_delete_pods
from tests.kubelet.support import alive, container, make_pod, pid_of, wait_phase
from tests.waiting import wait_for

pytestmark = pytest.mark.controlplane

RUNNER = textwrap.dedent("""
    import sys, time
    from recording_operator.local.kubelet import KubeletThread
    KubeletThread(sys.argv[1], sys.argv[2], node_name=sys.argv[3],
                  namespaces=[sys.argv[4]]).start()
    print("serving", flush=True)
    time.sleep(600)
""")


def test_pod_processes_end_when_the_runner_is_killed(controlplane: ControlPlane,
                                                     kubelet_kubeconfig: Path, namespace: str,
                                                     node_name: str, tmp_path: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(kubelet_kubeconfig), str(tmp_path / "data"),
         node_name, namespace], stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout is not None and runner.stdout.readline().strip() == "serving"
        make_pod(controlplane, namespace, "sleeper",
                 [container("import time; time.sleep(600)")])
        pid = pid_of(wait_phase(controlplane, namespace, "sleeper", "Running", timeout=30))
        assert alive(pid)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        wait_for(lambda: not alive(pid), 10, "the pod's process to end with its runner")
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        force_delete_pods(controlplane, namespace)
