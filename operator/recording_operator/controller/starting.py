"""The start watch: a recorder pod that does not start is seen, said, and given up on.

A pod stuck Pending (no node fits it), in ImagePullBackOff or in CreateContainerConfigError
(a missing Secret or ConfigMap) never ends, so the pod watch, which acts on pods that end,
would leave its Recording ``ready`` forever. While a Recording's pod has not been seen running
(``Ready`` still says PodCreated or PodPending), a kopf timer looks at the pod every
:meth:`~.settings.OperatorSettings.start_check_interval`:

* running (or ended: the pod watch has it) — ``Ready`` says PodRunning, and the timer stops;
* held up with a reason — ``Ready`` is False with the kubelet's or scheduler's words, and a
  Warning Event says the same (once per new reason);
* not running ``--pod-start-timeout`` after its creation — state ``error`` (PodStuck) with
  the last reason, then the pod is deleted, so a late start cannot record under an error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from ..kube.errors import Conflict
from ..model.naming import pod_name
from . import actions
from . import status as st
from .metrics import instrumented
from .podstatus import age, owner_uid, start_problem, started

if TYPE_CHECKING:
    from .running import Context


def not_yet_started(body: kopf.Body, **_: Any) -> bool:
    """The timer's filter: a Recording not stopping, not in an operator error, whose pod has
    not been seen running."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = st.of(body)
    return st.operator_error(status) is None and st.ready_reason(status) in st.NOT_YET_STARTED


@instrumented("start")
async def check_start(
    body: kopf.Body, meta: kopf.Meta, name: str, namespace: str, uid: str, memo: Context, **_: Any
) -> None:
    ctx = memo
    pod = await ctx.pods.read(namespace, pod_name(name))
    if pod is None or owner_uid(pod) != uid:
        return  # not made yet, or an earlier Recording's: the reconcile and pod watch act
    if started(pod):
        await actions.report_pod(
            ctx, body, True, st.Reason.POD_RUNNING, f"recorder pod {pod_name(name)} started"
        )
        return
    problem = start_problem(pod)
    timeout = ctx.settings.pod_start_timeout
    if age(pod, time.time()) >= timeout:
        await _give_up(ctx, body, pod, problem, meta["resourceVersion"])
        return
    if problem is not None:
        message = f"recorder pod {pod_name(name)} cannot start: {problem}"
        if _said(body, message):
            return
        await actions.report_pod(ctx, body, False, st.Reason.POD_PENDING, message)


def _said(body: Mapping[str, Any], message: str) -> bool:
    condition = st.ready_condition(st.of(body))
    return condition is not None and condition.message == message


async def _give_up(
    ctx: Context,
    body: kopf.Body,
    pod: Mapping[str, Any],
    problem: str | None,
    resource_version: str,
) -> None:
    """``error`` first (decided on this very version), then the pod goes: the pod watch sees
    an operator error and does not replace it."""
    name = pod["metadata"]["name"]
    timeout = ctx.settings.pod_start_timeout
    message = (
        f"recorder pod {name} did not start within {timeout:.0f}s: "
        f"{problem or 'still Pending'} (fix the cause, then delete and re-create the Recording)"
    )
    try:
        await actions.declare_error(
            ctx, body, st.Reason.POD_STUCK, message, resource_version=resource_version
        )
    except Conflict:
        return  # the Recording changed meanwhile: the next tick decides on fresh data
    await ctx.pods.delete(
        pod["metadata"]["namespace"], name, grace_seconds=0, uid=pod["metadata"]["uid"]
    )
