"""The pod watch: a recorder pod that ends or disappears while its Recording is not stopping
is replaced, after an exponential backoff; too many failures in a window end in ``error``.

Every decision is taken on a freshly read Recording and written with its resourceVersion as a
precondition, so a stop that begins meanwhile always wins over a replacement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import kopf

from ..model.naming import pod_name
from ..model.recording import parse_status
from ..model.resource import LABEL_RECORDING
from . import actions, events
from . import status as st
from .context import Context
from .failures import ANNOTATION, FailureHistory
from .kubeapi import Conflict
from .metrics import POD_FAILURES, instrumented

TERMINATED = ("Failed", "Succeeded")
_ATTEMPTS = 5


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
    phase = status.get("phase")
    if phase in TERMINATED:
        detail = ": ".join(x for x in (status.get("reason"), status.get("message")) if x)
        return f"ended ({phase})" + (f": {detail}" if detail else "")
    return "disappeared (deleted or evicted)" if gone else f"is {phase}"


def _active(rec: dict[str, Any] | None, owner_uid: str | None) -> bool:
    """The Recording exists, is this pod's owner, is not stopping, is not in operator error."""
    return (
        rec is not None
        and actions.meta(rec).get("uid") == owner_uid
        and not actions.meta(rec).get("deletionTimestamp")
        and st.operator_error(parse_status(rec)) is None
    )


async def _count_failure(
    ctx: Context, namespace: str, name: str, pod: Mapping[str, Any], gone: bool
) -> FailureHistory | None:
    """Records the failure once per pod uid; None if the Recording gave up or is not active."""
    backoff = ctx.settings.backoff
    pod_uid = actions.meta(pod)["uid"]
    owner = actions.controller_uid(pod)
    for _attempt in range(_ATTEMPTS):
        rec = await ctx.api.get_recording(namespace, name)
        if rec is None or not _active(rec, owner):
            return None
        history = FailureHistory.from_annotations(actions.meta(rec).get("annotations"))
        if history.has(pod_uid):
            return history
        at = time.time()
        history = history.add(pod_uid, at, backoff.window)
        recent = history.recent(at, backoff.window)
        what = f"recorder pod {actions.meta(pod)['name']} {describe(pod, gone)}"
        rv = actions.meta(rec)["resourceVersion"]
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
                restarts = (parse_status(rec).restarts or 0) + 1
                await ctx.api.patch_status(
                    namespace, name,
                    st.patch(rec, ready=(False, st.Reason.POD_FAILED, message), restarts=restarts),
                    resource_version=rv,
                )
                events.warning(rec, str(st.Reason.POD_FAILED), message)
        except Conflict:
            continue
        POD_FAILURES.inc()
        await ctx.api.patch_recording(
            namespace, name, {"metadata": {"annotations": {ANNOTATION: history.to_annotation()}}}
        )
        return None if backoff.exhausted(recent) else history
    raise kopf.TemporaryError("the Recording kept changing; will look again", delay=1)


@instrumented("pods")
async def on_pod_event(
    event: kopf.RawEvent, body: kopf.Body, memo: Context, logger: kopf.Logger, **_: Any
) -> None:
    ctx = memo
    pod = actions.plain(body)
    md = actions.meta(pod)
    namespace = md["namespace"]
    gone = event.get("type") == "DELETED"
    if not gone and (pod.get("status") or {}).get("phase") not in TERMINATED:
        return
    name = (md.get("labels") or {}).get(LABEL_RECORDING)
    if not name or md["name"] != pod_name(name):
        return
    owner = actions.controller_uid(pod)
    rec = await ctx.api.get_recording(namespace, name)
    if rec is None or actions.meta(rec).get("deletionTimestamp"):
        return  # gone or stopping: the garbage collector / the finalizer handle the pod
    if actions.meta(rec).get("uid") != owner:
        # A pod left over from an earlier Recording of the same name; once it is gone, the
        # current Recording gets its own.
        if gone and st.operator_error(parse_status(rec)) is None:
            await actions.make_pod(ctx, rec, "created")
        return

    history = await _count_failure(ctx, namespace, name, pod, gone)
    if history is None:
        return
    if not gone:
        # Free the name for the replacement (a terminated pod goes at once). Its DELETED event
        # runs this again and finds the replacement in place; not relying on that event means
        # a watch that misses it cannot leave the Recording without a pod.
        await ctx.api.delete_pod(namespace, md["name"], grace_seconds=0, uid=md["uid"])

    wait = history.replace_at(ctx.settings.backoff, time.time()) - time.time()
    if wait > 0:
        logger.info("replacing the recorder pod in %.1fs", wait)
        await asyncio.sleep(wait)
    rec = await ctx.api.get_recording(namespace, name)
    if rec is None or not _active(rec, owner):
        return
    await actions.make_pod(ctx, rec, "replaced")
