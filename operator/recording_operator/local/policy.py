"""The recorder admission policy on the local control plane, as the chart installs it.

A recorder may write the status of its own Recording only, and there only its own fields: a
ValidatingAdmissionPolicy compares the pod named in the request's bound token with the
Recording's recorder pod. The policy's text lives once, in the chart
(``charts/recording-operator/files/recorder-policy.yaml``); this module makes the same
ValidatingAdmissionPolicy and its binding for the embedded mode and the tests, so what they
exercise is what a cluster enforces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .binaries import checkout_root
from .controlplane import ControlPlane

FILE_NAME = "recorder-policy.yaml"
#: The placeholder the chart and this module replace with the recorder ServiceAccount's name.
ACCOUNT_PLACEHOLDER = "RECORDER_SERVICE_ACCOUNT"
API_VERSION = "admissionregistration.k8s.io/v1"


class PolicyFileMissing(RuntimeError):
    pass


def policy_file() -> Path:
    root = checkout_root()
    candidates = []
    if root is not None:
        candidates.append(root / "charts" / "recording-operator" / "files" / FILE_NAME)
    candidates.append(Path(__file__).resolve().parent.parent / "data" / FILE_NAME)
    for path in candidates:
        if path.is_file():
            return path
    raise PolicyFileMissing(
        f"cannot find the recorder policy (charts/recording-operator/files/{FILE_NAME})")


def policy_spec(service_account: str) -> dict[str, Any]:
    """The policy's spec for recorders running as ``service_account``."""
    text = policy_file().read_text().replace(ACCOUNT_PLACEHOLDER, service_account)
    spec: dict[str, Any] = yaml.safe_load(text)
    return spec


def manifests(name: str, service_account: str, namespaces: list[str]) -> list[dict[str, Any]]:
    """The policy and its binding (Deny), limited to ``namespaces``."""
    return [
        {"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": name}, "spec": policy_spec(service_account)},
        {"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": name},
         "spec": {
             "policyName": name,
             "validationActions": ["Deny"],
             "matchResources": {"namespaceSelector": {"matchExpressions": [
                 {"key": "kubernetes.io/metadata.name", "operator": "In",
                  "values": sorted(namespaces)}]}},
         }},
    ]


def apply(plane: ControlPlane, name: str, service_account: str, namespaces: list[str]) -> None:
    """Applies the policy and its binding. The API server enforces a new binding within about
    a second (its policy informer); callers that must see it enforced wait for that."""
    for manifest in manifests(name, service_account, namespaces):
        plane.apply(manifest)
