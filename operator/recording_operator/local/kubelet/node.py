"""The Node the runner serves, and its heartbeat.

The node is registered like a kubelet registers itself (create, or take over an existing one of
that name), its status posted through nodes/status, and its liveness shown by renewing a Lease
in ``kube-node-lease``. No node-lifecycle controller runs in the local control plane, so the
Ready condition is also what the runner sets itself: True while serving, False once stopped.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import shutil
from pathlib import Path
from typing import Any

from .api import MERGE_PATCH, Api, RunnerApiError
from .capacity import allocatable, machine_capacity
from .settings import KubeletSettings
from .status import HOST_IP, now, now_micro

log = logging.getLogger(__name__)
Obj = dict[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
VERSION = "v0.1.0-local"
LABEL_TYPE = "node.recording-operator.dev/type"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return platform.platform()


def capacity(data_dir: Path, settings: KubeletSettings) -> dict[str, str]:
    """The machine's own resources (or the settings' figures): CPUs, memory, 110 pods."""
    return {
        **machine_capacity(),
        "ephemeral-storage": str(shutil.disk_usage(data_dir).total),
        **settings.capacity,
    }


class Node:
    def __init__(self, api: Api, name: str, data_dir: Path, settings: KubeletSettings) -> None:
        self.api = api
        self.name = name
        self.settings = settings
        self.capacity = capacity(data_dir, settings)
        #: What pods may request in all: capacity less a kubelet's eviction reserve.
        self.allocatable = allocatable(self.capacity)
        self.uid = ""
        self._ready_since = now()
        self._lease: Obj | None = None

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{self.name}"

    def _labels(self) -> dict[str, str]:
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        return {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch, LABEL_TYPE: "local-process"}

    def _status(self, ready: bool) -> Obj:
        heartbeat = now()
        def condition(kind: str, status: bool, reason: str, message: str) -> Obj:
            return {"type": kind, "status": "True" if status else "False", "reason": reason,
                    "message": message, "lastHeartbeatTime": heartbeat,
                    "lastTransitionTime": self._ready_since if kind == "Ready" else heartbeat}
        return {
            "capacity": self.capacity,
            "allocatable": self.allocatable,
            "conditions": [
                condition("MemoryPressure", False, "KubeletHasSufficientMemory",
                          "the local runner does not watch memory"),
                condition("DiskPressure", False, "KubeletHasNoDiskPressure",
                          "the local runner does not watch disk"),
                condition("PIDPressure", False, "KubeletHasSufficientPID",
                          "the local runner does not watch PIDs"),
                condition("Ready", ready, "KubeletReady" if ready else "KubeletNotReady",
                          "the local pod runner is serving pods" if ready
                          else "the local pod runner stopped"),
            ],
            "addresses": [{"type": "InternalIP", "address": HOST_IP},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id"),
                "systemUUID": "",
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": "local-process://1",
                "kubeletVersion": VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": self._labels()["kubernetes.io/arch"],
            },
        }

    async def register(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": self._labels()}}
        try:
            node = await self.api.request("POST", "/api/v1/nodes", body=body)
        except RunnerApiError as exc:
            if exc.status != 409:
                raise
            node = await self.api.request(
                "PATCH", self.path, body={"metadata": {"labels": self._labels()}},
                content_type=MERGE_PATCH)
        self.uid = node["metadata"]["uid"]
        await self.post_status(ready=True)
        await self.renew_lease()

    async def post_status(self, ready: bool, within: float | None = None) -> None:
        if not ready:
            self._ready_since = now()
        await self.api.request("PATCH", f"{self.path}/status",
                               body={"status": self._status(ready)}, content_type=MERGE_PATCH,
                               within=within)

    async def renew_lease(self) -> None:
        spec = {"holderIdentity": self.name,
                "leaseDurationSeconds": self.settings.lease_duration_seconds,
                "renewTime": now_micro()}
        if self._lease is None:
            try:
                self._lease = await self.api.request("GET", f"{LEASES}/{self.name}")
            except RunnerApiError as exc:
                if exc.status != 404:
                    raise
                self._lease = await self.api.request("POST", LEASES, body={
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE,
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                      "name": self.name, "uid": self.uid}]},
                    "spec": spec})
                return
        lease = dict(self._lease)
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        try:
            self._lease = await self.api.request("PUT", f"{LEASES}/{self.name}", body=lease)
        except RunnerApiError as exc:
            self._lease = None  # stale or deleted: read it again next time
            if exc.status not in (404, 409):
                raise

    async def heartbeat_forever(self) -> None:
        """Renews the lease and re-posts Ready until cancelled; errors are logged, not fatal."""
        since_status = 0.0
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            since_status += self.settings.heartbeat_interval
            try:
                await self.renew_lease()
                if since_status >= self.settings.status_interval:
                    since_status = 0.0
                    await self.post_status(ready=True)
            except RunnerApiError as exc:
                log.warning("node %s: heartbeat failed: %s", self.name, exc)
