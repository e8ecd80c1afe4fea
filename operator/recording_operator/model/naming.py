"""Deterministic Kubernetes names for Recordings and their pods.

The same (vhost, app, id) always maps to the same object name, so a duplicate startRecord is
refused by the Kubernetes API itself (409 AlreadyExists) rather than by a racy check.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^a-z0-9-]+")
_PREFIX_LEN = 40


def _digest(*parts: str, length: int = 10) -> str:
    joined = "\x00".join(parts).encode()
    return hashlib.sha256(joined).hexdigest()[:length]


def recording_name(vhost: str, app: str, record_id: str) -> str:
    """A readable, DNS-1123 prefix of the id plus a short hash of (vhost, app, id)."""
    slug = _UNSAFE.sub("-", record_id.lower()).strip("-")[:_PREFIX_LEN].strip("-")
    return f"{slug or 'rec'}-{_digest(vhost, app, record_id)}"


def rule_recording_name(vhost: str, app: str, stream: str, rule_key: str) -> str:
    """The Recording of a StreamMap rule's task for a stream: one name per (vhost, app, stream,
    rule), so a repeated publish notification, on any API replica, cannot make a second task
    while one exists: the Kubernetes API refuses the create."""
    slug = _UNSAFE.sub("-", stream.lower()).strip("-")[:_PREFIX_LEN].strip("-")
    return f"{slug or 'rec'}-rule-{_digest(vhost, app, stream, rule_key)}"


def pod_name(recording: str) -> str:
    """The recorder pod of a Recording: one name, so a re-run reconcile finds, not duplicates."""
    name = f"{recording}-recorder"
    if len(name) <= 63:
        return name
    return f"{recording[:42].rstrip('-')}-{_digest(recording, length=10)}-recorder"
