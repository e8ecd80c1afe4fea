"""Helpers for the local kubelet's tests: pods made of ``python -c`` snippets, and bounded
waits on what the API server shows."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from recording_operator.local.controlplane import AdminError, ControlPlane
from tests.waiting import wait_for

T = TypeVar("T")
PY = sys.executable
Obj = dict[str, Any]



def script(code: str) -> list[str]:
    """A container command running ``code`` with the runner's own interpreter."""
    return [PY, "-c", textwrap.dedent(code)]


def container(code: str, name: str = "main", **extra: Any) -> Obj:
    return {"name": name, "image": "local", "command": script(code), **extra}


def make_pod(plane: ControlPlane, namespace: str, name: str, containers: list[Obj],
             **spec: Any) -> Obj:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, **spec}}
    return plane.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)


def get_pod(plane: ControlPlane, namespace: str, name: str) -> Obj | None:
    try:
        return plane.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    except AdminError as exc:
        if exc.status == 404:
            return None
        raise


def pod_where(plane: ControlPlane, namespace: str, name: str,
              test: Callable[[Obj], bool]) -> Callable[[], Obj | None]:
    """A condition for ``wait_for``: the pod, once it exists and ``test`` holds for it."""
    def check() -> Obj | None:
        pod = get_pod(plane, namespace, name)
        return pod if pod and test(pod) else None

    return check


def wait_phase(plane: ControlPlane, namespace: str, name: str, *phases: str,
               timeout: float = 15.0) -> Obj:
    return wait_for(
        pod_where(plane, namespace, name, lambda p: (p.get("status") or {}).get("phase") in phases),
        timeout, f"pod {name} in phase {'/'.join(phases)}")


def wait_gone(plane: ControlPlane, namespace: str, name: str, timeout: float = 15.0) -> None:
    wait_for(lambda: get_pod(plane, namespace, name) is None, timeout, f"pod {name} removed")


def container_status(pod: Obj, index: int = 0) -> Obj:
    status: Obj = pod["status"]["containerStatuses"][index]
    return status


def condition(pod: Obj, kind: str) -> str | None:
    for item in pod["status"].get("conditions") or []:
        if item["type"] == kind:
            value: str = item["status"]
            return value
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except OSError:
        return False


def pid_of(pod: Obj, index: int = 0) -> int:
    return int(container_status(pod, index)["containerID"].rsplit("/", 1)[1])


#: A child that announces it has started (after its signal handlers are set) by creating the
#: file named by $STARTED, then waits up to 30 s for the file named by $GATE.
WAIT_FOR_GATE = """
    import os, time
    open(os.environ["STARTED"], "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.environ["GATE"]) and time.time() < deadline:
        time.sleep(0.02)
"""


def gate_env(directory: Path) -> list[Obj]:
    return [{"name": "STARTED", "value": str(directory / "started")},
            {"name": "GATE", "value": str(directory / "gate")}]
