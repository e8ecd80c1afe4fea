"""Stopping: the finalizer holds a deleted Recording until its last file is safe.

``stopRecord`` (or ``kubectl delete``) deletes the Recording; the finalizer keeps it, in state
``stopping``, while the recorder pod gets SIGTERM with its full grace period and finishes the
current file. The finalizer is released once the recorder reports ``finished``, or the pod is
gone, or — for a pod stuck on a lost node — after the stop timeout, when the pod is
force-deleted and an Event says the last file may be incomplete.

The checks come quickly at first and then back off (:func:`poll_delay`): a recorder finishes
its file within a second of SIGTERM, and kopf does not re-run a delayed handler when the
recorder's report arrives, so a fixed ``--stop-poll`` interval was the latency of every stop
(measured: 2.2 s of the 2 s default, bench/stream_latency.py).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import kopf

from ..model.naming import pod_name
from ..model.resource import State
from . import events
from . import status as st
from .metrics import FORCED_STOPS, Waiting, instrumented
from .podstatus import TERMINATED, describe, owner_uid

if TYPE_CHECKING:
    from .running import Context

STOPPING = "stopping: the recorder is finishing its current file"
#: The first re-check after the pod got SIGTERM; doubled on each further check.
FIRST_POLL = 0.25


def poll_delay(retry: int, longest: float) -> float:
    """When to check again: 0.25 s, 0.5 s, 1 s, … up to ``longest`` (``--stop-poll``)."""
    return min(longest, FIRST_POLL * (1 << min(max(retry, 0), 20)))


@instrumented("stop")
async def finalize(
    body: kopf.Body,
    name: str,
    namespace: str,
    uid: str,
    memo: Context,
    logger: kopf.Logger,
    runtime: datetime.timedelta,
    retry: int,
    **_: Any,
) -> None:
    ctx = memo
    status = st.of(body)
    if status.state != State.STOPPING:
        await ctx.recordings.patch_status(
            namespace, name,
            st.patch(body, state=State.STOPPING, message=STOPPING,
                     ready=(False, st.Reason.STOPPING, STOPPING)),
        )
        events.state_changed(body, State.STOPPING, STOPPING)
        logger.info("stopping")

    pname = pod_name(name)
    pod = await ctx.pods.read(namespace, pname)
    if pod is None or owner_uid(pod) != uid:
        events.normal(body, "Stopped", "the recorder pod is gone; the Recording is removed")
        return
    pod_uid = pod["metadata"]["uid"]
    report = status.recorder
    # Only the report of the pod being stopped counts: one that names no pod, or an earlier
    # pod (drained with its node, it also finished), is no news of this pod's last file. The
    # recorder admission policy lets a recorder stamp its own pod's uid only.
    if report is not None and report.finished and report.pod_uid == pod_uid:
        events.normal(
            body, "Stopped", "the recorder finished its last file; the Recording is removed"
        )
        return
    if (pod.get("status") or {}).get("phase") in TERMINATED:
        await ctx.pods.delete(namespace, pname, grace_seconds=0, uid=pod_uid)
        events.warning(
            body, "StoppedUnfinished",
            f"the recorder pod {describe(pod, False)} without reporting its last file",
        )
        return

    timeout = ctx.settings.effective_stop_timeout()
    if runtime.total_seconds() >= timeout:
        await ctx.pods.delete(namespace, pname, grace_seconds=0, uid=pod_uid)
        FORCED_STOPS.inc()
        events.warning(
            body, "ForcedStop",
            f"the recorder pod did not stop within {timeout:.0f}s and was force-deleted; "
            "its last file may be incomplete",
        )
        logger.warning("force-deleted pod %s after %.0fs", pname, timeout)
        return

    if not pod["metadata"].get("deletionTimestamp"):
        grace = ctx.settings.config.recorder.termination_grace_period_seconds
        await ctx.pods.delete(namespace, pname, grace_seconds=grace, uid=pod_uid)
        # A pod that never ran (not bound to a node) is removed at once: no need to wait.
        if await ctx.pods.read(namespace, pname) is None:
            events.normal(
                body, "Stopped", "the recorder pod had not started; the Recording is removed"
            )
            return
    raise Waiting(
        "waiting for the recorder to finish its last file",
        delay=poll_delay(retry, ctx.settings.stop_poll),
    )
