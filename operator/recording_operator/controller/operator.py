"""Runs the operator: our API client, the metrics endpoint, then kopf until a signal."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import kopf

from ..kube.connection import connect
from . import metrics
from .context import Context
from .kubeapi import KubeApi
from .registry import build_registry
from .settings import OperatorSettings, configure_kopf

log = logging.getLogger(__name__)


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
            memo=Context(settings=settings, api=KubeApi(api_client)),
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
