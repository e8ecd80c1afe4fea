"""Prometheus metrics of the operator, served on their own port.

A registry of its own (plus the process collector), so that nothing imported by accident
shows up on the scrape, and so tests can read values without a global default registry.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from ..model.resource import State

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

RECORDINGS = Gauge(
    "recording_operator_recordings",
    "Recordings seen by this operator, by status.state ('none' before the first status).",
    ["state"],
    registry=REGISTRY,
)
PODS_CREATED = Counter(
    "recording_operator_pods_created",
    "Recorder pods created (first pods and replacements).",
    registry=REGISTRY,
)
POD_FAILURES = Counter(
    "recording_operator_pod_failures",
    "Recorder pods that failed or disappeared while their Recording was not stopping.",
    registry=REGISTRY,
)
FORCED_STOPS = Counter(
    "recording_operator_forced_stops",
    "Recorder pods force-deleted because they did not stop within the stop timeout.",
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "recording_operator_reconcile_errors",
    "Handler runs that ended in an error (they are retried).",
    ["handler"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "recording_operator_handler_duration_seconds",
    "Time spent in one handler run.",
    ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)

_STATES = [str(s) for s in State] + ["none"]
HANDLERS = ("reconcile", "stop", "mirror", "pods", "start")
for _handler in HANDLERS:  # so a dashboard sees zeros, not missing series
    RECONCILE_ERRORS.labels(handler=_handler)


class Census:
    """Recordings by state, kept from the watch events (no LIST per scrape)."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        for state in _STATES:
            RECORDINGS.labels(state=state).set(0)

    def state_of(self, uid: str) -> str | None:
        """The state last counted for this Recording (None: not seen yet)."""
        return self._states.get(uid)

    def observe(self, uid: str, state: str | None) -> None:
        self._states[uid] = state or "none"
        self._publish()

    def __len__(self) -> int:
        """How many Recordings the operator runs (what ``model.reporting`` shares out among)."""
        return len(self._states)

    def forget(self, uid: str) -> None:
        self._states.pop(uid, None)
        self._publish()

    def _publish(self) -> None:
        counts = dict.fromkeys(_STATES, 0)
        for state in self._states.values():
            counts[state] = counts.get(state, 0) + 1
        for state, count in counts.items():
            RECORDINGS.labels(state=state).set(count)


class Waiting(kopf.TemporaryError):
    """A handler that is waiting for something (a stop to finish), not failing."""


Handler = Callable[..., Awaitable[Any]]


def instrumented(name: str) -> Callable[[Handler], Handler]:
    """Times a handler and counts its errors; waiting is not an error.

    The handler takes kopf's arguments by name, with the types they have for its resource
    (a Recording's ``name`` is always set), which kopf's own callback types cannot express.
    """

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapper(**kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(**kwargs)
            except Waiting:
                raise
            except Exception:
                RECONCILE_ERRORS.labels(handler=name).inc()
                raise
            finally:
                HANDLER_SECONDS.labels(handler=name).observe(time.perf_counter() - started)

        return wrapper

    return decorate


def serve(port: int, address: str) -> Callable[[], None]:
    """Starts the /metrics endpoint in a thread; returns how to stop it."""
    server, thread = start_http_server(port, addr=address, registry=REGISTRY)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
