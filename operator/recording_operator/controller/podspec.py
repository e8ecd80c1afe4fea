"""The recorder pod of a Recording, as a pure function of the resolved spec and the config.

Deterministic: the same Recording always yields the same pod name and body, so a re-run
reconcile (after an operator restart, a retry, a lost response) meets ``409 AlreadyExists``
instead of making a second recorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.config import RecorderConfig, StorageConfig
from ..model.naming import pod_name
from ..model.resolved import ResolvedRecording, pod_env
from ..model.resource import (
    API_VERSION,
    KIND,
    LABEL_APP,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_RECORDING,
    LABEL_VHOST,
    MANAGED_BY,
    STORAGE_ROOT,
)

CONTAINER_NAME = "recorder"
COMPONENT = "recorder"
STORAGE_VOLUME = "recordings"
TMP_VOLUME = "tmp"


@dataclass(frozen=True)
class Owner:
    """The Recording a pod belongs to (its uid ties the pod to this very object)."""

    namespace: str
    name: str
    uid: str


def pod_labels(resolved: ResolvedRecording) -> dict[str, str]:
    return {
        LABEL_RECORDING: resolved.recording.name,
        LABEL_VHOST: resolved.vhost,
        LABEL_APP: resolved.app,
        LABEL_COMPONENT: COMPONENT,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def build_pod(
    resolved: ResolvedRecording,
    owner: Owner,
    recorder: RecorderConfig,
    storage: StorageConfig,
    report_interval: float | None = None,
) -> dict[str, Any]:
    """The Pod manifest; ``report_interval``: the recorder's progress reports' spacing
    (``model.reporting``), None for the recorder's own default.

    ``restartPolicy: Never``: the operator, not the kubelet, replaces a failed recorder, so a
    crash loop is bounded by the operator's backoff and failure limit and shows up in the
    Recording's status instead of as an endless CrashLoopBackOff.
    """
    mount: dict[str, Any] = {"name": STORAGE_VOLUME, "mountPath": STORAGE_ROOT}
    if storage.sub_path:
        mount["subPath"] = storage.sub_path
    env: list[dict[str, Any]] = [
        *recorder.env,
        # Libraries that write caches under $HOME must not touch the read-only root.
        {"name": "HOME", "value": "/tmp"},
        *pod_env(resolved, owner.namespace, owner.name, report_interval),
    ]
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": recorder.image,
        "imagePullPolicy": recorder.image_pull_policy,
        "command": list(recorder.command),
        "env": env,
        "resources": recorder.resources,
        "volumeMounts": [mount, {"name": TMP_VOLUME, "mountPath": "/tmp"}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": recorder.run_as_user,
            "runAsGroup": recorder.run_as_user,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(owner.name),
            "namespace": owner.namespace,
            "labels": pod_labels(resolved),
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": owner.name,
                    "uid": owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": recorder.service_account_name,
            # The recorder patches its Recording's status with this token.
            "automountServiceAccountToken": True,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": recorder.termination_grace_period_seconds,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": recorder.run_as_user,
                "runAsGroup": recorder.run_as_user,
                # Makes a freshly provisioned volume writable by the non-root recorder.
                "fsGroup": recorder.run_as_user,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [
                {"name": STORAGE_VOLUME, **storage.volume},
                {"name": TMP_VOLUME, "emptyDir": {}},
            ],
        },
    }
