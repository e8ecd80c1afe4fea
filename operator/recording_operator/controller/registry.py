"""Wires the handlers into a kopf registry of their own (no import-time global registration),
so the operator is built from its settings and tests can build several."""

from __future__ import annotations

import kopf

from ..model.resource import GROUP, LABEL_MANAGED_BY, LABEL_RECORDING, MANAGED_BY, PLURAL, VERSION
from . import lifecycle, mirror, pods, stopping
from .login import login_handler
from .settings import OperatorSettings


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    kopf.on.login(id="login", registry=registry)(login_handler(settings.kube))

    recordings = (GROUP, VERSION, PLURAL)
    # The same idempotent reconcile for new Recordings and, after a restart, existing ones.
    kopf.on.resume(
        *recordings, id="reconcile", backoff=settings.retry_delay, registry=registry
    )(lifecycle.reconcile)
    kopf.on.create(
        *recordings, id="reconcile", backoff=settings.retry_delay, registry=registry
    )(lifecycle.reconcile)
    # Registering a deletion handler makes kopf put settings.persistence.finalizer on
    # every Recording and hold it there until this handler succeeds.
    kopf.on.delete(
        *recordings, id="stop", backoff=settings.stop_poll, registry=registry
    )(stopping.finalize)
    kopf.on.event(*recordings, id="mirror", registry=registry)(mirror.on_recording_event)
    kopf.on.event(
        "v1", "pods", id="pods", registry=registry,
        labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_RECORDING: kopf.PRESENT},
    )(pods.on_pod_event)
    return registry
