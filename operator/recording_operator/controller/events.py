"""Kubernetes Events on a Recording, posted through kopf's event queue (``kubectl describe``).

One reason per moment a user cares about; every change of ``status.state`` posts one.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _body(recording: Mapping[str, Any]) -> kopf.Body:
    if isinstance(recording, kopf.Body):
        return recording
    return kopf.Body(cast(kopf.RawBody, dict(recording)))


def state_changed(recording: Mapping[str, Any], state: State, message: str) -> None:
    if state == State.ERROR:
        warning(recording, STATE_REASONS[state], message)
    else:
        normal(recording, STATE_REASONS[state], message)


def normal(recording: Mapping[str, Any], reason: str, message: str) -> None:
    kopf.info(_body(recording), reason=reason, message=message)


def warning(recording: Mapping[str, Any], reason: str, message: str) -> None:
    kopf.warn(_body(recording), reason=reason, message=message)
