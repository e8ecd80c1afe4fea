"""Kubernetes Events on a Recording, posted through kopf's event queue (``kubectl describe``).

One reason per moment a user cares about; every change of ``status.state`` posts one.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

from ..model.resource import State

STATE_REASONS = {
    State.READY: "Ready",
    State.RECORDING: "Recording",
    State.STOPPING: "Stopping",
    State.STOPPED: "Stopped",
    State.ERROR: "Error",
}


def _body(raw: dict[str, Any]) -> kopf.Body:
    return kopf.Body(cast(kopf.RawBody, raw))


def state_changed(body: dict[str, Any], state: State, message: str) -> None:
    reason = STATE_REASONS[state]
    if state == State.ERROR:
        kopf.warn(_body(body), reason=reason, message=message)
    else:
        kopf.info(_body(body), reason=reason, message=message)


def normal(body: dict[str, Any], reason: str, message: str) -> None:
    kopf.info(_body(body), reason=reason, message=message)


def warning(body: dict[str, Any], reason: str, message: str) -> None:
    kopf.warn(_body(body), reason=reason, message=message)
