"""Every way a component can be pointed at Kubernetes reaches it with its credentials."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from recording_operator.kube.connection import connect
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


async def _who_can_list_namespaces(target: KubeTarget) -> list[str]:
    api_client = await connect(target)
    try:
        answer = await client.CoreV1Api(api_client).list_namespace()
        return [ns.metadata.name for ns in answer.items]
    finally:
        await api_client.close()


async def test_explicit_url_and_token(controlplane: ControlPlane, namespace: str) -> None:
    controlplane.service_account_kubeconfig(
        namespace, "lister", [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}],
        cluster_wide=True)
    token = controlplane.token(namespace, "lister")
    names = await _who_can_list_namespaces(
        KubeTarget(url=controlplane.url, token=token, insecure=True))
    assert namespace in names


async def test_explicit_url_without_token_is_anonymous(controlplane: ControlPlane) -> None:
    with pytest.raises(client.ApiException) as caught:
        await _who_can_list_namespaces(KubeTarget(url=controlplane.url, insecure=True))
    assert caught.value.status in (401, 403)


async def test_kubeconfig(controlplane: ControlPlane) -> None:
    names = await _who_can_list_namespaces(
        KubeTarget(kubeconfig=str(controlplane.admin_kubeconfig)))
    assert "default" in names
