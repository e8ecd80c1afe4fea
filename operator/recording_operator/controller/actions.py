"""What the handlers do to a Recording: make its pod, declare an error. Shared by the
create/resume handler and the pod watch, so a first pod and a replacement are made alike."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes_asyncio.client.exceptions import ApiException

from ..model.naming import pod_name
from ..model.recording import parse_spec, parse_status
from ..model.resource import KIND, State
from . import events
from . import status as st
from .context import Context
from .kubeapi import message_of
from .metrics import PODS_CREATED
from .podspec import Owner, build_pod
from .resolve import ResolveError, resolve

log = logging.getLogger(__name__)


def plain(body: Mapping[str, Any]) -> dict[str, Any]:
    """kopf's body views as the plain dict the model functions read."""
    return dict(body)


def meta(body: Mapping[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = body.get("metadata") or {}
    return value


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the Recording that controls this pod."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("kind") == KIND and ref.get("controller"):
            uid: str | None = ref.get("uid")
            return uid
    return None


class PodRejected(Exception):
    """The API server refused the pod itself (400/422): retrying the same pod cannot help."""


async def ensure_pod(ctx: Context, body: dict[str, Any]) -> bool:
    """Creates the Recording's pod unless it exists; True if this call created it.

    Needs ``status.transactionId`` set. Raises :class:`~.resolve.ResolveError` if the
    Recording does not resolve, :class:`PodRejected` if the API refuses the pod.
    """
    config = ctx.settings.config
    md = meta(body)
    namespace, name, uid = md["namespace"], md["name"], md["uid"]
    spec = parse_spec(body)
    status = parse_status(body)
    if not status.transaction_id:
        raise kopf.TemporaryError("the transactionId is not set yet", delay=1)
    resolved = resolve(
        spec, config, namespace=namespace, name=name,
        transaction_id=status.transaction_id, created_time=status.created_time,
    )
    app = config.app(spec.vhost, spec.app)
    assert app is not None  # resolve() refused unknown apps
    pod = build_pod(resolved, Owner(namespace, name, uid), config.recorder, app.storage)
    try:
        created = await ctx.api.create_pod(namespace, pod)
    except ApiException as exc:
        if exc.status in (400, 422):
            raise PodRejected(message_of(exc)) from exc
        # e.g. 403 for a missing service account or an exhausted quota: may heal, so retry
        raise kopf.TemporaryError(
            f"creating pod {pod['metadata']['name']} failed: {message_of(exc)}",
            delay=ctx.settings.retry_delay,
        ) from exc
    if created:
        PODS_CREATED.inc()
        return True
    existing = await ctx.api.read_pod(namespace, pod_name(name))
    if existing is not None and controller_uid(existing) != uid:
        raise kopf.TemporaryError(
            f"pod {pod_name(name)} of an earlier Recording named {name} is still being removed",
            delay=ctx.settings.retry_delay,
        )
    return False


async def declare_error(
    ctx: Context,
    body: dict[str, Any],
    reason: st.Reason,
    message: str,
    resource_version: str | None = None,
) -> None:
    """State ``error`` decided by the operator: status, a Warning Event, a log line.

    Raises :class:`~.kubeapi.Conflict` if ``resource_version`` is given and stale.
    """
    md = meta(body)
    await ctx.api.patch_status(
        md["namespace"], md["name"],
        st.patch(body, state=State.ERROR, message=message, ready=(False, reason, message)),
        resource_version=resource_version,
    )
    events.warning(body, str(reason), message)
    log.warning("%s/%s: error (%s): %s", md["namespace"], md["name"], reason, message)


async def pod_in_place(ctx: Context, body: dict[str, Any], what: str) -> None:
    """Marks Ready=True after this operator created the pod, with an Event saying so."""
    md = meta(body)
    message = f"recorder pod {pod_name(md['name'])} {what}"
    await ctx.api.patch_status(
        md["namespace"], md["name"], st.patch(body, ready=(True, st.Reason.POD_CREATED, message))
    )
    events.normal(body, str(st.Reason.POD_CREATED), message)
    log.info("%s/%s: %s", md["namespace"], md["name"], message)


async def make_pod(ctx: Context, body: dict[str, Any], what: str) -> None:
    """:func:`ensure_pod`, with its refusals turned into the operator's ``error`` state.

    ``what`` says what the new pod is to the user ("created", "replaced").
    """
    try:
        created = await ensure_pod(ctx, body)
    except ResolveError as exc:
        await declare_error(ctx, body, st.Reason.UNRESOLVABLE, str(exc))
        return
    except PodRejected as exc:
        await declare_error(
            ctx, body, st.Reason.POD_REJECTED, f"the recorder pod was refused: {exc}"
        )
        return
    if created:
        await pod_in_place(ctx, body, what)
