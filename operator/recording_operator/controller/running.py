"""Running the operator: what the handlers share, how kopf logs in and logs, which handler
answers which change, and the run itself (the API client, the metrics endpoint, kopf until a
signal), as kopf's own ``_core/reactor/running.py`` gathers its start-up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import kopf

from ..kube.connection import connect
from ..kube.pods import Pods
from ..kube.recordings import Recordings
from ..kube.target import KubeTarget
from ..model.resource import (
    FINALIZER,
    GROUP,
    LABEL_MANAGED_BY,
    LABEL_RECORDING,
    MANAGED_BY,
    PLURAL,
    VERSION,
)
from . import metrics
from .metrics import Census
from .settings import POD_SELECTOR, OperatorSettings

log = logging.getLogger(__name__)


# -- what every handler needs ---------------------------------------------------------------


@dataclass
class Context:
    """Handed to the handlers by kopf as ``memo``.

    kopf gives each object a shallow copy of the memo, so everything here is either immutable
    or shared on purpose (the API clients, the census of states).
    """

    settings: OperatorSettings
    recordings: Recordings
    pods: Pods
    census: Census = field(default_factory=Census)


# -- how kopf logs in -----------------------------------------------------------------------


async def connection_info(target: KubeTarget) -> kopf.ConnectionInfo:
    """kopf's credentials from the same target (flag, ``$KUBECONFIG`` or in-cluster) as our
    own client, so ``--kubeconfig`` (a ServiceAccount-token kubeconfig in tests and in the
    embedded mode) is one identity for kopf's watches and for the pods the handlers create.
    kopf calls this again on a 401, which picks up a rotated in-cluster token."""
    api = await connect(target)
    try:
        conf = api.configuration
        header: str | None = None
        for key in ("BearerToken", "authorization"):
            value: Any = conf.get_api_key_with_prefix(key)
            if inspect.isawaitable(value):
                value = await value
            if value:
                header = str(value)
                break
        scheme: str | None = None
        token: str | None = None
        if header:
            parts = header.split(" ", 1)
            scheme, token = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        return kopf.ConnectionInfo(
            server=str(conf.host),
            ca_path=conf.ssl_ca_cert or None,
            insecure=not conf.verify_ssl,
            username=conf.username or None,
            password=conf.password or None,
            scheme=scheme,
            token=token,
            certificate_path=conf.cert_file or None,
            private_key_path=conf.key_file or None,
            proxy_url=conf.proxy or None,
        )
    finally:
        await api.close()


def login_handler(target: KubeTarget) -> Callable[..., Awaitable[kopf.ConnectionInfo]]:
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return await connection_info(target)

    return login


# -- how it logs ----------------------------------------------------------------------------

#: The per-event success lines of the watch handlers: one per event they act on.
_CHATTY = re.compile(r"^Handler '(mirror|pods)' succeeded\.$")


class _QuietWatchers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and _CHATTY.match(record.getMessage()))


def configure_logging(json_format: bool, verbose: bool) -> None:
    """kopf's JSON formatter (one object per line, with the object's reference), minus the
    watch handlers' success lines and the liveness probe's access log."""
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if json_format else kopf.LogFormat.FULL,
        log_prefix=not json_format,
        log_refkey="object" if json_format else None,
    )
    if not verbose:
        logging.getLogger("kopf.objects").addFilter(_QuietWatchers())
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


# -- kopf's own settings -------------------------------------------------------------------


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


# -- which handler answers which change -----------------------------------------------------


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    """A registry of its own (no import-time global registration), so the operator is built
    from its settings and tests can build several."""
    from . import lifecycle, mirror, pods, starting, stopping

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
    # Only events that change what clients see: a recorder's progress report (every few
    # seconds per task) passes the filter without waking the handler.
    kopf.on.event(
        *recordings, id="mirror", registry=registry, when=mirror.worth_handling
    )(mirror.on_recording_event)
    # Only while the pod has not been seen running: a pod stuck Pending becomes visible.
    if settings.pod_start_timeout:
        kopf.timer(
            *recordings, id="start", registry=registry, when=starting.not_yet_started,
            interval=settings.start_check_interval(),
            initial_delay=settings.start_check_interval(),
        )(starting.check_start)
    kopf.on.event(
        "v1", "pods", id="pods", registry=registry,
        labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_RECORDING: kopf.PRESENT},
    )(pods.on_pod_event)
    return registry


# -- the run --------------------------------------------------------------------------------


async def run_operator(
    settings: OperatorSettings,
    *,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Returns when kopf stops (SIGTERM/SIGINT in the main thread, or ``stop_flag``)."""
    kopf_settings = kopf.OperatorSettings()
    configure_kopf(kopf_settings, settings)
    registry = build_registry(settings)
    api_client = await connect(settings.kube)
    stop_metrics: Callable[[], None] | None = None
    try:
        if settings.metrics_port is not None:
            stop_metrics = metrics.serve(settings.metrics_port, settings.bind_address)
        liveness = (
            f"http://{settings.bind_address}:{settings.liveness_port}/healthz"
            if settings.liveness_port is not None
            else None
        )
        namespaces = [] if settings.all_namespaces else settings.watched_namespaces()
        if not settings.all_namespaces and not namespaces:
            raise ValueError("no namespace to watch: give --namespace or --all-namespaces")
        log.info(
            "watching %s", "all namespaces" if settings.all_namespaces else ", ".join(namespaces)
        )
        await kopf.operator(
            registry=registry,
            settings=kopf_settings,
            memo=Context(
                settings=settings, recordings=Recordings(api_client), pods=Pods(api_client)
            ),
            standalone=settings.peering is None,
            peering_name=settings.peering,
            clusterwide=settings.all_namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        if stop_metrics is not None:
            stop_metrics()
        await api_client.close()
