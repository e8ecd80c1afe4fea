"""What a recorder pod's manifest and status say, in the words the user reads.

Pure readers of a pod as a plain dict, shared by the handlers: whose pod it is, whether it has
started, ended or is held up, and why (the kubelet's or the scheduler's own reason and message,
which end up in ``status.message``, the ``Ready`` condition and the Recording's Events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.resource import KIND
from ..model.timefmt import parse_time

TERMINATED = ("Failed", "Succeeded")
#: Waiting reasons of a container that is on its way: not a problem, however long they last
#: (a slow image pull is bounded by the start timeout, not reported as a fault).
_ON_ITS_WAY = frozenset({"ContainerCreating", "PodInitializing"})


def owner_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the Recording that controls this pod."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == KIND and ref.get("controller"):
            uid: str | None = ref.get("uid")
            return uid
    return None


def phase(pod: Mapping[str, Any]) -> str | None:
    value: str | None = (pod.get("status") or {}).get("phase")
    return value


def started(pod: Mapping[str, Any]) -> bool:
    """The kubelet has run the recorder (it runs, or already ended)."""
    return phase(pod) in ("Running", *TERMINATED)


def start_problem(pod: Mapping[str, Any]) -> str | None:
    """Why a pod that has not started is held up, in the kubelet's or scheduler's words
    ("ImagePullBackOff: Back-off pulling image …", "Unschedulable: 0/3 nodes are available…"),
    or None when nothing is wrong yet (or it has started)."""
    if started(pod):
        return None
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in _ON_ITS_WAY:
            return _words(reason, waiting.get("message"))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return _words(condition.get("reason") or "Unschedulable", condition.get("message"))
    return None


def age(pod: Mapping[str, Any], now: float) -> float:
    """Seconds since the pod was created (0 when the API has not said)."""
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return 0.0
    return max(0.0, now - parse_time(str(created)).timestamp())


def describe(pod: Mapping[str, Any], gone: bool) -> str:
    """How the pod ended, in words for ``status.message`` and Events."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        ended = ((container.get("state") or {}).get("terminated")
                 or (container.get("lastState") or {}).get("terminated"))
        if ended:
            text = f"exited with code {ended.get('exitCode')}"
            if ended.get("reason"):
                text += f" ({ended['reason']})"
            if ended.get("message"):
                text += f": {str(ended['message']).strip().splitlines()[-1][:200]}"
            return text
    current = status.get("phase")
    if current in TERMINATED:
        detail = ": ".join(x for x in (status.get("reason"), status.get("message")) if x)
        return f"ended ({current})" + (f": {detail}" if detail else "")
    return "disappeared (deleted or evicted)" if gone else f"is {current}"


def _words(reason: str, message: Any) -> str:
    text = str(message or "").strip().splitlines()
    return f"{reason}: {text[-1][:300]}" if text else reason
