"""The runner: the node, the pod watch, binding, and one worker per pod on the node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ...kube.connection import connect
from ...kube.target import KubeTarget
from .api import MERGE_PATCH, Api, Gone, RunnerApiError
from .capacity import Admission
from .node import Node
from .pod import NodeContext, PodWorker
from .settings import KubeletSettings
from .status import now

log = logging.getLogger(__name__)
Obj = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")


class LocalKubelet:
    """Runs the pods bound to one Node as local processes.

    ``target`` is a :class:`KubeTarget` or the path of a kubeconfig; ``namespaces`` limits the
    pods served (default: all namespaces). Use ``await start()`` / ``await stop()``,
    ``async with``, or ``await run_forever()`` (stops when cancelled).
    """

    def __init__(
        self,
        target: KubeTarget | str | os.PathLike[str],
        data_dir: str | os.PathLike[str],
        node_name: str = "local",
        namespaces: Sequence[str] | None = None,
        settings: KubeletSettings | None = None,
    ) -> None:
        self.target = target if isinstance(target, KubeTarget) else KubeTarget(
            kubeconfig=os.fspath(target))
        self.data_dir = Path(data_dir).resolve()
        self.node_name = node_name
        self.namespaces = list(namespaces) if namespaces is not None else None
        self.settings = settings or KubeletSettings()
        self._api: Api | None = None
        self._node: Node | None = None
        self._context: NodeContext | None = None
        self._workers: dict[str, PodWorker] = {}
        #: Pods this runner removed from the API whose DELETED event has not arrived yet.
        self._removed: set[str] = set()
        self._binding: dict[str, asyncio.Task[None]] = {}
        #: Pods bound to this node and not ended, with their requests (see .capacity).
        self._admission: Admission | None = None
        #: Pods waiting for room, by uid, oldest first; and the reason each was told.
        self._waiting: dict[str, Obj] = {}
        self._told: dict[str, str] = {}
        self._cleanup: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Registers the node and takes over the pods already bound to it; returns once the
        first listing is done. Raises :class:`RunnerApiError` if the API refuses (e.g. RBAC)."""
        if self._started:
            raise RuntimeError("this LocalKubelet was already started")
        self._started = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        api_client = await connect(self.target)
        self._api = api = Api(api_client, timeout=self.settings.request_timeout)
        try:
            ca_pem = _ca_of(api_client.configuration)
            self._node = node = Node(api, self.node_name, self.data_dir, self.settings)
            await node.register()
            self._admission = Admission(node.allocatable)
            self._context = NodeContext(api, self.data_dir, self.node_name, self.settings,
                                        ca_pem, node.capacity)
            scopes: list[str | None] = (
                list(self.namespaces) if self.namespaces is not None else [None])
            listings = [await self._list(scope) for scope in scopes]
            for scope, (version, pods) in zip(scopes, listings, strict=True):
                self._tasks.append(asyncio.create_task(
                    self._watch(scope, version, pods), name=f"watch pods {scope or '*'}"))
            self._tasks.append(asyncio.create_task(node.heartbeat_forever(), name="heartbeat"))
        except BaseException:
            await self._close()
            raise
        log.info("local kubelet serving node %s (data in %s)", self.node_name, self.data_dir)

    async def stop(self) -> None:
        """Ends every pod's processes gracefully (SIGTERM, grace, SIGKILL), reports them, and
        marks the node NotReady. Safe to call twice."""
        if self._stopping or not self._started:
            return
        self._stopping = True
        for task in [*self._tasks, *self._binding.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._binding.values(), return_exceptions=True)
        await asyncio.gather(*(w.shut_down() for w in list(self._workers.values())),
                             return_exceptions=True)
        await asyncio.gather(*self._cleanup, return_exceptions=True)
        if self._node is not None:
            try:
                await self._node.post_status(ready=False, within=5.0)
            except RunnerApiError as exc:
                log.warning("node %s: could not mark NotReady: %s", self.node_name, exc)
        await self._close()
        log.info("local kubelet for node %s stopped", self.node_name)

    async def _close(self) -> None:
        if self._api is not None:
            await self._api.client.close()

    async def run_forever(self) -> None:
        """Starts, serves until cancelled, then stops."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    async def __aenter__(self) -> LocalKubelet:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def pids(self) -> list[int]:
        """The container processes running now (for tests and diagnostics)."""
        return [int(c.container_id.rsplit("/", 1)[1])
                for w in self._workers.values()
                for c in [*w.state.init_containers, *w.state.containers]
                if c.running and c.container_id]

    # -- the pod watch --------------------------------------------------------------------

    @staticmethod
    def _pods_path(scope: str | None) -> str:
        return f"/api/v1/namespaces/{scope}/pods" if scope else "/api/v1/pods"

    async def _list(self, scope: str | None) -> tuple[str, list[Obj]]:
        assert self._api is not None
        listing = await self._api.request("GET", self._pods_path(scope))
        return listing["metadata"]["resourceVersion"], listing.get("items") or []

    async def _watch(self, scope: str | None, version: str, pods: list[Obj]) -> None:
        """Keeps the pods of one scope in sync: resumes from the last resourceVersion, and
        lists again (diffing against what it knew) when the server answers 410 Gone."""
        assert self._api is not None
        known: dict[str, Obj] = {}
        listed: list[Obj] | None = pods
        failures = 0
        while True:
            try:
                if listed is None:
                    version, listed = await self._list(scope)
                current = {p["metadata"]["uid"]: p for p in listed}
                for uid, pod in known.items():
                    if uid not in current:
                        self._on_gone(pod)
                known = current
                listed = None
                for pod in current.values():
                    self._on_pod(pod)
                while True:
                    log.debug("pod watch %s from resourceVersion %s", scope or "*", version)
                    async for event in self._api.watch(
                            self._pods_path(scope), version,
                            timeout_seconds=self.settings.watch_timeout_seconds):
                        failures = 0
                        pod = event.get("object") or {}
                        meta = pod.get("metadata") or {}
                        version = meta.get("resourceVersion") or version
                        if event.get("type") == "BOOKMARK":
                            continue
                        if event.get("type") == "DELETED":
                            known.pop(meta.get("uid", ""), None)
                            self._on_gone(pod)
                        elif event.get("type") in ("ADDED", "MODIFIED"):
                            known[meta["uid"]] = pod
                            self._on_pod(pod)
            except Gone:
                log.info("pod watch %s: resourceVersion %s expired, listing again",
                         scope or "*", version)
                listed = None
            except Exception as exc:  # the watch must outlive any one failure
                failures += 1
                log.warning("pod watch %s failed (%r), retrying", scope or "*", exc)
                await asyncio.sleep(min(0.5 * 2 ** failures, 10.0))
                # A few failures resume the watch; more start over from a fresh list.
                listed = None if failures > 3 else list(known.values())

    def _on_pod(self, pod: Obj) -> None:
        if self._stopping or self._context is None:
            return
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        phase = (pod.get("status") or {}).get("phase")
        node = spec.get("nodeName")
        if not node:
            scheduler = spec.get("schedulerName") or "default-scheduler"
            if (meta.get("deletionTimestamp") or phase in TERMINAL
                    or scheduler not in self.settings.scheduler_names):
                self._waiting.pop(uid, None)
                return
            if uid not in self._binding and (self._admission is None
                                             or uid not in self._admission):
                self._waiting[uid] = pod
                self._admit()
            return
        self._waiting.pop(uid, None)
        if node != self.node_name:
            return
        self._count(pod, phase)
        if uid in self._removed:
            return
        worker = self._workers.get(uid)
        if worker is not None:
            worker.update(pod)
        elif phase in TERMINAL:
            # Ended under an earlier runner (or before its worker existed): nothing runs;
            # a deleted one only waits for the node to let it go.
            if meta.get("deletionTimestamp"):
                self._spawn_cleanup(pod)
        else:
            self._workers[uid] = PodWorker(self._context, pod, self._worker_done)

    def _on_gone(self, pod: Obj) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        self._removed.discard(uid)
        self._waiting.pop(uid, None)
        self._told.pop(uid, None)
        if self._admission is not None and self._admission.release(uid):
            self._admit()
        binding = self._binding.get(uid)
        if binding is not None:
            binding.cancel()
        worker = self._workers.get(uid)
        if worker is not None:
            worker.vanish()

    def _worker_done(self, worker: PodWorker) -> None:
        if self._workers.get(worker.uid) is worker:
            del self._workers[worker.uid]
        if worker.removed:
            self._removed.add(worker.uid)

    def _spawn_cleanup(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        self._removed.add(uid)
        task = asyncio.create_task(self._remove(pod))
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def _remove(self, pod: Obj) -> None:
        assert self._api is not None
        meta = pod["metadata"]
        with contextlib.suppress(RunnerApiError):
            await self._api.request(
                "DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                      "preconditions": {"uid": meta["uid"]}})

    # -- admission: bind only what fits -----------------------------------------------------

    def _count(self, pod: Obj, phase: str | None) -> None:
        """Keeps the node's tally: a pod bound here counts until it ends or is gone."""
        if self._admission is None:
            return
        uid = pod["metadata"]["uid"]
        if phase in TERMINAL:
            if self._admission.release(uid):
                self._admit()
        elif uid not in self._admission:
            self._admission.hold(pod)

    def _admit(self) -> None:
        """Binds the waiting pods that fit, oldest first; tells the others why they wait. The
        oldest that does not fit blocks the rest, so a large pod is not starved by small ones."""
        if self._admission is None or self._stopping:
            return
        for uid, pod in sorted(self._waiting.items(),
                               key=lambda item: _created(item[1])):
            reason = self._admission.why_not(pod)
            if reason is not None:
                if self._told.get(uid) != reason:
                    self._told[uid] = reason
                    self._spawn_cleanup_task(self._unschedulable(pod, reason))
                break
            del self._waiting[uid]
            self._told.pop(uid, None)
            self._admission.hold(pod)
            self._binding[uid] = asyncio.create_task(self._bind(pod))

    async def _unschedulable(self, pod: Obj, reason: str) -> None:
        """What kube-scheduler says of a pod that fits nowhere: PodScheduled False
        (Unschedulable) and a FailedScheduling Event, both shown by ``kubectl describe``."""
        assert self._api is not None
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": reason, "lastTransitionTime": now()}
        try:
            await self._api.request(
                "PATCH", f"{path}/status", content_type=MERGE_PATCH,
                body={"metadata": {"uid": meta["uid"]},
                      "status": {"conditions": [condition]}})
            await self._api.request(
                "POST", f"/api/v1/namespaces/{meta['namespace']}/events", body={
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"generateName": f"{meta['name']}.", "namespace":
                                 meta["namespace"]},
                    "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                       "namespace": meta["namespace"], "uid": meta["uid"]},
                    "reason": "FailedScheduling", "message": reason, "type": "Warning",
                    "source": {"component": "local-kubelet"}, "count": 1,
                    "firstTimestamp": now(), "lastTimestamp": now()})
        except RunnerApiError as exc:
            log.info("pod %s/%s waits (%s); could not say so: %s", meta["namespace"],
                     meta["name"], reason, exc)

    def _spawn_cleanup_task(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def _bind(self, pod: Obj) -> None:
        """What the scheduler would do: POST pods/<name>/binding to this node. The uid in the
        binding makes it fail if the name now belongs to another pod."""
        assert self._api is not None
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "uid": meta["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}}
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding"
        settled = False
        try:
            for attempt in range(5):
                try:
                    await self._api.request("POST", path, body=body)
                    log.info("bound pod %s/%s to %s", meta["namespace"], meta["name"],
                             self.node_name)
                    settled = True
                    return
                except RunnerApiError as exc:
                    if exc.status in (404, 409):
                        settled = exc.status == 409  # bound meanwhile; 404: gone
                        return
                    log.warning("binding pod %s/%s failed: %s", meta["namespace"],
                                meta["name"], exc)
                    await asyncio.sleep(0.5 * 2 ** attempt)
        finally:
            self._binding.pop(meta["uid"], None)
            if not settled and self._admission is not None:
                # Not bound: its room is free again (a pod still there waits anew).
                self._admission.release(meta["uid"])
                self._admit()


def _created(pod: Obj) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _ca_of(configuration: Any) -> bytes | None:
    """The cluster CA the runner trusts, handed on to pods (None when TLS is not verified)."""
    if not configuration.verify_ssl or not configuration.ssl_ca_cert:
        return None
    return Path(configuration.ssl_ca_cert).read_bytes()
