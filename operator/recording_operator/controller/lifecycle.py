"""Create and resume: a Recording gets its labels, its transactionId and its one pod.

Runs for every new Recording and, after an operator restart, for every existing one. Each step
is idempotent, so running it again (a retry, a restart) changes nothing that is already right:
the transactionId is written at most once (a resourceVersion precondition guards against a
concurrent writer such as the API), and the pod's fixed name turns a second create into 409.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import kopf

from ..model.naming import pod_name
from ..model.recording import parse_spec, parse_status
from ..model.resource import LABEL_APP, LABEL_VHOST, State
from ..model.task import created_time
from . import actions, events
from . import status as st
from .context import Context
from .kubeapi import Conflict
from .metrics import instrumented
from .resolve import ResolveError, check

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
WAITING = "waiting for the stream"


def missing_labels(body: Mapping[str, Any]) -> dict[str, str]:
    """vhost/app labels a kubectl-made Recording lacks, so the API's labelled LIST finds it."""
    spec = body.get("spec") or {}
    labels = (body.get("metadata") or {}).get("labels") or {}
    wanted = {LABEL_VHOST: spec.get("vhost", "default"), LABEL_APP: spec.get("app", "app")}
    return {
        key: value for key, value in wanted.items()
        if isinstance(value, str) and _LABEL_VALUE.match(value) and labels.get(key) != value
    }


@instrumented("reconcile")
async def reconcile(body: kopf.Body, memo: Context, logger: kopf.Logger, **_: Any) -> None:
    ctx = memo
    rec = actions.plain(body)
    md = actions.meta(rec)
    namespace, name = md["namespace"], md["name"]
    status = parse_status(rec)
    earlier_error = st.operator_error(status)
    if earlier_error is not None and earlier_error not in st.RETRIED_ON_RESUME:
        logger.info("in state error (%s); not touched until re-created", earlier_error)
        return

    resource_version: str = md["resourceVersion"]
    labels = missing_labels(rec)
    if labels:
        patched = await ctx.api.patch_recording(namespace, name, {"metadata": {"labels": labels}})
        resource_version = patched["metadata"]["resourceVersion"]

    if status.transaction_id and earlier_error is None:
        pod = await ctx.api.read_pod(namespace, pod_name(name))
        if pod is not None and actions.controller_uid(pod) == md["uid"]:
            # A restart: the pod was made from a valid resolution and runs on; the pod watch
            # deals with it if it ends. (Re-resolving against a changed config here would
            # declare an error while the recorder keeps recording.)
            return

    try:
        check(parse_spec(rec), ctx.settings.config, namespace, name)
    except ResolveError as exc:
        if not (earlier_error == st.Reason.UNRESOLVABLE and status.message == str(exc)):
            await actions.declare_error(ctx, rec, st.Reason.UNRESOLVABLE, str(exc))
        return

    if not status.transaction_id or not status.created_time or not status.state or earlier_error:
        fields: dict[str, Any] = {
            "transactionId": status.transaction_id or st.new_transaction_id(),
            # the API's creation annotation (the createdTime its client already saw), else
            # the creation timestamp of a kubectl-made Recording
            "createdTime": status.created_time or created_time(rec),
        }
        becomes_ready = not status.state or earlier_error is not None
        patch = st.patch(
            rec,
            state=State.READY if becomes_ready else None,
            message=WAITING if becomes_ready else None,
            **fields,
        )
        try:
            await ctx.api.patch_status(
                namespace, name, patch, resource_version=resource_version
            )
        except Conflict:
            raise kopf.TemporaryError(
                "the Recording changed while its status was being set; retrying", delay=0.5
            ) from None
        rec = {**rec, "status": {**(rec.get("status") or {}), **patch["status"]}}
        if becomes_ready:
            events.state_changed(rec, State.READY, f"task created, {WAITING}")
        logger.info("transactionId %s", fields["transactionId"])

    await actions.make_pod(ctx, rec, "created")
