"""The pod watch: a recorder pod that ends or disappears while its Recording is not stopping
is replaced, after an exponential backoff; too many failures in a window end in ``error``.

Every decision is taken on a freshly read Recording and written with its resourceVersion as a
precondition, so a stop that begins meanwhile always wins over a replacement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from ..kube.errors import Conflict
from ..model.naming import pod_name
from ..model.resource import LABEL_RECORDING
from . import actions, events
from . import status as st
from .failures import ANNOTATION, FailureHistory
from .metrics import POD_FAILURES, instrumented
from .podstatus import TERMINATED, describe, owner_uid

if TYPE_CHECKING:
    from .running import Context

_ATTEMPTS = 5


def _active(rec: Mapping[str, Any] | None, owner: str | None) -> bool:
    """The Recording exists, is this pod's owner, is not stopping, is not in operator error."""
    if rec is None:
        return False
    md = rec.get("metadata") or {}
    return (
        md.get("uid") == owner
        and not md.get("deletionTimestamp")
        and st.operator_error(st.of(rec)) is None
    )


async def _count_failure(
    ctx: Context, namespace: str, name: str, pod: Mapping[str, Any], gone: bool
) -> FailureHistory | None:
    """Records the failure once per pod uid; None if the Recording gave up or is not active."""
    backoff = ctx.settings.backoff
    pod_md = pod["metadata"]
    owner = owner_uid(pod)
    for _attempt in range(_ATTEMPTS):
        rec = await ctx.recordings.get(namespace, name)
        if rec is None or not _active(rec, owner):
            return None
        history = FailureHistory.from_annotations(rec["metadata"].get("annotations"))
        if history.has(pod_md["uid"]):
            return history
        at = time.time()
        history = history.add(pod_md["uid"], at, backoff.window)
        recent = history.recent(at, backoff.window)
        what = f"recorder pod {pod_md['name']} {describe(pod, gone)}"
        rv = rec["metadata"]["resourceVersion"]
        try:
            if backoff.exhausted(recent):
                message = (
                    f"{what}; that is {recent} failures within {backoff.window:.0f}s, giving up "
                    "(delete and re-create the Recording to try again)"
                )
                await actions.declare_error(
                    ctx, rec, st.Reason.TOO_MANY_FAILURES, message, resource_version=rv
                )
            else:
                delay = history.replace_at(backoff, at) - at
                message = (
                    f"{what}; replacing it in {delay:.0f}s "
                    f"(failure {recent} of {backoff.limit} allowed within {backoff.window:.0f}s)"
                )
                restarts = (st.of(rec).restarts or 0) + 1
                await ctx.recordings.patch_status(
                    namespace, name,
                    st.patch(rec, ready=(False, st.Reason.POD_FAILED, message), restarts=restarts),
                    resource_version=rv,
                )
                events.warning(rec, str(st.Reason.POD_FAILED), message)
        except Conflict:
            continue
        POD_FAILURES.inc()
        await ctx.recordings.patch(
            namespace, name, {"metadata": {"annotations": {ANNOTATION: history.to_annotation()}}}
        )
        return None if backoff.exhausted(recent) else history
    raise kopf.TemporaryError("the Recording kept changing; will look again", delay=1)


@instrumented("pods")
async def on_pod_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    name: str,
    namespace: str,
    uid: str,
    labels: kopf.Labels,
    memo: Context,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    ctx = memo
    gone = event.get("type") == "DELETED"
    if not gone and (body.get("status") or {}).get("phase") not in TERMINATED:
        return
    recording = labels.get(LABEL_RECORDING)
    if not recording or name != pod_name(recording):
        return
    pod = dict(body)
    owner = owner_uid(pod)
    rec = await ctx.recordings.get(namespace, recording)
    if rec is None or rec["metadata"].get("deletionTimestamp"):
        return  # gone or stopping: the garbage collector / the finalizer handle the pod
    if rec["metadata"].get("uid") != owner:
        # A pod left over from an earlier Recording of the same name; once it is gone, the
        # current Recording gets its own.
        if gone and st.operator_error(st.of(rec)) is None:
            await actions.make_pod(ctx, rec, "created")
        return

    history = await _count_failure(ctx, namespace, recording, pod, gone)
    if history is None:
        return
    if not gone:
        # Free the name for the replacement (a terminated pod goes at once). Its DELETED event
        # runs this again and finds the replacement in place; not relying on that event means
        # a watch that misses it cannot leave the Recording without a pod.
        await ctx.pods.delete(namespace, name, grace_seconds=0, uid=uid)

    wait = history.replace_at(ctx.settings.backoff, time.time()) - time.time()
    if wait > 0:
        logger.info("replacing the recorder pod in %.1fs", wait)
        await asyncio.sleep(wait)
    rec = await ctx.recordings.get(namespace, recording)
    if rec is None or not _active(rec, owner):
        return
    await actions.make_pod(ctx, rec, "replaced")
