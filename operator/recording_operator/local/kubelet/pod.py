"""One pod's life on the local node: volumes and token, init containers, containers with their
restart policy and probes, status reports, and the end (deletion or the runner stopping).

Each pod has one worker task. The watch feeds it the newest Pod object; the worker reports the
status it derives from its processes through the pods/status subresource, and, once a deleted
pod's processes are gone, removes the Pod from the API as a kubelet does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...timeouts import wait_event
from . import volumes as vol
from .api import MERGE_PATCH, Api, RunnerApiError, pod_path
from .env import (
    ContainerConfigError,
    ObjectCache,
    StartError,
    command_line,
    container_env,
    runner_path,
)
from .paths import PathMap
from .probes import run_probe
from .process import Process
from .settings import Backoff, KubeletSettings
from .status import ContainerState, PodState, Terminated, exit_of, now, previous_states
from .tokens import PodTokens

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeContext:
    """What every pod worker shares with the runner."""

    api: Api
    data_dir: Path
    node_name: str
    settings: KubeletSettings
    ca_pem: bytes | None
    allocatable: Mapping[str, str]


@dataclass
class _Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    paths: PathMap


class PodWorker:
    def __init__(self, node: NodeContext, pod: Obj, on_done: Callable[[PodWorker], None]) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        self.node = node
        self.pod = pod
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.dirs = vol.PodDirs.of(node.data_dir, pod)
        self.state = PodState(
            containers=[ContainerState(c["name"], c.get("image", ""))
                        for c in spec.get("containers") or []],
            init_containers=[ContainerState(c["name"], c.get("image", ""))
                             for c in spec.get("initContainers") or []],
            restart_policy=spec.get("restartPolicy") or "Always",
        )
        self.tokens = PodTokens(node.api, pod, ca_pem=node.ca_pem,
                                refresh_fraction=node.settings.token_refresh_fraction)
        #: Set when the processes must end: deletion, the pod vanishing, the runner stopping.
        self.stopping = asyncio.Event()
        self.deleted = False
        self.gone = False
        self.shutdown = False
        #: The worker removed the Pod from the API (its DELETED event is still to come).
        self.removed = False
        self._kubeconfig: Path | None = None
        self._report_lock = asyncio.Lock()
        self._on_done = on_done
        self.update(pod)
        self.task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    # -- inputs from the runner -----------------------------------------------------------

    def update(self, pod: Obj) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp") and not self.deleted:
            self.deleted = True
            self.stopping.set()

    def vanish(self) -> None:
        """The Pod left the API without us (force deletion): stop, report nothing."""
        self.gone = True
        self.stopping.set()

    async def shut_down(self) -> None:
        self.shutdown = True
        self.stopping.set()
        await self.task

    # -- the pod's life -------------------------------------------------------------------

    async def _run(self) -> None:
        refresher: asyncio.Task[None] | None = None
        try:
            self.state.start_time = now()
            self._adopt()
            if not self.state.terminal():
                volumes = await self._prepare()
                if volumes is not None:
                    refresher = asyncio.create_task(self.tokens.refresh_forever())
                    self.state.sandbox_ready = True
                    if await self._run_init(volumes):
                        await self._run_containers(volumes)
            if not self.stopping.is_set():
                await self.report()
                await self.stopping.wait()
            await self._finish()
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            self._on_done(self)

    async def _finish(self) -> None:
        was_terminal = self.state.terminal()
        self.state.ended = True
        if self.shutdown and not self.deleted and not was_terminal:
            self.state.reason = "Terminated"
            self.state.message = "The local pod runner stopped, ending the pod's processes."
        await self.report(within=5.0 if self.shutdown else None)
        if self.deleted or self.gone:
            # As a kubelet: the volumes go before the Pod may leave the API.
            self.dirs.remove()
        if self.deleted and not self.gone:
            await self._remove_from_api()

    def _adopt(self) -> None:
        """A pod an earlier runner started: its processes are gone with that runner. Each
        container counts as ended (ContainerStatusUnknown, as a kubelet reports a container it
        lost) and the restart policy decides what happens next."""
        before = previous_states(self.pod, "containerStatuses")
        if not any(s.get("state", {}).get("running") or s.get("state", {}).get("terminated")
                   or s.get("lastState", {}).get("terminated") for s in before.values()):
            return
        log.info("pod %s/%s: adopting a pod whose processes are gone", self.namespace,
                 self.name)
        self.state.initialized = True
        for init in self.state.init_containers:
            old = previous_states(self.pod, "initContainerStatuses").get(init.name, {})
            terminated = (old.get("state") or {}).get("terminated")
            init.terminated = Terminated.from_status(terminated) if terminated else None
            init.waiting_reason = None if terminated else init.waiting_reason
        for c in self.state.containers:
            old = before.get(c.name, {})
            state = old.get("state") or {}
            c.restart_count = int(old.get("restartCount") or 0)
            last = (old.get("lastState") or {}).get("terminated")
            c.last_terminated = Terminated.from_status(last) if last else None
            if state.get("terminated"):
                c.set_terminated(Terminated.from_status(state["terminated"]))
            else:
                started = (state.get("running") or {}).get("startedAt")
                c.set_terminated(Terminated(
                    exit_code=137, reason="ContainerStatusUnknown", started_at=started,
                    finished_at=now(),
                    message="The container could not be located when the pod was terminated"))

    async def _prepare(self) -> dict[str, Path] | None:
        """Volumes and the service-account token; retried until they can be made."""
        retry = Backoff(self.node.settings.config_retry_initial,
                        self.node.settings.config_retry_max, float("inf"))
        spec = self.pod.get("spec") or {}
        while not self.stopping.is_set():
            try:
                objects = ObjectCache(self.node.api, self.namespace)
                volumes = await vol.prepare(self.pod, self.dirs, objects, self.tokens)
                if spec.get("automountServiceAccountToken") is not False:
                    self._kubeconfig = await self.tokens.write_service_account(
                        self.dirs.service_account)
                return volumes
            except (ContainerConfigError, RunnerApiError, ValueError, OSError) as exc:
                message = f"cannot set up the pod's volumes: {exc}"
                log.warning("pod %s/%s: %s", self.namespace, self.name, message)
                for c in [*self.state.init_containers, *self.state.containers]:
                    c.set_waiting("ContainerCreating", message)
                await self.report()
                if await self._sleep(retry.next(0.0)):
                    return None
        return None

    async def _run_init(self, volumes: dict[str, Path]) -> bool:
        specs = (self.pod.get("spec") or {}).get("initContainers") or []
        for spec, state in zip(specs, self.state.init_containers, strict=True):
            if state.terminated is not None and state.terminated.exit_code == 0:
                continue
            if not await self._container(spec, state, volumes, init=True):
                return False
        self.state.initialized = True
        await self.report()
        return not self.stopping.is_set()

    async def _run_containers(self, volumes: dict[str, Path]) -> None:
        specs = (self.pod.get("spec") or {}).get("containers") or []
        await asyncio.gather(*(self._container(spec, state, volumes, init=False)
                               for spec, state in zip(specs, self.state.containers,
                                                      strict=True)))

    def _should_restart(self, ok: bool, init: bool) -> bool:
        policy = self.state.restart_policy
        if init:
            return not ok and policy != "Never"
        return policy == "Always" or (policy == "OnFailure" and not ok)

    async def _container(self, spec: Obj, state: ContainerState, volumes: dict[str, Path],
                         *, init: bool) -> bool:
        """Runs one container until it is done for good; True if it last exited 0."""
        settings = self.node.settings
        backoff = Backoff(settings.backoff_initial, settings.backoff_max, settings.backoff_reset)
        config_retry = Backoff(settings.config_retry_initial, settings.config_retry_max,
                               float("inf"))
        ran_for = 0.0
        adopted = state.terminated is not None
        while not self.stopping.is_set():
            if state.terminated is not None:
                ok = state.terminated.exit_code == 0
                if not self._should_restart(ok, init):
                    await self.report()
                    return ok
                delay = 0.0 if adopted else backoff.next(ran_for)
                adopted = False
                state.restart_count += 1
                state.set_waiting(
                    "CrashLoopBackOff",
                    f"back-off {delay:g}s restarting failed container={state.name} "
                    f"pod={self.name}_{self.namespace}({self.uid})")
                await self.report()
                if await self._sleep(delay):
                    return False
            try:
                launch = await self._launch(spec, volumes)
            except ContainerConfigError as exc:
                state.set_waiting("CreateContainerConfigError", str(exc))
                await self.report()
                if await self._sleep(config_retry.next(0.0)):
                    return False
                continue
            except StartError as exc:
                state.set_terminated(Terminated(128, "StartError", None, now(), message=str(exc)))
                continue
            started = time.monotonic()
            await self._run_once(spec, state, launch, init=init)
            ran_for = time.monotonic() - started
        return False

    async def _launch(self, spec: Obj, volumes: dict[str, Path]) -> _Launch:
        objects = ObjectCache(self.node.api, self.namespace)
        base = {"PATH": runner_path(), "HOSTNAME": self.name, "HOME": str(self.dirs.pod),
                **self.node.settings.base_env}
        if self._kubeconfig is not None:
            base["KUBECONFIG"] = str(self._kubeconfig)
        try:
            # subPathExpr may use the env, and literal env values use the mounts: two passes.
            plain = await container_env(self.pod, spec, base, objects, PathMap({}),
                                        self.node.allocatable)
            paths = vol.mounts(spec, volumes, plain)
            env = await container_env(self.pod, spec, base, objects, paths,
                                      self.node.allocatable)
        except (RunnerApiError, ValueError, OSError) as exc:
            raise ContainerConfigError(str(exc)) from exc
        argv = command_line(spec, env, paths)
        cwd = self.dirs.pod
        if spec.get("workingDir"):
            cwd = paths.host_path(str(spec["workingDir"])) or cwd
        cwd.mkdir(parents=True, exist_ok=True)
        return _Launch(argv, env, cwd, paths)

    async def _run_once(self, spec: Obj, state: ContainerState, launch: _Launch, *,
                        init: bool) -> None:
        try:
            proc = await Process.start(launch.argv, launch.env, launch.cwd,
                                       self.dirs.log(state.name))
        except OSError as exc:
            state.set_terminated(Terminated(
                128, "StartError", None, now(),
                message=f"cannot run {launch.argv[0]!r}: {exc.strerror or exc}"))
            log.warning("pod %s/%s: container %s: %s", self.namespace, self.name, state.name,
                        state.terminated.message if state.terminated else "")
            return
        state.set_running(proc.container_id)
        state.ready = not init and "readinessProbe" not in spec
        await self.report()
        live_failed = asyncio.Event()
        probes = self._start_probes(spec, state, launch, live_failed) if not init else []
        exited = asyncio.ensure_future(proc.wait())
        stop = asyncio.ensure_future(self.stopping.wait())
        dead = asyncio.ensure_future(live_failed.wait())
        try:
            await asyncio.wait({exited, stop, dead}, return_when=asyncio.FIRST_COMPLETED)
            message = None
            if not exited.done():
                if dead.done() and not stop.done():
                    message = "Container failed its liveness probe and was restarted."
                code = await proc.terminate(self.grace())
            else:
                code = exited.result()
        finally:
            for task in (stop, dead, *probes):
                task.cancel()
            for task in probes:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        state.set_terminated(exit_of(code, state.running_since, proc.container_id, message))
        await self.report()

    def _start_probes(self, spec: Obj, state: ContainerState, launch: _Launch,
                      live_failed: asyncio.Event) -> list[asyncio.Task[None]]:
        tasks = []
        readiness, liveness = spec.get("readinessProbe"), spec.get("livenessProbe")
        if readiness:
            async def ready(result: bool) -> None:
                if state.running and state.ready != result:
                    state.ready = result
                    await self.report()

            tasks.append(asyncio.create_task(run_probe(
                readiness, spec, launch.env, launch.paths, launch.cwd, ready)))
        if liveness:
            async def alive(result: bool) -> None:
                if not result:
                    live_failed.set()

            tasks.append(asyncio.create_task(run_probe(
                liveness, spec, launch.env, launch.paths, launch.cwd, alive)))
        return tasks

    def grace(self) -> float:
        """The deletion's grace period, else the pod's; capped when the runner stops. Never
        below ``minimum_grace``: even a force deletion (grace 0) gives SIGTERM a moment, as
        the kubelet's 2 s minimum does."""
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds") if self.deleted else None
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds")
        value = float(30 if grace is None else grace)
        if self.shutdown and self.node.settings.stop_grace is not None:
            value = min(value, self.node.settings.stop_grace)
        return max(value, self.node.settings.minimum_grace)

    async def _sleep(self, seconds: float) -> bool:
        """Waits, or less if the pod must stop; True when it must."""
        return await wait_event(self.stopping, seconds)

    # -- API ------------------------------------------------------------------------------

    async def report(self, within: float | None = None) -> None:
        """Posts the whole status; the pod's uid in the patch guards against a new pod of
        the same name."""
        if self.gone:
            return
        async with self._report_lock:
            for attempt in range(3):
                body = {"metadata": {"uid": self.uid}, "status": self.state.render()}
                try:
                    await self.node.api.request(
                        "PATCH", pod_path(self.namespace, self.name, "status"), body=body,
                        content_type=MERGE_PATCH, within=within)
                    return
                except RunnerApiError as exc:
                    # 404: gone; 422 "metadata.uid ... immutable": the name is another pod's now.
                    if exc.status == 404 or (exc.status == 422 and "metadata.uid" in str(exc)):
                        self.gone = True
                        self.stopping.set()
                        return
                    if exc.status and exc.status < 500 and exc.status != 429:
                        log.error("pod %s/%s: status refused: %s", self.namespace, self.name,
                                  exc)
                        return
                    if self.shutdown or attempt == 2:
                        log.warning("pod %s/%s: status not reported: %s", self.namespace,
                                    self.name, exc)
                        return
                    await asyncio.sleep(0.2 * (attempt + 1))

    async def _remove_from_api(self) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": self.uid}}
        try:
            await self.node.api.request("DELETE", pod_path(self.namespace, self.name),
                                        body=body, within=5.0 if self.shutdown else None)
            self.removed = True
        except RunnerApiError as exc:
            if exc.status in (404, 409):
                self.removed = True
            else:
                log.warning("pod %s/%s: not removed: %s", self.namespace, self.name, exc)
