"""Prometheus metrics of the API, served at ``GET /metrics`` behind the access token.

A registry of its own, so that nothing imported by accident shows up on the scrape. Only what
cannot be seen elsewhere is counted: the media servers' notifications and what became of them
(a Recording's life is the operator's ``recording_operator_recordings``), and how each
``records`` read was made consistent (``api.cache``: a replica that keeps falling back to a
LIST costs the API server, and shows it here).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

REGISTRY = CollectorRegistry()

NOTIFICATIONS = Counter(
    "recording_operator_api_notifications",
    "Publish notifications by outcome: received, ignored_unknown_app, woken (a waiting task "
    "told), rule_started, rule_ended, refused_limit (the app's maxTasks), failed (Kubernetes "
    "refused or was unreachable).",
    ["outcome"],
    registry=REGISTRY,
)


RECORD_READS = Counter(
    "recording_operator_api_record_reads",
    "records reads of the watch cache by how they were answered: current (the watch had "
    "passed the API server's version), caught_up (after waiting for it), verified (after a "
    "Table LIST of the Recordings' versions), list (a direct LIST of the app's Recordings), "
    "unchecked (--no-consistent-reads).",
    ["answer"],
    registry=REGISTRY,
)


def count(outcome: str) -> None:
    NOTIFICATIONS.labels(outcome).inc()


def record_read(answer: str) -> None:
    RECORD_READS.labels(answer).inc()


def render() -> tuple[bytes, str]:
    """The scrape: (body, content type)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
