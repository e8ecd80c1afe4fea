"""Reading the chart's objects back from the API server by kind and name."""

from __future__ import annotations

from typing import Any

from recording_operator.local.controlplane import ControlPlane

Obj = dict[str, Any]

_PLURALS = {
    "ServiceAccount": "serviceaccounts", "Secret": "secrets", "ConfigMap": "configmaps",
    "PersistentVolumeClaim": "persistentvolumeclaims", "Service": "services",
    "Deployment": "deployments", "Role": "roles", "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
    "PodDisruptionBudget": "poddisruptionbudgets", "ServiceMonitor": "servicemonitors",
    "Namespace": "namespaces", "Pod": "pods", "ReplicaSet": "replicasets",
}
_CLUSTER = {"ClusterRole", "ClusterRoleBinding", "Namespace"}


def object_path(obj: Obj) -> str:
    kind, version = obj["kind"], obj["apiVersion"]
    base = "/api/v1" if version == "v1" else f"/apis/{version}"
    meta = obj["metadata"]
    if kind in _CLUSTER:
        return f"{base}/{_PLURALS[kind]}/{meta['name']}"
    return f"{base}/namespaces/{meta['namespace']}/{_PLURALS[kind]}/{meta['name']}"


def read_back(plane: ControlPlane, obj: Obj) -> Obj:
    """The object as the API server stored it (raises ApiError when it is not there)."""
    return plane.request("GET", object_path(obj))
