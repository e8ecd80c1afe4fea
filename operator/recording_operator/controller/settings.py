"""The operator's typed settings, and how they configure kopf.

Everything that decides behaviour a user or a test can observe (which namespaces, how long a
stop may take, how fast a crashing recorder is replaced) is a field here with a flag in
``cli/run_cmd.py``, so tests run the real operator with short timeouts instead of patching it.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

import kopf

from ..kube.connection import KubeTarget
from ..model.config import Config
from ..model.resource import FINALIZER, GROUP, LABEL_MANAGED_BY, LABEL_RECORDING, MANAGED_BY
from .failures import Backoff

#: Only recorder pods are watched: the API server filters, so other pods cost nothing.
POD_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RECORDING}"


@dataclass(frozen=True)
class OperatorSettings:
    config: Config
    kube: KubeTarget = field(default_factory=KubeTarget)
    #: Namespaces to watch; empty (and not ``all_namespaces``): those the config names.
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    #: A kopf peering name for several replicas; None: standalone (one replica, Recreate).
    peering: str | None = None
    liveness_port: int | None = 8080
    metrics_port: int | None = 9090
    bind_address: str = "0.0.0.0"
    #: How long a stop may take before the pod is force-deleted; None: grace period + 30 s.
    stop_timeout: float | None = None
    #: The longest interval between checks of a stopping Recording (they start at 0.25 s).
    stop_poll: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)
    #: Retry delay of a handler that met a transient API error.
    retry_delay: float = 5.0
    instance: str = field(default_factory=socket.gethostname)

    def watched_namespaces(self) -> list[str]:
        return sorted(set(self.namespaces)) if self.namespaces else self.config.namespaces()

    def effective_stop_timeout(self) -> float:
        if self.stop_timeout is not None:
            return self.stop_timeout
        return float(self.config.recorder.termination_grace_period_seconds + 30)


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    """kopf's knobs, set once before the operator starts."""
    persistence = kopf_settings.persistence
    # The finalizer every component knows by name (the API may pre-set it on create).
    persistence.finalizer = FINALIZER
    # Handler progress goes to annotations: the CRD's status schema has no room for kopf's
    # own fields (they would be pruned) and status is shared with the recorder.
    persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Events: only the explicit ones the handlers post (state changes, failures, forced
    # stops), not every log line.
    kopf_settings.posting.enabled = True
    kopf_settings.posting.loggers = False
    kopf_settings.posting.level = logging.INFO
    kopf_settings.posting.reporting_component = "recording-operator"
    kopf_settings.posting.reporting_instance = settings.instance
    kopf_settings.posting.event_name_prefix = "recording-operator-"
    # No cluster-wide scanning of CRDs and namespaces: the resources are known, and the
    # namespaced RBAC does not allow it.
    kopf_settings.scanning.disabled = True
    kopf_settings.watching.label_selectors["v1", "pods"] = POD_SELECTOR
    # A watch the server or a proxy silently dropped is noticed and re-established.
    kopf_settings.watching.server_timeout = 300
    kopf_settings.watching.client_timeout = 330
    kopf_settings.watching.connect_timeout = 30
    kopf_settings.networking.request_timeout = 60
    kopf_settings.execution.max_workers = 4
    if settings.peering:
        kopf_settings.peering.name = settings.peering
        kopf_settings.peering.standalone = False
        kopf_settings.peering.mandatory = True
        kopf_settings.peering.clusterwide = settings.all_namespaces
    else:
        kopf_settings.peering.standalone = True
