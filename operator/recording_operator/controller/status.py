"""The operator's half of the Recording's status, as pure functions that build merge patches.

The recorder owns the progress fields; the operator writes only :data:`OPERATOR_FIELDS`
(see ``model.recording``), always through the status subresource, so neither writer ever
overwrites the other. The operator's verdict is carried by one condition, ``Ready``: its
reason says whether an ``error`` state was decided by the operator (and must not be
overwritten by mirroring the recorder's own state) or reported by the recorder.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ..model.recording import Condition, RecordingStatus
from ..model.resource import State
from ..model.timefmt import format_time, now

READY = "Ready"
_ALPHABET = string.ascii_letters + string.digits


class Reason(StrEnum):
    """Why the ``Ready`` condition has its status; also the Event reasons for these moments."""

    POD_CREATED = "PodCreated"
    #: The pod has not started and the kubelet or the scheduler says why (ImagePullBackOff…).
    POD_PENDING = "PodPending"
    POD_RUNNING = "PodRunning"
    UNRESOLVABLE = "Unresolvable"
    POD_REJECTED = "PodRejected"
    POD_FAILED = "PodFailed"
    #: The pod did not start within the start timeout (``--pod-start-timeout``).
    POD_STUCK = "PodStuck"
    TOO_MANY_FAILURES = "TooManyFailures"
    STOPPING = "Stopping"


#: ``error`` states the operator decided; mirroring the recorder must leave them alone.
OPERATOR_ERRORS = frozenset(
    {Reason.UNRESOLVABLE, Reason.POD_REJECTED, Reason.POD_STUCK, Reason.TOO_MANY_FAILURES}
)
#: While ``Ready`` has one of these reasons, the pod has not been seen running yet.
NOT_YET_STARTED = frozenset({Reason.POD_CREATED, Reason.POD_PENDING})
#: Of those, the ones a restarted operator re-examines (the config or RBAC may have changed).
RETRIED_ON_RESUME = frozenset({Reason.UNRESOLVABLE, Reason.POD_REJECTED})


def new_transaction_id() -> str:
    """16 random letters and digits, as OvenMediaEngine makes them."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def of(recording: Mapping[str, Any]) -> RecordingStatus:
    """The typed status of a Recording (a plain dict or kopf's body)."""
    return RecordingStatus.model_validate(dict(recording.get("status") or {}))


def ready_condition(status: RecordingStatus) -> Condition | None:
    return next((c for c in status.conditions if c.type == READY), None)


def operator_error(status: RecordingStatus) -> Reason | None:
    """The reason of an ``error`` the operator decided, or None."""
    if status.state != State.ERROR:
        return None
    condition = ready_condition(status)
    if condition is None or condition.status != "False" or condition.reason is None:
        return None
    try:
        reason = Reason(condition.reason)
    except ValueError:
        return None
    return reason if reason in OPERATOR_ERRORS else None


def with_ready(
    status: RecordingStatus, ok: bool, reason: Reason, message: str, at: str | None = None
) -> list[dict[str, Any]]:
    """All conditions, with ``Ready`` replaced; its transition time moves only on a change.

    Merge patches replace lists whole, which is fine: the operator owns every condition.
    """
    value = "True" if ok else "False"
    current = ready_condition(status)
    changed = current is None or current.status != value
    transition = at or format_time(now())
    if not changed and current is not None and current.last_transition_time:
        transition = current.last_transition_time
    ready = Condition(
        type=READY, status=value, reason=str(reason), message=message,
        last_transition_time=transition,
    )
    others = [c.to_json() for c in status.conditions if c.type != READY]
    return [*others, ready.to_json()]


def ready_reason(status: RecordingStatus) -> str | None:
    condition = ready_condition(status)
    return condition.reason if condition is not None else None


def patch(
    body: Mapping[str, Any],
    *,
    state: State | None = None,
    message: str | None = None,
    ready: tuple[bool, Reason, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A status merge patch naming only operator-owned fields.

    ``message`` is always written when a state is: a stale message from an earlier state
    would mislead (``None`` removes it).
    """
    status = of(body)
    out: dict[str, Any] = {}
    generation = (body.get("metadata") or {}).get("generation")
    if generation is not None:
        out["observedGeneration"] = generation
    if state is not None:
        out["state"] = str(state)
        out["message"] = message
    elif message is not None:
        out["message"] = message
    if ready is not None:
        out["conditions"] = with_ready(status, *ready)
    out.update(fields)
    return {"status": out}


def mirror_target(body: Mapping[str, Any]) -> State | None:
    """The state ``status.state`` should take from the recorder's report, or None to keep it.

    Not while stopping (the finalizer owns ``stopping``), not over an operator-decided error.
    """
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return None
    status = of(body)
    if status.recorder is None or operator_error(status) is not None:
        return None
    target = status.recorder.state
    return None if target == status.state else target


#: The condition a full storage shows. ``StorageFull`` is also the word the recorder reports in
#: ``recorder.reason`` while it waits for space (``recorder/space.py``).
STORAGE = "StorageAvailable"
STORAGE_FULL = "StorageFull"


def storage_conditions(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """All conditions, with ``StorageAvailable`` as the recorder's report says; None when
    nothing needs writing. The condition appears when the storage first fills up (False, with
    the recorder's message) and turns True once the recorder has room again."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return None
    status = of(body)
    if status.recorder is None:
        return None
    full = status.recorder.reason == STORAGE_FULL
    current = next((c for c in status.conditions if c.type == STORAGE), None)
    if current is None and not full:
        return None
    value = "False" if full else "True"
    message = (status.recorder.message or "the storage is full") if full else "the storage has room"
    if current is not None and (current.status, current.message) == (value, message):
        return None
    transition = format_time(now())
    if current is not None and current.status == value and current.last_transition_time:
        transition = current.last_transition_time
    condition = Condition(
        type=STORAGE, status=value, reason=STORAGE_FULL if full else "StorageHasRoom",
        message=message, last_transition_time=transition,
    )
    return [*(c.to_json() for c in status.conditions if c.type != STORAGE), condition.to_json()]
