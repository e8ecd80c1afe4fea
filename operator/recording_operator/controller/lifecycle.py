"""Create and resume: a Recording gets its labels, its transactionId and its one pod.

Runs for every new Recording and, after an operator restart, for every existing one, in one
pass: **resolve** the Recording against the config (once), **decide** what is missing, **act**
(labels, the status fields, the pod), **report** (Events and the log). Each step is
idempotent, so running it again (a retry, a restart) changes nothing that is already right:
the transactionId is written at most once (a resourceVersion precondition guards against a
concurrent writer such as the API), and the pod's fixed name turns a second create into 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import kopf

from ..kube.errors import Conflict
from ..model.naming import pod_name
from ..model.recording import RecordingSpec, RecordingStatus
from ..model.resource import LABEL_APP, LABEL_VALUE, LABEL_VHOST, State
from ..model.task import created_time
from . import actions, events
from . import status as st
from .metrics import instrumented
from .podstatus import owner_uid
from .resolve import ResolveError, check

if TYPE_CHECKING:
    from .running import Context

WAITING = "waiting for the stream"


def missing_labels(body: Mapping[str, Any]) -> dict[str, str]:
    """vhost/app labels a kubectl-made Recording lacks, so ``kubectl get -l`` finds it."""
    spec = body.get("spec") or {}
    labels = (body.get("metadata") or {}).get("labels") or {}
    wanted = {LABEL_VHOST: spec.get("vhost", "default"), LABEL_APP: spec.get("app", "app")}
    return {
        key: value for key, value in wanted.items()
        if isinstance(value, str) and LABEL_VALUE.match(value) and labels.get(key) != value
    }


@dataclass(frozen=True)
class Plan:
    """What this pass does, decided before anything is written."""

    #: Labels to add (kubectl-made Recordings lack them).
    labels: dict[str, str]
    #: Status fields to set once (transactionId, createdTime); empty when they are set.
    fields: dict[str, Any]
    #: The Recording (re)enters ``ready``: new, or retried after an operator-decided error.
    becomes_ready: bool


def decide(body: Mapping[str, Any], status: RecordingStatus, retried: bool) -> Plan:
    fields: dict[str, Any] = {}
    if not status.transaction_id or not status.created_time or not status.state or retried:
        fields = {
            "transactionId": status.transaction_id or st.new_transaction_id(),
            # the API's creation annotation (the createdTime its client already saw), else
            # the creation timestamp of a kubectl-made Recording
            "createdTime": status.created_time or created_time(dict(body)),
        }
    return Plan(
        labels=missing_labels(body), fields=fields, becomes_ready=not status.state or retried
    )


@instrumented("reconcile")
async def reconcile(
    body: kopf.Body,
    spec: kopf.Spec,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    memo: Context,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    ctx = memo
    status = st.of(body)
    earlier_error = st.operator_error(status)
    if earlier_error is not None and earlier_error not in st.RETRIED_ON_RESUME:
        logger.info("in state error (%s); not touched until re-created", earlier_error)
        return
    plan = decide(body, status, retried=earlier_error is not None)
    recording = await _label(ctx, body, plan.labels, meta["resourceVersion"])
    if status.transaction_id and earlier_error is None and await _pod_runs_on(ctx, recording):
        # A restart: the pod was made from a valid resolution and runs on; the pod watch
        # deals with it if it ends. (Re-resolving against a changed config here would
        # declare an error while the recorder keeps recording.)
        return
    try:
        resolution = check(
            RecordingSpec.model_validate(dict(spec)), ctx.settings.config, namespace, name
        )
    except ResolveError as exc:
        if not (earlier_error == st.Reason.UNRESOLVABLE and status.message == str(exc)):
            await actions.declare_error(ctx, recording, st.Reason.UNRESOLVABLE, str(exc))
        return
    if plan.fields:
        recording = await _set_once(ctx, recording, plan)
        logger.info("transactionId %s", plan.fields["transactionId"])
    await actions.make_pod(ctx, recording, "created", resolution)


async def _label(
    ctx: Context, body: kopf.Body, labels: dict[str, str], resource_version: str
) -> dict[str, Any]:
    """The Recording as this pass continues with it: labelled, with its new resourceVersion."""
    recording = dict(body)
    if labels:
        md = recording["metadata"]
        patched = await ctx.recordings.patch(
            md["namespace"], md["name"], {"metadata": {"labels": labels}}
        )
        if patched is None:
            raise kopf.TemporaryError("the Recording is gone", delay=ctx.settings.retry_delay)
        resource_version = patched["metadata"]["resourceVersion"]
    return {**recording, "metadata": {**recording["metadata"], "resourceVersion": resource_version}}


async def _pod_runs_on(ctx: Context, recording: Mapping[str, Any]) -> bool:
    md = recording["metadata"]
    pod = await ctx.pods.read(md["namespace"], pod_name(md["name"]))
    return pod is not None and owner_uid(pod) == md["uid"]


async def _set_once(ctx: Context, recording: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Writes the transactionId and createdTime (and ``ready``) on exactly the version read."""
    md = recording["metadata"]
    patch = st.patch(
        recording,
        state=State.READY if plan.becomes_ready else None,
        message=WAITING if plan.becomes_ready else None,
        **plan.fields,
    )
    try:
        await ctx.recordings.patch_status(
            md["namespace"], md["name"], patch, resource_version=md["resourceVersion"]
        )
    except Conflict:
        raise kopf.TemporaryError(
            "the Recording changed while its status was being set; retrying", delay=0.5
        ) from None
    updated = {**recording, "status": {**(recording.get("status") or {}), **patch["status"]}}
    if plan.becomes_ready:
        events.state_changed(updated, State.READY, f"task created, {WAITING}")
    return updated
