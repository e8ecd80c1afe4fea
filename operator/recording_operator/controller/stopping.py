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
from typing import Any

import kopf

from ..model.naming import pod_name
from ..model.recording import parse_status
from ..model.resource import State
from . import actions, events
from . import status as st
from .context import Context
from .metrics import FORCED_STOPS, Waiting, instrumented
from .pods import TERMINATED, describe

STOPPING = "stopping: the recorder is finishing its current file"
#: The first re-check after the pod got SIGTERM; doubled on each further check.
FIRST_POLL = 0.25


def poll_delay(retry: int, longest: float) -> float:
    """When to check again: 0.25 s, 0.5 s, 1 s, … up to ``longest`` (``--stop-poll``)."""
    return min(longest, FIRST_POLL * (1 << min(max(retry, 0), 20)))


@instrumented("stop")
async def finalize(
    body: kopf.Body,
    memo: Context,
    logger: kopf.Logger,
    runtime: datetime.timedelta,
    retry: int,
    **_: Any,
) -> None:
    ctx = memo
    rec = actions.plain(body)
    md = actions.meta(rec)
    namespace, name, uid = md["namespace"], md["name"], md["uid"]
    status = parse_status(rec)
    if status.state != State.STOPPING:
        await ctx.api.patch_status(
            namespace, name,
            st.patch(rec, state=State.STOPPING, message=STOPPING,
                     ready=(False, st.Reason.STOPPING, STOPPING)),
        )
        events.state_changed(rec, State.STOPPING, STOPPING)
        logger.info("stopping")

    pname = pod_name(name)
    pod = await ctx.api.read_pod(namespace, pname)
    if pod is None or actions.controller_uid(pod) != uid:
        events.normal(rec, "Stopped", "the recorder pod is gone; the Recording is removed")
        return
    pod_uid = actions.meta(pod)["uid"]
    report = status.recorder
    if report is not None and report.finished and report.pod_uid in (None, pod_uid):
        events.normal(
            rec, "Stopped", "the recorder finished its last file; the Recording is removed"
        )
        return
    if (pod.get("status") or {}).get("phase") in TERMINATED:
        await ctx.api.delete_pod(namespace, pname, grace_seconds=0, uid=pod_uid)
        events.warning(
            rec, "StoppedUnfinished",
            f"the recorder pod {describe(pod, False)} without reporting its last file",
        )
        return

    timeout = ctx.settings.effective_stop_timeout()
    if runtime.total_seconds() >= timeout:
        await ctx.api.delete_pod(namespace, pname, grace_seconds=0, uid=pod_uid)
        FORCED_STOPS.inc()
        events.warning(
            rec, "ForcedStop",
            f"the recorder pod did not stop within {timeout:.0f}s and was force-deleted; "
            "its last file may be incomplete",
        )
        logger.warning("force-deleted pod %s after %.0fs", pname, timeout)
        return

    if not actions.meta(pod).get("deletionTimestamp"):
        grace = ctx.settings.config.recorder.termination_grace_period_seconds
        await ctx.api.delete_pod(namespace, pname, grace_seconds=grace, uid=pod_uid)
        # A pod that never ran (not bound to a node) is removed at once: no need to wait.
        if await ctx.api.read_pod(namespace, pname) is None:
            events.normal(
                rec, "Stopped", "the recorder pod had not started; the Recording is removed"
            )
            return
    raise Waiting(
        "waiting for the recorder to finish its last file",
        delay=poll_delay(retry, ctx.settings.stop_poll),
    )
