"""Mirrors the recorder's own state into ``status.state``, the field clients read.

The recorder reports in ``status.recorder``; the operator copies its state (and message) into
the operator-owned ``state`` unless the Recording is stopping or in an error the operator
decided. The write carries the resourceVersion it was decided on: if anything changed
meanwhile (a stop began, the operator declared an error), it is dropped, and the next watch
event decides again on fresh data.

Most events of a Recording are the recorder's progress reports (every few seconds per task,
bytes and times only). :func:`worth_handling` is the handler's kopf filter: such an event
changes neither the state to mirror nor the census, so it wakes no handler at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kopf

from ..kube.errors import Conflict
from . import events
from . import status as st
from .metrics import instrumented

if TYPE_CHECKING:
    from .running import Context


def worth_handling(
    body: kopf.Body, uid: str, memo: Context, type: str | None = None, **_: Any
) -> bool:
    """True for an event that changes what the handler does: the Recording went away, its
    ``state`` is not the one the census counts, or the recorder's state needs mirroring."""
    if type == "DELETED":
        return True
    state = (body.get("status") or {}).get("state")
    return (memo.census.state_of(uid) != (state or "none") or st.mirror_target(body) is not None
            or st.storage_conditions(body) is not None)


@instrumented("mirror")
async def on_recording_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    name: str,
    namespace: str,
    uid: str,
    meta: kopf.Meta,
    memo: Context,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    ctx = memo
    if event.get("type") == "DELETED":
        ctx.census.forget(uid)
        return
    status = st.of(body)
    ctx.census.observe(uid, status.state)
    target = st.mirror_target(body)
    conditions = st.storage_conditions(body)  # a full storage shows as a condition
    if (target is None and conditions is None) or status.recorder is None:
        return
    message = status.recorder.message
    extra: dict[str, Any] = {} if conditions is None else {"conditions": conditions}
    try:
        await ctx.recordings.patch_status(
            namespace, name, st.patch(body, state=target, message=message, **extra),
            resource_version=meta["resourceVersion"],
        )
    except Conflict:
        return
    if target is None:
        return
    events.state_changed(body, target, message or f"{target}, as the recorder reports")
    logger.info("state %s (from the recorder)", target)
