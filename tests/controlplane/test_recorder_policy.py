"""The recorder admission policy against the real API server: a recorder pod's own bound token
(a TokenRequest bound to that pod, as a kubelet mounts it) may write the recorder fields of its
own Recording's status, and nothing else, although RBAC lets the shared recorder
ServiceAccount patch every Recording's status in the namespace."""

from __future__ import annotations

import json
import re
import secrets
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest

from recording_operator.local import policy
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.naming import pod_name
from recording_operator.model.recording import OPERATOR_FIELDS
from recording_operator.model.resource import API_VERSION, GROUP, PLURAL, VERSION
from tests.waiting import wait_for

pytestmark = pytest.mark.controlplane

ACCOUNT = "policy-recorder"
OPERATOR_STATUS = {"state": "recording", "transactionId": "OPERATOR0000FIXD",
                   "createdTime": "2026-01-01T00:00:00.000+00:00", "message": "as decided"}


def _path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


class Cluster:
    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane, self.namespace = plane, namespace
        self._ssl = ssl.create_default_context(cafile=str(plane.ca_cert))

    def recording(self, name: str) -> str:
        self.plane.request("POST", f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}",
                           {"apiVersion": API_VERSION, "kind": "Recording",
                            "metadata": {"name": name},
                            "spec": {"id": name, "stream": {"name": "s"}}})
        self.plane.request("PATCH", _path(self.namespace, name) + "/status",
                           {"status": OPERATOR_STATUS},
                           content_type="application/merge-patch+json")
        return name

    def pod_token(self, name: str, account: str = ACCOUNT) -> tuple[str, str]:
        """A pod (never run: no kubelet here) and a token bound to it; returns (token, uid)."""
        pod = self.plane.request("POST", f"/api/v1/namespaces/{self.namespace}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"serviceAccountName": account, "automountServiceAccountToken": False,
                     "containers": [{"name": "recorder", "image": "recording-operator"}]}})
        uid: str = pod["metadata"]["uid"]
        return self.plane.token(self.namespace, account, bound_pod=(name, uid)), uid

    def patch_as(self, token: str, name: str, status: dict[str, Any]) -> tuple[int, str]:
        """A merge patch of ``name``'s status with ``token``: (HTTP status, message)."""
        req = urllib.request.Request(
            self.plane.url + _path(self.namespace, name) + "/status", method="PATCH",
            data=json.dumps({"status": status}).encode(),
            headers={"Content-Type": "application/merge-patch+json",
                     "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=15) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as exc:
            return exc.code, str(json.loads(exc.read()).get("message"))

    def wait_enforced(self, token: str) -> None:
        """Until the policy refuses ``token`` on a Recording not its own. A new binding takes
        effect once the API server's policy informer has it (about a second)."""
        probe = self.recording(f"probe-{secrets.token_hex(3)}")
        wait_for(lambda: self.patch_as(token, probe, _progress(1))[0] == 403, 15,
                 "the policy to be enforced")

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.plane.request(
            "GET", _path(self.namespace, name)).get("status") or {}
        return status


def _progress(bytes_: int, pod_uid: str | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {"state": "recording"}
    if pod_uid:
        report["podUID"] = pod_uid
    return {"recordBytes": bytes_, "totalRecordBytes": bytes_, "recorder": report}


@pytest.fixture
def cluster(controlplane: ControlPlane, namespace: str,
            rbac_rules: dict[str, list[dict[str, Any]]]) -> Cluster:
    """The recorder account with the chart's recorder rules, and the policy bound to this test's
    namespace only (under a name of its own, so other tests' recorders are not subject to it)."""
    controlplane.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": ACCOUNT, "namespace": namespace}})
    controlplane.grant(namespace, ACCOUNT, rbac_rules["recorder"])
    policy.apply(controlplane, f"test-{namespace}", ACCOUNT, [namespace])
    return Cluster(controlplane, namespace)


def test_a_recorder_pod_writes_only_its_own_recordings_progress(
    cluster: Cluster, controlplane: ControlPlane, namespace: str,
) -> None:
    mine = cluster.recording("mine")
    theirs = cluster.recording("theirs")
    token, uid = cluster.pod_token(pod_name(mine))
    cluster.wait_enforced(token)

    # Its own Recording: the recorder's fields, stamped with its own pod uid.
    assert cluster.patch_as(token, mine, _progress(1000, uid)) == (200, "")
    status = cluster.status(mine)
    assert status["recordBytes"] == 1000 and status["recorder"]["podUID"] == uid
    assert {k: status.get(k) for k in OPERATOR_STATUS} == OPERATOR_STATUS

    # Another Recording of the same namespace, which RBAC alone would allow.
    code, message = cluster.patch_as(token, theirs, _progress(5))
    assert code == 403
    assert f"recorder pod {pod_name(mine)} may write only its own Recording, not theirs" in message
    assert "recordBytes" not in cluster.status(theirs)


@pytest.mark.parametrize("field", sorted(OPERATOR_FIELDS))
def test_a_recorder_cannot_change_the_operators_fields(
    cluster: Cluster, field: str,
) -> None:
    mine = cluster.recording(f"mine-{secrets.token_hex(2)}")
    token, _ = cluster.pod_token(pod_name(mine))
    values: dict[str, Any] = {
        "state": "stopped", "message": "forged", "transactionId": "FORGED",
        "createdTime": "2030-01-01T00:00:00.000+00:00", "observedGeneration": 99,
        "restarts": 7, "conditions": [{"type": "Ready", "status": "True"}],
    }
    assert set(values) == OPERATOR_FIELDS  # the policy's list and the model's agree
    cluster.wait_enforced(token)
    code, message = cluster.patch_as(token, mine, {**_progress(3), field: values[field]})
    assert code == 403
    assert f"may not change the operator's status fields ({field})" in message
    # Removing one is a change too.
    if field in OPERATOR_STATUS:
        assert cluster.patch_as(token, mine, {field: None})[0] == 403
    assert {k: cluster.status(mine).get(k) for k in OPERATOR_STATUS} == OPERATOR_STATUS


def test_a_recorder_cannot_claim_another_pods_uid(cluster: Cluster) -> None:
    """status.recorder.podUID says which pod reported "finished": only its own uid goes in."""
    mine = cluster.recording("mine")
    token, uid = cluster.pod_token(pod_name(mine))
    cluster.wait_enforced(token)
    code, message = cluster.patch_as(token, mine, _progress(1, "0000-not-my-pod"))
    assert code == 403 and f"only its own pod uid ({uid})" in message
    assert cluster.patch_as(token, mine, _progress(1, uid)) == (200, "")
    # A later report that leaves the stored uid alone is fine.
    assert cluster.patch_as(token, mine, {"recordBytes": 2})[0] == 200


def test_a_token_that_names_no_pod_is_refused(
    cluster: Cluster, controlplane: ControlPlane, namespace: str,
) -> None:
    mine = cluster.recording("mine")
    bound, _ = cluster.pod_token(pod_name(mine))
    cluster.wait_enforced(bound)
    unbound = controlplane.token(namespace, ACCOUNT)
    code, message = cluster.patch_as(unbound, mine, _progress(1))
    assert code == 403 and "this token names no pod" in message


def test_long_names_match_the_hashed_pod_name(cluster: Cluster) -> None:
    """Names of 55 to 63 characters give pods named <first 42>-<digest>-recorder."""
    mine = cluster.recording(("long-recording-name-mine-" + "x" * 63)[:60])
    theirs = cluster.recording(("long-recording-name-theirs-" + "y" * 63)[:61])
    assert pod_name(mine).endswith("-recorder") and len(pod_name(mine)) <= 63
    assert pod_name(mine) != mine + "-recorder"
    token, _ = cluster.pod_token(pod_name(mine))
    cluster.wait_enforced(token)
    assert cluster.patch_as(token, mine, _progress(10)) == (200, "")
    # Shares no 42-character prefix with mine.
    assert cluster.patch_as(token, theirs, _progress(10))[0] == 403


def test_the_policys_operator_fields_are_the_models() -> None:
    """One list in the policy, one in the model: a field added to one must reach the other."""
    spec = policy.policy_spec(ACCOUNT)
    [expr] = [v["expression"] for v in spec["variables"] if v["name"] == "operatorFields"]
    assert set(re.findall(r"'(\w+)'", expr)) == OPERATOR_FIELDS
    assert f"endsWith(':{ACCOUNT}')" in spec["matchConditions"][0]["expression"]
    assert policy.ACCOUNT_PLACEHOLDER not in json.dumps(spec)
