"""Reading the chart's objects back from the API server by kind and name."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from recording_operator.local.controlplane import AdminError, ControlPlane
from tests.waiting import wait_for

Obj = dict[str, Any]

_PLURALS = {
    "ServiceAccount": "serviceaccounts", "Secret": "secrets", "ConfigMap": "configmaps",
    "PersistentVolumeClaim": "persistentvolumeclaims", "Service": "services",
    "Deployment": "deployments", "Role": "roles", "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
    "PodDisruptionBudget": "poddisruptionbudgets", "ServiceMonitor": "servicemonitors",
    "Namespace": "namespaces", "Pod": "pods", "ReplicaSet": "replicasets",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "PrometheusRule": "prometheusrules",
}
_CLUSTER = {"ClusterRole", "ClusterRoleBinding", "Namespace", "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding"}


def object_path(obj: Obj) -> str:
    kind, version = obj["kind"], obj["apiVersion"]
    base = "/api/v1" if version == "v1" else f"/apis/{version}"
    meta = obj["metadata"]
    if kind in _CLUSTER:
        return f"{base}/{_PLURALS[kind]}/{meta['name']}"
    return f"{base}/namespaces/{meta['namespace']}/{_PLURALS[kind]}/{meta['name']}"


def read_back(plane: ControlPlane, obj: Obj) -> Obj:
    """The object as the API server stored it (raises AdminError when it is not there)."""
    return plane.request("GET", object_path(obj))


def delete_namespace(plane: ControlPlane, name: str) -> None:
    """Deletes a namespace the way a full cluster would let it go: the local control plane runs
    no PVC-protection controller, so the claims' ``kubernetes.io/pvc-protection`` finalizers
    (which would hold the namespace in Terminating forever) are removed first."""
    with contextlib.suppress(AdminError):
        claims = plane.request("GET", f"/api/v1/namespaces/{name}/persistentvolumeclaims")
        for claim in claims["items"]:
            with contextlib.suppress(AdminError):
                plane.request(
                    "PATCH", f"/api/v1/namespaces/{name}/persistentvolumeclaims/"
                    f"{claim['metadata']['name']}", {"metadata": {"finalizers": None}},
                    content_type="application/merge-patch+json")
    plane.delete_namespace(name)


def wait_namespace_gone(plane: ControlPlane, name: str, timeout: float = 60.0) -> None:
    """Until a namespace of that name (maybe still Terminating) no longer exists."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            plane.request("GET", f"/api/v1/namespaces/{name}")
        except AdminError as exc:
            if exc.status == 404:
                return
            raise
        if time.monotonic() > deadline:
            raise AssertionError(f"namespace {name} still exists after {timeout}s")
        time.sleep(0.2)


def add_prometheus_operator_crd(plane: ControlPlane, kind: str) -> None:
    """Installs a stand-in for one of the Prometheus Operator's CRDs (not ours to ship), enough
    for the API server to accept the chart's objects of ``kind`` (ServiceMonitor,
    PrometheusRule), and waits until it is Established."""
    plural = f"{kind.lower()}s"
    name = f"{plural}.monitoring.coreos.com"
    plane.apply({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower()},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    })

    def established() -> bool:
        crd = plane.request(
            "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in (crd.get("status") or {}).get("conditions") or [])

    wait_for(established, 30, f"the {kind} CRD to be Established")
