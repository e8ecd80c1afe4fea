"""Mirrors the recorder's own state into ``status.state``, the field clients read.

The recorder reports in ``status.recorder``; the operator copies its state (and message) into
the operator-owned ``state`` unless the Recording is stopping or in an error the operator
decided. The write carries the resourceVersion it was decided on: if anything changed
meanwhile (a stop began, the operator declared an error), it is dropped, and the next watch
event decides again on fresh data.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..model.recording import parse_status
from . import actions, events
from . import status as st
from .context import Context
from .kubeapi import Conflict
from .metrics import instrumented


@instrumented("mirror")
async def on_recording_event(
    event: kopf.RawEvent, body: kopf.Body, memo: Context, logger: kopf.Logger, **_: Any
) -> None:
    ctx = memo
    rec = actions.plain(body)
    md = actions.meta(rec)
    if event.get("type") == "DELETED":
        ctx.census.forget(md["uid"])
        return
    status = parse_status(rec)
    ctx.census.observe(md["uid"], status.state)
    target = st.mirror_target(rec)
    if target is None:
        return
    assert status.recorder is not None
    message = status.recorder.message
    try:
        await ctx.api.patch_status(
            md["namespace"], md["name"], st.patch(rec, state=target, message=message),
            resource_version=md["resourceVersion"],
        )
    except Conflict:
        return
    events.state_changed(rec, target, message or f"{target}, as the recorder reports")
    logger.info("state %s (from the recorder)", target)
