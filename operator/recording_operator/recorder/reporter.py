"""Sends the recorder's progress to its Recording's status subresource.

A merge patch that names only the recorder-owned fields (see ``model.recording``), so the
operator's fields are never touched. Changes a client waits for (state, new or finished file)
go out at once, at most one patch per ``min_gap``; byte and time counters go out every
``interval`` while recording. Reporting never blocks recording: it runs on its own thread,
always sends the newest snapshot, and retries with backoff (at least the server's Retry-After)
when the API is away or busy.

The calls go through ``kube.rest``, a small client over the standard library: a recorder never
loads kubernetes_asyncio, aiohttp or asyncio (measured: ~50 MB of a recorder pod's memory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..kube.errors import Conflict, KubeError, NotFound
from ..kube.rest import KubeRest, get_status, patch_status
from ..kube.target import KubeTarget
from ..model.reporting import FLOOR
from ..model.resource import GROUP, PLURAL, VERSION
from .errors import RecorderError

log = logging.getLogger(__name__)


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
        interval: float = FLOOR,
        min_gap: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self._target = target
        self._interval = interval
        self._min_gap = min_gap
        self._timeout = timeout
        self._snapshot: Callable[[], dict[str, Any]] | None = None
        self._rest: KubeRest | None = None
        #: Set by notify() (something to send) and close(); the pump waits on it.
        self._wake = threading.Event()
        #: Set by close() only: cuts a backoff short once, for the final report.
        self._closed = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._thread_main, name="status-reporter",
                                        daemon=True)
        self.delivered = False
        self.patches = 0

    # --- called from the recording thread ------------------------------------------------

    def start(self) -> None:
        """Reads the configuration (a broken kubeconfig is an error now, not later)."""
        try:
            self._rest = KubeRest(self._target, timeout=self._timeout)
        except (KubeError, OSError, KeyError, ValueError) as exc:
            raise RecorderError(f"cannot reach the Kubernetes API: {exc}") from exc

    def read_status(self) -> dict[str, Any] | None:
        """The Recording's current status as Kubernetes has it (None when it cannot be read:
        start fresh). Left as JSON: :func:`resume.plan_resume` reads the few fields it needs."""
        assert self._rest is not None
        try:
            body = get_status(self._rest, GROUP, VERSION, self.namespace, PLURAL, self.name)
        except KubeError as exc:
            log.warning("cannot read the Recording's status (%s); starting fresh", exc)
            return None
        status = body.get("status")
        return status if isinstance(status, dict) else {}

    def begin(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Starts sending ``snapshot()``. Not before: until the previous run's state has been
        read and carried over, a patch would erase it."""
        self._snapshot = snapshot
        self._thread.start()

    def notify(self) -> None:
        """Something worth sending now happened (thread-safe)."""
        self._wake.set()

    def close(self, timeout: float = 15.0) -> bool:
        """Sends the final state and stops; True when it got through."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._rest is not None and not self._thread.is_alive():
            self._rest.close()
        return self.delivered

    # --- the reporter thread ---------------------------------------------------------------

    def _thread_main(self) -> None:
        assert self._snapshot is not None
        try:
            self._pump(self._snapshot)
        except Exception as exc:  # the recording goes on without status reports
            log.error("status reporter stopped: %s", exc)

    def _pause(self, seconds: float) -> None:
        """Sleeps; close() cuts the first such pause after it short (the final report)."""
        if not self._closed.is_set():
            self._closed.wait(seconds)
        else:
            time.sleep(min(seconds, 1.0))

    def _pump(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        sent: dict[str, Any] | None = None
        last_attempt = 0.0
        backoff = 1.0
        gone = False
        while True:
            if not self._closing:
                self._wake.wait(self._interval)
            self._wake.clear()
            wait = self._min_gap - (time.monotonic() - last_attempt)
            if wait > 0 and not self._closing:
                self._closed.wait(wait)
            status = snapshot()
            comparable = _comparable(status)
            if gone or comparable == sent:
                self.delivered = True
                if self._closing:
                    return
                continue
            last_attempt = time.monotonic()
            outcome, retry_after = self._patch(status)
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
                self._pause(max(backoff, retry_after))
                backoff = min(backoff * 2, 10.0)
                self._wake.set()  # try again with the newest snapshot

    def _patch(self, status: dict[str, Any]) -> tuple[str, float]:
        assert self._rest is not None
        try:
            patch_status(self._rest, GROUP, VERSION, self.namespace, PLURAL, self.name, status)
        except NotFound:
            log.warning("Recording %s/%s is gone; no more status updates",
                        self.namespace, self.name)
            return "gone", 0.0
        except Conflict as exc:
            log.info("status patch conflicted (%s); sending again", exc)
            return "retry", 0.0
        except KubeError as exc:
            log.warning("status patch failed (%s); will retry", exc)
            return "retry", exc.retry_after
        self.patches += 1
        return "ok", 0.0
