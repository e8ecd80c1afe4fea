"""When Kubernetes fails, the client gets a 503 that says what failed, never a stack trace, and
no Recording is left behind half-made."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.ports import free_port
from tests.waiting import wait_for

from .conftest import Api, ApiFactory

pytestmark = pytest.mark.controlplane

START = {"id": "x", "stream": {"name": "s"}}
#: records may answer from the cache while it resyncs: the message then says so and quotes
#: the Kubernetes API's failure.
ENVELOPE_503 = re.compile(r"^\[HTTP\] (?:The Recording cache .+ \()?The Kubernetes API .+ \(503\)$")


def expect_503(api: Api, action: str, body: dict[str, Any], contains: str) -> None:
    answer = api.call(action, body)
    assert answer.status_code == 503, answer.text
    payload = answer.json()
    assert set(payload) == {"statusCode", "message"}
    assert payload["statusCode"] == 503
    assert ENVELOPE_503.match(payload["message"]), payload["message"]
    assert contains in payload["message"], payload["message"]
    assert "Traceback" not in answer.text


def test_kubernetes_unreachable(make_api: ApiFactory) -> None:
    closed = free_port()
    api = make_api(kube=KubeTarget(url=f"http://127.0.0.1:{closed}"))
    for action in ("startRecord", "stopRecord", "records"):
        expect_503(api, action, START, "could not be reached listing Recordings")
    # the checks that need no Kubernetes still answer as usual
    assert api.call("startRecord", {}).status_code == 400
    assert api.call("records", app="nope").status_code == 404


class _Stub(BaseHTTPRequestHandler):
    """A Kubernetes API that fails every request in one set way."""

    mode = "error"

    def _any(self) -> None:
        if self.mode == "hang":
            self.server.release.wait(30)  # type: ignore[attr-defined]
            return
        body = b'{"kind":"Status","status":"Failure","message":"etcdserver: leader changed"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_kubernetes(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Stub", (_Stub,), {"mode": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("stub_kubernetes", ["error"], indirect=True)
def test_kubernetes_answers_500(make_api: ApiFactory, stub_kubernetes: str) -> None:
    api = make_api(kube=KubeTarget(url=stub_kubernetes))
    expect_503(api, "records", {}, "failed listing Recordings: 500 Internal Server Error: "
               "etcdserver: leader changed")
    expect_503(api, "startRecord", START, "failed listing Recordings")


@pytest.mark.parametrize("stub_kubernetes", ["hang"], indirect=True)
def test_kubernetes_does_not_answer(make_api: ApiFactory, stub_kubernetes: str) -> None:
    api = make_api(kube=KubeTarget(url=stub_kubernetes), kube_timeout=0.5)
    expect_503(api, "records", {}, "did not answer listing Recordings within 0.5 s")


def test_rbac_forbids_create_and_nothing_is_left(
    make_api: ApiFactory, controlplane: ControlPlane, namespace: str
) -> None:
    list_only = controlplane.service_account_kubeconfig(
        namespace, "list-only", rules=[{"apiGroups": ["recording-operator.dev"],
                                        "resources": ["recordings"], "verbs": ["list", "watch"]}])
    api = make_api(kube=KubeTarget(kubeconfig=str(list_only)))
    expect_503(api, "startRecord", START,
               "failed creating the Recording: 403 Forbidden: recordings.recording-operator.dev "
               "is forbidden")
    assert api.recordings() == []
    assert api.records() == []


def test_rbac_forbids_delete_and_the_task_stays(
    make_api: ApiFactory, controlplane: ControlPlane, namespace: str
) -> None:
    no_delete = controlplane.service_account_kubeconfig(
        namespace, "no-delete", rules=[{"apiGroups": ["recording-operator.dev"],
                                        "resources": ["recordings"],
                                        "verbs": ["list", "watch", "create"]}])
    api = make_api(kube=KubeTarget(kubeconfig=str(no_delete)))
    api.start("kept")
    expect_503(api, "stopRecord", {"id": "kept"}, "failed deleting the Recording: 403 Forbidden")
    assert [t["state"] for t in api.records()] == ["ready"]


def test_the_api_rules_are_enough_and_no_more(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]]
) -> None:
    """The chart's api rules: only Recordings, only the verbs the code uses."""
    [rule] = rbac_rules["api"]
    assert rule["apiGroups"] == ["recording-operator.dev"]
    assert rule["resources"] == ["recordings"]
    # patch: a publish notification marks the waiting Recordings of its stream
    assert sorted(rule["verbs"]) == ["create", "delete", "list", "patch", "watch"]




class _FlakyKubernetes(BaseHTTPRequestHandler):
    """Serves an empty namespace (LIST, then a watch that ends at once) until told to fail;
    then every request is a 500."""

    def do_GET(self) -> None:
        failing = self.server.failing.is_set()  # type: ignore[attr-defined]
        if failing:
            body = b'{"kind":"Status","message":"apiserver is shutting down"}'
            self.send_response(500)
        elif "watch=true" in self.path.lower():
            self.server.watched.set()  # type: ignore[attr-defined]
            self.server.failing.wait(30)  # type: ignore[attr-defined]
            body = b""
            self.send_response(200)
        else:
            body = b'{"kind":"RecordingList","metadata":{"resourceVersion":"1"},"items":[]}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_records_is_503_not_stale_once_kubernetes_fails(make_api: ApiFactory) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyKubernetes)
    server.daemon_threads = True
    server.failing = threading.Event()  # type: ignore[attr-defined]
    server.watched = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = make_api(kube=KubeTarget(url=f"http://127.0.0.1:{server.server_address[1]}"))
        assert server.watched.wait(10)  # type: ignore[attr-defined]
        assert api.records() == []  # served from the synced cache
        server.failing.set()  # type: ignore[attr-defined]
        # the watch ends, cannot be reopened: reads go to the API server again, and fail
        wait_for(lambda: api.call("records").status_code == 503, 10,
                 "records to answer 503 once Kubernetes fails")
        expect_503(api, "records", {}, "apiserver is shutting down")
    finally:
        server.failing.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
