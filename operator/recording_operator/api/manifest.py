"""The Recording resource the API creates for a startRecord."""

from __future__ import annotations

from typing import Any

from ..model.naming import recording_name
from ..model.recording import RecordingSpec
from ..model.resource import (
    ANNOTATION_CREATED_TIME,
    API_VERSION,
    KIND,
    LABEL_APP,
    LABEL_VHOST,
)


def recording_manifest(
    spec: RecordingSpec,
    namespace: str,
    created_time: str,
    *,
    name: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One object, made in one create call, so a Recording is never left half-made.

    The name is derived from (vhost, app, id), so two racing startRecords for one id collide in
    the Kubernetes API itself; the labels let kubectl users select a vhost/app's Recordings.
    A StreamMap rule's task passes its own ``name`` (one per stream and rule) and label.
    """
    vhost, app = spec.vhost, spec.app
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name or recording_name(vhost, app, spec.id),
            "namespace": namespace,
            "labels": {LABEL_VHOST: vhost, LABEL_APP: app, **(labels or {})},
            "annotations": {ANNOTATION_CREATED_TIME: created_time},
        },
        "spec": spec.to_json(),
    }
