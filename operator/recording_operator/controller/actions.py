"""What the handlers do to a Recording: make its pod, declare an error, say how its pod is.

Shared by the reconcile, the pod watch and the start watch, so a first pod and a replacement
are made alike and every verdict reaches the user the same three ways: ``status`` (state,
message, the ``Ready`` condition), an Event, and a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from ..kube.errors import Invalid, KubeError
from ..model.naming import pod_name
from ..model.recording import parse_spec
from ..model.reporting import progress_interval
from ..model.resource import State
from . import events
from . import status as st
from .metrics import PODS_CREATED
from .podspec import Owner, build_pod
from .podstatus import owner_uid
from .resolve import Resolution, ResolveError, check

if TYPE_CHECKING:
    from .running import Context

log = logging.getLogger(__name__)

Recording = Mapping[str, Any]


class PodRejected(Exception):
    """The API server refused the pod itself (400/422): retrying the same pod cannot help."""


def _names(recording: Recording) -> tuple[str, str, str]:
    md = recording.get("metadata") or {}
    return md["namespace"], md["name"], md["uid"]


async def ensure_pod(
    ctx: Context, recording: Recording, resolution: Resolution | None = None
) -> bool:
    """Creates the Recording's pod unless it exists; True if this call created it.

    Needs ``status.transactionId`` set. Without a ``resolution`` (a replacement) the Recording
    is checked against the config here. Raises :class:`~.resolve.ResolveError` if it does not
    resolve, :class:`PodRejected` if the API refuses the pod.
    """
    namespace, name, uid = _names(recording)
    status = st.of(recording)
    if not status.transaction_id:
        raise kopf.TemporaryError("the transactionId is not set yet", delay=1)
    if resolution is None:
        resolution = check(parse_spec(dict(recording)), ctx.settings.config, namespace, name)
    pod = build_pod(
        resolution.resolved(status.transaction_id, status.created_time),
        Owner(namespace, name, uid), ctx.settings.config.recorder, resolution.app.storage,
        progress_interval(len(ctx.census), ctx.settings.status_writes_per_second),
    )
    try:
        created = await ctx.pods.create(namespace, pod)
    except Invalid as exc:
        raise PodRejected(exc.detail) from exc
    except KubeError as exc:
        # e.g. 403 for a missing service account or an exhausted quota: may heal, so retry
        raise kopf.TemporaryError(str(exc), delay=ctx.settings.retry_delay) from exc
    if created:
        PODS_CREATED.inc()
        return True
    existing = await ctx.pods.read(namespace, pod_name(name))
    if existing is not None and owner_uid(existing) != uid:
        raise kopf.TemporaryError(
            f"pod {pod_name(name)} of an earlier Recording named {name} is still being removed",
            delay=ctx.settings.retry_delay,
        )
    return False


async def declare_error(
    ctx: Context,
    recording: Recording,
    reason: st.Reason,
    message: str,
    resource_version: str | None = None,
) -> None:
    """State ``error`` decided by the operator: status, a Warning Event, a log line.

    Raises :class:`~recording_operator.kube.errors.Conflict` if ``resource_version`` is given
    and stale.
    """
    namespace, name, _ = _names(recording)
    await ctx.recordings.patch_status(
        namespace, name,
        st.patch(recording, state=State.ERROR, message=message, ready=(False, reason, message)),
        resource_version=resource_version,
    )
    events.warning(recording, str(reason), message)
    log.warning("%s/%s: error (%s): %s", namespace, name, reason, message)


async def report_pod(
    ctx: Context, recording: Recording, ok: bool, reason: st.Reason, message: str
) -> None:
    """How the pod is, as the ``Ready`` condition, with an Event (Normal or Warning)."""
    namespace, name, _ = _names(recording)
    await ctx.recordings.patch_status(
        namespace, name, st.patch(recording, ready=(ok, reason, message))
    )
    if ok:
        events.normal(recording, str(reason), message)
    else:
        events.warning(recording, str(reason), message)
    log.info("%s/%s: %s", namespace, name, message)


async def make_pod(
    ctx: Context, recording: Recording, what: str, resolution: Resolution | None = None
) -> None:
    """:func:`ensure_pod`, with its refusals turned into the operator's ``error`` state.

    ``what`` says what the new pod is to the user ("created", "replaced").
    """
    try:
        created = await ensure_pod(ctx, recording, resolution)
    except ResolveError as exc:
        await declare_error(ctx, recording, st.Reason.UNRESOLVABLE, str(exc))
        return
    except PodRejected as exc:
        await declare_error(
            ctx, recording, st.Reason.POD_REJECTED, f"the recorder pod was refused: {exc}"
        )
        return
    if created:
        _, name, _ = _names(recording)
        await report_pod(
            ctx, recording, True, st.Reason.POD_CREATED, f"recorder pod {pod_name(name)} {what}"
        )
