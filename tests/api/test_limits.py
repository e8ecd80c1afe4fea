"""Per-app ``maxTasks``: startRecord refuses a task beyond the limit with 409 and makes nothing;
other apps are not counted, and a stopped task frees its place."""

from __future__ import annotations

from pathlib import Path

import httpx

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import parse_config
from tests.waiting import wait_for

from .conftest import TOKEN, Api, ServerThread, config_for

LIMIT = ("[HTTP] The application [default/app] already has its maximum of 2 recording tasks "
         "(maxTasks): stop one first (409)")


def test_max_tasks_refuses_the_task_beyond_the_limit(
    controlplane: ControlPlane, namespace: str, api_kubeconfig: Path, recordings_served: None
) -> None:
    config = config_for(namespace)
    config["vhosts"]["default"]["apps"]["app"]["maxTasks"] = 2
    settings = ApiSettings(config=parse_config(config), access_token=TOKEN,
                           kube=KubeTarget(kubeconfig=str(api_kubeconfig)))
    with ServerThread(create_app(settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        api = Api(url=server.url, namespace=namespace, client=client, plane=controlplane)
        api.start("a")
        api.start("b")
        third = api.call("startRecord", {"id": "c", "stream": {"name": "s"}})
        assert third.status_code == 409
        assert third.json()["message"] == LIMIT
        assert sorted(r["spec"]["id"] for r in api.recordings()) == ["a", "b"]
        # another app of the same namespace has no limit of its own
        assert api.call("startRecord", {"id": "c", "stream": {"name": "s"}},
                        app="app2").status_code == 200
        # a stopped task frees its place
        assert api.call("stopRecord", {"id": "a"}).status_code == 200
        wait_for(lambda: len(api.records()) == 1, 10, "the stopped task to go")
        assert api.call("startRecord", {"id": "c", "stream": {"name": "s"}}).status_code == 200


QUOTA = "count/recordings.recording-operator.dev"


def test_a_namespace_quota_is_answered_like_max_tasks(api: Api, controlplane: ControlPlane) -> None:
    quotas = f"/api/v1/namespaces/{api.namespace}/resourcequotas"
    controlplane.request("POST", quotas, {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "recordings"},
        "spec": {"hard": {QUOTA: "1"}},
    })
    # No quota controller runs in the test control plane: write the status it would compute
    # (the API server's quota admission then counts on from it, as in a cluster).
    controlplane.request("PATCH", f"{quotas}/recordings/status",
                         {"status": {"hard": {QUOTA: "1"}, "used": {QUOTA: "0"}}},
                         content_type="application/merge-patch+json")
    api.start("a")
    refused = api.call("startRecord", {"id": "b", "stream": {"name": "s"}})
    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    assert message.startswith("[HTTP] The namespace's quota allows no more tasks: ")
    assert "exceeded quota: recordings" in message
    assert [r["spec"]["id"] for r in api.recordings()] == ["a"]
