"""Prometheus metrics of the delivery process (a registry of its own, as the operator's).

Counters move as things happen; the queue gauges are read from the journal at scrape time, so
they are right after a restart too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .journal import Journal

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

UPLOADED_BYTES = Counter("recording_operator_delivery_uploaded_bytes",
                         "Bytes of files the store confirmed.", ["app"], registry=REGISTRY)
UPLOADED_FILES = Counter("recording_operator_delivery_uploaded_files",
                         "Files the store confirmed.", ["app"], registry=REGISTRY)
UPLOAD_FAILURES = Counter("recording_operator_delivery_upload_failures",
                          "Failed upload attempts, by reason (CredentialsRefused, BucketMissing,"
                          " StoreUnreachable, ...).", ["app", "reason"], registry=REGISTRY)
EVENTS_SENT = Counter("recording_operator_delivery_events_sent",
                      "Events a receiver accepted (2xx).", ["type"], registry=REGISTRY)
EVENT_FAILURES = Counter("recording_operator_delivery_event_failures",
                         "Failed event attempts (each is retried until its time is over).",
                         ["type"], registry=REGISTRY)
SCANS = Counter("recording_operator_delivery_scans",
                "Looks at the info XML files (one per poll interval).", registry=REGISTRY)
RETENTION_SWEEPS = Counter("recording_operator_delivery_retention_sweeps",
                           "Retention passes over every app.", registry=REGISTRY)
RETENTION_DELETED = Counter("recording_operator_delivery_retention_deleted_files",
                            "Local files removed by retention.", ["app"], registry=REGISTRY)


class _QueueCollector(Collector):
    def __init__(self, path: Path) -> None:
        self._path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # The scrape runs on the HTTP server's thread: a connection of its own, read-only.
        journal = Journal(self._path, readonly=True)
        try:
            pending, oldest = journal.queue_figures()
            waiting, given_up = journal.event_figures()
        finally:
            journal.close()
        yield GaugeMetricFamily("recording_operator_delivery_queue_files",
                                "Finished files waiting for the store.", value=pending)
        yield GaugeMetricFamily("recording_operator_delivery_oldest_pending_seconds",
                                "Age of the oldest file waiting for the store (0: none).",
                                value=0 if oldest is None else max(0.0, time.time() - oldest))
        yield GaugeMetricFamily("recording_operator_delivery_events_pending",
                                "Events not yet accepted by their receiver.", value=waiting)
        yield GaugeMetricFamily("recording_operator_delivery_events_failed",
                                "Events given up after their retry time.", value=given_up)


def watch_journal(path: Path) -> None:
    """Serves the queue figures of the journal at ``path`` on this registry (once a process)."""
    REGISTRY.register(_QueueCollector(path))
