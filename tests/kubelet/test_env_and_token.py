"""A pod's environment and its service-account token: what the recorder relies on to reach
the API in the embedded mode."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.kubelet import KubeletThread
from tests.waiting import wait_for

from .support import container, container_status, make_pod, pod_where, wait_phase

pytestmark = pytest.mark.controlplane

SHOW_ENV_AND_CALL_API = """
    import asyncio, json, os
    from kubernetes_asyncio import client
    from recording_operator.kube.connection import connect

    async def main():
        api = await connect()  # no target: $KUBECONFIG, as the recorder does
        core = client.CoreV1Api(api)
        me = await core.read_namespaced_pod(os.environ["POD_NAME"], os.environ["POD_NAMESPACE"])
        try:
            await core.list_namespaced_secret(os.environ["POD_NAMESPACE"])
            secrets = "allowed"
        except client.ApiException as exc:
            secrets = exc.status
        await api.close()
        return {"my_uid": me.metadata.uid, "secrets": secrets}

    print(json.dumps({"env": dict(os.environ), "api": asyncio.run(main())}))
"""


def field(path: str) -> dict[str, Any]:
    return {"valueFrom": {"fieldRef": {"fieldPath": path}}}


def last_json(log: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(log.read_text().strip().splitlines()[-1])
    return result


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return result


def test_env_and_a_pod_bound_token_reach_the_api(controlplane: ControlPlane, namespace: str,
                                                  kubelet: KubeletThread, node_name: str,
                                                  data_dir: Path) -> None:
    controlplane.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "reader", "namespace": namespace}})
    controlplane.grant(namespace, "reader",
                       [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    controlplane.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "settings", "namespace": namespace},
                        "data": {"level": "debug", "color": "blue"}})
    controlplane.apply({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "creds", "namespace": namespace},
                        "stringData": {"password": "s3cret"}})
    env = [
        {"name": "POD_NAME", **field("metadata.name")},
        {"name": "POD_NAMESPACE", **field("metadata.namespace")},
        {"name": "POD_UID", **field("metadata.uid")},
        {"name": "POD_IP", **field("status.podIP")},
        {"name": "NODE", **field("spec.nodeName")},
        {"name": "ACCOUNT", **field("spec.serviceAccountName")},
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "MAYBE", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x",
                                                         "optional": True}}},
        {"name": "GREETING", "value": "hello $(POD_NAME), $$(POD_NAME) stays"},
    ]
    make_pod(controlplane, namespace, "caller",
             [container(SHOW_ENV_AND_CALL_API, env=env,
                        envFrom=[{"prefix": "CM_", "configMapRef": {"name": "settings"}}])],
             serviceAccountName="reader", restartPolicy="Never")

    pod = wait_phase(controlplane, namespace, "caller", "Succeeded", "Failed", timeout=30)
    uid = pod["metadata"]["uid"]
    log = data_dir / "pods" / f"{namespace}_caller_{uid}" / "main.log"
    assert pod["status"]["phase"] == "Succeeded", log.read_text()
    out = last_json(log)
    seen = out["env"]
    assert seen["POD_NAME"] == "caller"
    assert seen["POD_NAMESPACE"] == namespace
    assert seen["POD_UID"] == uid
    assert seen["POD_IP"] == "127.0.0.1"
    assert seen["NODE"] == node_name
    assert seen["ACCOUNT"] == "reader"
    assert seen["LEVEL"] == seen["CM_level"] == "debug"
    assert seen["CM_color"] == "blue"
    assert seen["PASSWORD"] == "s3cret"
    assert "MAYBE" not in seen
    assert seen["GREETING"] == "hello caller, $(POD_NAME) stays"
    assert "KUBERNETES_SERVICE_HOST" not in seen

    # The token works for what the account may do, and only that.
    assert out["api"] == {"my_uid": uid, "secrets": 403}
    token_dir = data_dir / "pods" / uid / "serviceaccount"
    assert seen["KUBECONFIG"] == str(token_dir / "kubeconfig")
    assert (token_dir / "namespace").read_text() == namespace
    assert (token_dir / "token").stat().st_mode & 0o077 == 0
    bound = claims((token_dir / "token").read_text())
    assert bound["sub"] == f"system:serviceaccount:{namespace}:reader"
    assert bound["kubernetes.io"]["pod"] == {"name": "caller", "uid": uid}


def test_no_token_when_the_pod_opts_out(controlplane: ControlPlane, namespace: str,
                                        kubelet: KubeletThread, data_dir: Path) -> None:
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    make_pod(controlplane, namespace, "quiet", [container(code)],
             automountServiceAccountToken=False, restartPolicy="Never")
    pod = wait_phase(controlplane, namespace, "quiet", "Succeeded")
    uid = pod["metadata"]["uid"]
    env = last_json(data_dir / "pods" / f"{namespace}_quiet_{uid}" / "main.log")
    assert "KUBECONFIG" not in env
    assert not (data_dir / "pods" / uid / "serviceaccount").exists()


def test_a_missing_config_map_keeps_the_container_waiting(
        controlplane: ControlPlane, namespace: str, kubelet: KubeletThread) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}]
    make_pod(controlplane, namespace, "patient",
             [container("import os; assert os.environ['X'] == 'now'", env=env)],
             restartPolicy="Never")

    def waiting(pod: dict[str, Any]) -> bool:
        statuses = pod["status"].get("containerStatuses") or []
        return bool(statuses) and statuses[0]["state"].get("waiting", {}).get(
            "reason") == "CreateContainerConfigError"

    pod = wait_for(pod_where(controlplane, namespace, "patient", waiting), 10,
                   "CreateContainerConfigError")
    assert "later" in container_status(pod)["state"]["waiting"]["message"]
    assert pod["status"]["phase"] == "Pending"
    controlplane.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "later", "namespace": namespace},
                        "data": {"x": "now"}})
    done = wait_phase(controlplane, namespace, "patient", "Succeeded", "Failed")
    assert done["status"]["phase"] == "Succeeded"
