"""Prometheus metrics of the API, served at ``GET /metrics`` behind the access token.

A registry of its own, so that nothing imported by accident shows up on the scrape. Only what
cannot be seen elsewhere is counted: the media servers' notifications and what became of them
(a Recording's life is the operator's ``recording_operator_recordings``).
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


def count(outcome: str) -> None:
    NOTIFICATIONS.labels(outcome).inc()


def render() -> tuple[bytes, str]:
    """The scrape: (body, content type)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
