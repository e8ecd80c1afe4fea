"""The runner inside an asyncio program: ``async with``, and ``run_forever`` ended by
cancellation (how a caller that owns the loop uses it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import LocalKubelet

from .conftest import FAST, force_delete_pods
from .support import alive, condition, container, make_pod, pid_of, wait_phase

pytestmark = pytest.mark.controlplane


async def test_async_with_runs_a_pod(controlplane: ControlPlane, namespace: str,
                                     kubelet_kubeconfig: Path, tmp_path: Path) -> None:
    async with LocalKubelet(kubelet_kubeconfig, tmp_path / "data", node_name=f"a-{namespace}",
                            namespaces=[namespace], settings=FAST):
        await asyncio.to_thread(make_pod, controlplane, namespace, "a",
                                [container("print('async')")], restartPolicy="Never")
        pod = await asyncio.to_thread(wait_phase, controlplane, namespace, "a", "Succeeded")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    await asyncio.to_thread(force_delete_pods, controlplane, namespace)


async def test_cancelling_run_forever_stops_everything(controlplane: ControlPlane,
                                                       namespace: str,
                                                       kubelet_kubeconfig: Path,
                                                       tmp_path: Path) -> None:
    node = f"f-{namespace}"
    kubelet = LocalKubelet(kubelet_kubeconfig, tmp_path / "data", node_name=node,
                           namespaces=[namespace], settings=FAST)
    task = asyncio.create_task(kubelet.run_forever())
    await asyncio.to_thread(make_pod, controlplane, namespace, "sleeper",
                            [container("import time; time.sleep(60)")])
    pod = await asyncio.to_thread(wait_phase, controlplane, namespace, "sleeper", "Running")
    pid = pid_of(pod)
    assert alive(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(pid)
    node_obj = await asyncio.to_thread(controlplane.request, "GET", f"/api/v1/nodes/{node}")
    assert condition(node_obj, "Ready") == "False"
    await asyncio.to_thread(force_delete_pods, controlplane, namespace)
