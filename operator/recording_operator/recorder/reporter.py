"""Sends the recorder's progress to its Recording's status subresource.

A merge patch that names only the recorder-owned fields (see ``model.recording``), so the
operator's fields are never touched. Changes a client waits for (state, new or finished file)
go out at once, at most one patch per ``min_gap``; byte and time counters go out every
``interval`` while recording. Reporting never blocks recording: it runs on its own thread with its
own event loop, always sends the newest snapshot, and retries with backoff when the API is away.

Only kubernetes_asyncio is imported here, and only when reporting is on, so a recorder run by
hand (``--no-report``) does not pay for the Kubernetes client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..kube.connection import KubeTarget, connect
from ..model.recording import RecordingStatus, parse_status
from ..model.resource import GROUP, PLURAL, VERSION
from .errors import RecorderError

log = logging.getLogger(__name__)

_MERGE_PATCH = "application/merge-patch+json"


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without its timestamp: two snapshots that differ only there are equal."""
    recorder = {k: v for k, v in status["recorder"].items() if k != "updatedTime"}
    return {**status, "recorder": recorder}


class StatusReporter:
    def __init__(
        self,
        namespace: str,
        name: str,
        target: KubeTarget | None = None,
        *,
        interval: float = 5.0,
        min_gap: float = 0.5,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self._snapshot: Callable[[], dict[str, Any]] | None = None
        self._begun: asyncio.Event | None = None
        self._target = target
        self._interval = interval
        self._min_gap = min_gap
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="status-reporter",
                                        daemon=True)
        self._api: Any = None
        self._objects: Any = None
        self.delivered = False
        self.patches = 0

    # --- called from the recording thread ------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RecorderError("timed out connecting to the Kubernetes API")
        if self._start_error is not None:
            raise RecorderError(f"cannot reach the Kubernetes API: {self._start_error}")

    def read_status(self, timeout: float = 15.0) -> RecordingStatus | None:
        """The Recording's current status (None when it cannot be read: start fresh)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._read(), self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            log.warning("reading the Recording's status timed out; starting fresh")
        except Exception as exc:
            log.warning("cannot read the Recording's status (%s); starting fresh", exc)
        return None

    def begin(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Starts sending ``snapshot()``. Not before: until the previous run's state has been
        read and carried over, a patch would erase it."""
        self._snapshot = snapshot
        loop, begun = self._loop, self._begun
        if loop is not None and begun is not None:
            loop.call_soon_threadsafe(begun.set)

    def notify(self) -> None:
        """Something worth sending now happened (thread-safe)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            # RuntimeError: the loop just closed; the final state is being sent anyway.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def close(self, timeout: float = 15.0) -> bool:
        """Sends the final state and stops; True when it got through."""
        self._closing = True
        loop, begun = self._loop, self._begun
        if loop is not None and begun is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(begun.set)
        self.notify()
        self._thread.join(timeout)
        return self.delivered

    # --- the reporter thread ---------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
            else:
                log.error("status reporter stopped: %s", exc)

    async def _main(self) -> None:
        from kubernetes_asyncio import client

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._begun = asyncio.Event()
        self._api = await connect(self._target)
        try:
            self._objects = client.CustomObjectsApi(self._api)
            self._ready.set()
            await self._begun.wait()
            if self._snapshot is not None:
                await self._pump(self._snapshot)
        finally:
            await self._api.close()

    async def _read(self) -> RecordingStatus:
        body = await self._objects.get_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURAL, self.name
        )
        return parse_status(body)

    async def _pump(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        assert self._wake is not None
        sent: dict[str, Any] | None = None
        last_attempt = 0.0
        backoff = 1.0
        gone = False
        while True:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            wait = self._min_gap - (time.monotonic() - last_attempt)
            if wait > 0 and not self._closing:
                await asyncio.sleep(wait)
            status = snapshot()
            comparable = _comparable(status)
            if gone or comparable == sent:
                self.delivered = True
                if self._closing:
                    return
                continue
            last_attempt = time.monotonic()
            outcome = await self._patch(status)
            if outcome == "ok":
                sent = comparable
                self.delivered = True
                backoff = 1.0
                if self._closing and _comparable(snapshot()) == sent:
                    return
            elif outcome == "gone":
                gone = True
                self.delivered = True
                if self._closing:
                    return
            else:
                self.delivered = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._wake.set()  # try again with the newest snapshot

    async def _patch(self, status: dict[str, Any]) -> str:
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            await self._objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, PLURAL, self.name, {"status": status},
                _content_type=_MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status == 404:
                log.warning("Recording %s/%s is gone; no more status updates",
                            self.namespace, self.name)
                return "gone"
            log.warning("status patch refused (%s %s); will retry", exc.status, exc.reason)
            return "retry"
        except Exception as exc:
            log.warning("status patch failed (%s); will retry", exc)
            return "retry"
        self.patches += 1
        return "ok"
