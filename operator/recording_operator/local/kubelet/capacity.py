"""What the node can hold, and whether one more pod fits: the scheduler's resource check.

No kube-scheduler runs in the local control plane; the runner binds pods itself, so it also
does what the scheduler's ``NodeResourcesFit`` and pod-count checks do: a pod is bound only
when its requests fit in what the pods bound already leave of the node's allocatable CPU and
memory and the node holds fewer than its pod limit (110, a kubelet's default). A pod that does
not fit stays Pending (condition PodScheduled=False, reason Unschedulable, and a
FailedScheduling Event, as the scheduler reports it) and is bound once a pod ends.

Requests are counted as the scheduler counts them: the sum over the containers, or the
largest init container's when that is more; a container with limits but no requests requests
its limits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

#: What a kubelet keeps back from pods by default (``--eviction-hard=memory.available<100Mi``).
EVICTION_RESERVE = 100 * 1024 * 1024
POD_LIMIT = 110

_SUFFIX: dict[str, Decimal] = {
    "": Decimal(1), "m": Decimal("0.001"),
    **{s: Decimal(10) ** (3 * (i + 1)) for i, s in enumerate("kMGTPE")},
    **{f"{s}i": Decimal(2) ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")},
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$")


def quantity(text: str | int | float) -> Decimal:
    """A Kubernetes quantity (``100m``, ``1.5``, ``128Mi``, ``1e3``) as a number."""
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, exponent, suffix = match.groups()
    value = Decimal(number)
    if exponent:
        return value * Decimal(10) ** int(exponent[1:])
    return value * _SUFFIX[suffix or ""]


@dataclass(frozen=True)
class Resources:
    """CPU in millicores and memory in bytes."""

    cpu: int = 0
    memory: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory)


def _container_requests(container: Obj) -> Resources:
    resources = container.get("resources") or {}
    wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    cpu = wanted.get("cpu")
    memory = wanted.get("memory")
    return Resources(
        int((quantity(cpu) * 1000).to_integral_value(rounding="ROUND_CEILING")) if cpu else 0,
        int(quantity(memory).to_integral_value(rounding="ROUND_CEILING")) if memory else 0,
    )


def pod_requests(pod: Obj) -> Resources:
    """What a pod asks of the node (unparseable quantities count as nothing: the API server
    validated them already)."""
    spec = pod.get("spec") or {}
    try:
        total = Resources()
        for container in spec.get("containers") or []:
            total = total + _container_requests(container)
        for container in spec.get("initContainers") or []:
            init = _container_requests(container)
            total = Resources(max(total.cpu, init.cpu), max(total.memory, init.memory))
    except ValueError:
        return Resources()
    return total


def _memory_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_capacity() -> dict[str, str]:
    """The machine's CPUs (those this process may run on) and memory, and the pod limit."""
    return {"cpu": str(_cpus()), "memory": f"{_memory_total() // 1024}Ki",
            "pods": str(POD_LIMIT)}


def allocatable(capacity: Mapping[str, str]) -> dict[str, str]:
    """Capacity less the kubelet's default eviction reserve of memory."""
    memory = int(quantity(capacity["memory"]))
    return {**capacity, "memory": f"{max(memory - EVICTION_RESERVE, 0) // 1024}Ki"}


class Admission:
    """The pods bound to the node and what they request; answers whether another fits."""

    def __init__(self, allocatable: Mapping[str, str]) -> None:
        self.limit = Resources(int(quantity(allocatable["cpu"]) * 1000),
                               int(quantity(allocatable["memory"])))
        self.max_pods = int(quantity(allocatable.get("pods", POD_LIMIT)))
        self._bound: dict[str, Resources] = {}

    @property
    def used(self) -> Resources:
        total = Resources()
        for requests in self._bound.values():
            total = total + requests
        return total

    def __contains__(self, uid: str) -> bool:
        return uid in self._bound

    def __len__(self) -> int:
        return len(self._bound)

    def why_not(self, pod: Obj) -> str | None:
        """None when the pod fits; else the scheduler's words for why not."""
        requests = pod_requests(pod)
        free = self.limit - self.used
        reasons = []
        if len(self._bound) >= self.max_pods:
            reasons.append("Too many pods")
        if requests.cpu > free.cpu:
            reasons.append("Insufficient cpu")
        if requests.memory > free.memory:
            reasons.append("Insufficient memory")
        if not reasons:
            return None
        return "0/1 nodes are available: " + ", ".join(f"1 {r}" for r in reasons) + "."

    def hold(self, pod: Obj) -> None:
        self._bound[pod["metadata"]["uid"]] = pod_requests(pod)

    def release(self, uid: str) -> bool:
        """True when the pod was counted (so a waiting one may fit now)."""
        return self._bound.pop(uid, None) is not None
